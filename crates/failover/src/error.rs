use std::convert::Infallible;
use std::time::Duration;

/// How one try against one endpoint went, as the caller's closure sees it.
#[derive(Debug)]
pub enum TryError<E> {
    /// Throttled (429) or a server error (5xx): worth another try, after
    /// `retry_after` when the server said so.
    Retryable {
        error: E,
        retry_after: Option<Duration>,
    },
    /// Connection refused, DNS failure, TLS failure: go to the next endpoint.
    Unreachable(E),
    /// The request itself is wrong (400, 401, 404...): every region would
    /// say the same, so stop.
    Fatal(E),
}

/// One failed or skipped try, for the error that says why nothing answered.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub endpoint: String,
    pub outcome: String,
}

/// Errors of the failover crate. `E` is the caller's per-try error.
#[derive(Debug, thiserror::Error)]
pub enum FailoverError<E = Infallible>
where
    E: std::fmt::Display,
{
    #[error("no endpoints configured")]
    NoEndpoints,
    #[error("{endpoint}: {source}")]
    Fatal { endpoint: String, source: E },
    #[error("every endpoint failed: {}", describe(.attempts))]
    AllFailed { attempts: Vec<AttemptRecord> },
}

fn describe(attempts: &[AttemptRecord]) -> String {
    attempts
        .iter()
        .map(|a| format!("{} ({})", a.endpoint, a.outcome))
        .collect::<Vec<_>>()
        .join("; ")
}
