//! The one error type of this crate, and the exit code each kind maps to.

use thiserror::Error;

/// Exit codes shared by `botctl index` and `botctl kb sync`, so a scheduler
/// can tell "the regions differ" from "the tool could not do its job".
pub mod exit {
    /// Done; for diff/verify: the two sides are equal.
    pub const OK: u8 = 0;
    /// Diff or verify found a difference.
    pub const DIFFERENT: u8 = 1;
    /// Bad input: arguments, a backup file, an index definition we cannot page.
    pub const INVALID: u8 = 2;
    /// A dependency failed: a service, the network, the local disk.
    pub const UNAVAILABLE: u8 = 3;
    /// The run finished but some documents could not be written.
    pub const PARTIAL: u8 = 4;
}

#[derive(Debug, Error)]
pub enum SyncError {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("index {index}: {message}")]
    Schema { index: String, message: String },
    #[error("{path}:{line}: {message}")]
    BackupFormat {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{what}: HTTP {status}: {message}")]
    Http {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: {message}")]
    Transport { what: String, message: String },
    #[error("{what}: gave up after {attempts} attempts, last: {last}")]
    RetriesExhausted {
        what: String,
        attempts: u32,
        last: String,
    },
    #[error("{what}: unexpected response: {message}")]
    Protocol { what: String, message: String },
    #[error("{what}: the job ended {status}: {message}")]
    Job {
        what: String,
        status: String,
        message: String,
    },
    #[error("{count} document(s) could not be written, first: {first}")]
    DocumentsFailed {
        count: usize,
        keys: Vec<String>,
        first: String,
    },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl SyncError {
    pub fn exit_code(&self) -> u8 {
        match self {
            SyncError::Invalid(_) | SyncError::Schema { .. } | SyncError::BackupFormat { .. } => {
                exit::INVALID
            }
            SyncError::DocumentsFailed { .. } => exit::PARTIAL,
            SyncError::Http { status, .. } if (400..500).contains(status) && *status != 429 => {
                // 401/403/404 from a service are configuration errors on our
                // side (wrong key, wrong index name), not outages.
                exit::INVALID
            }
            _ => exit::UNAVAILABLE,
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> Self {
        SyncError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

pub type Result<T, E = SyncError> = std::result::Result<T, E>;
