use thiserror::Error;

/// Errors of the language-understanding crate.
#[derive(Debug, Error)]
pub enum LuError {
    /// The utterance cannot be recognised as given (empty, too long).
    #[error("invalid utterance: {0}")]
    InvalidUtterance(String),
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    /// An intents file or an app export that does not have the expected shape.
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("building the intent index: {0}")]
    Index(String),
    /// CLU refused the request (bad key, unknown project): every region
    /// would say the same.
    #[error("CLU rejected the request: {0}")]
    Rejected(String),
    /// No CLU endpoint answered.
    #[error("CLU unavailable: {0}")]
    Unavailable(String),
    #[error("configuration: {0}")]
    Config(String),
}
