use thiserror::Error;

/// Errors of the QnA crate.
#[derive(Debug, Error)]
pub enum QnaError {
    #[error("cannot read knowledge base {path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("invalid question: {0}")]
    InvalidQuery(String),
    #[error("search index: {0}")]
    Index(String),
    #[error("{endpoint} refused the question: {message}")]
    Rejected { endpoint: String, message: String },
    #[error("question answering service unavailable: {0}")]
    Unavailable(String),
    #[error("not supported by this backend: {0}")]
    NotSupported(String),
    #[error(transparent)]
    Encoder(#[from] encoder::EncoderError),
}
