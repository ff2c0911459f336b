use thiserror::Error;

/// Everything a storage backend can fail with. `Conflict` is the expected
/// outcome of optimistic concurrency; `Unavailable` means the dependency is
/// down and the caller should report 503 and let the channel retry.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("eTag conflict on key {key:?}: the document changed since it was read")]
    Conflict { key: String },
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("document for key {key:?} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        key: String,
        size: usize,
        limit: usize,
    },
    #[error("{backend} storage is unavailable: {message}")]
    Unavailable {
        backend: &'static str,
        message: String,
    },
    #[error("{backend} storage failed: {message}")]
    Backend {
        backend: &'static str,
        message: String,
    },
    /// A database, container or account the deployment expects is not
    /// there (infrastructure creates it; the service only uses it).
    #[error("{backend} storage: {resource} does not exist")]
    NotProvisioned {
        backend: &'static str,
        resource: String,
    },
    #[error("stored document for key {key:?} is not valid JSON: {message}")]
    Corrupt { key: String, message: String },
}

impl StorageError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, StorageError::Conflict { .. })
    }
}
