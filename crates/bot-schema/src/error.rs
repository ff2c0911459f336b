use thiserror::Error;

/// Errors of the protocol crate: building or sending Connector requests.
#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("activity has no {0}")]
    MissingField(&'static str),
    #[error("invalid serviceUrl {url:?}: {reason}")]
    InvalidServiceUrl { url: String, reason: String },
    #[error("could not get a token for the Connector: {0}")]
    Credentials(String),
    #[error("Connector request to {url} failed: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("could not encode the request body: {0}")]
    Encode(String),
    #[error("Connector at {url} answered with a body that is not {expected}: {reason}")]
    Decode {
        url: String,
        expected: &'static str,
        reason: String,
    },
    #[error("Connector at {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
        /// The channel's `Retry-After`, for 429 and 503.
        retry_after: Option<std::time::Duration>,
    },
}

impl SchemaError {
    /// The channel's HTTP status, when it answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            SchemaError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
