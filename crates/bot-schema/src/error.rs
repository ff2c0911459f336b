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
    #[error("Connector at {url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
        /// The channel's `Retry-After`, for 429 and 503.
        retry_after: Option<std::time::Duration>,
    },
}
