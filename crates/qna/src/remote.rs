//! What the CQA and QnA Maker clients share: one try against one endpoint
//! through reqwest, classified for `failover`, and the mapping of failover
//! errors into `QnaError`.

use std::time::Duration;

use failover::{parse_retry_after, Failover, FailoverError, TryError};
use serde::de::DeserializeOwned;

use crate::answerer::{QnaAnswer, QnaQuery};
use crate::error::QnaError;

/// Where a remote backend is and how it fails over.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// Ordered: this region's endpoint first, the paired region's second.
    pub endpoints: Vec<String>,
    /// The key for every endpoint, unless `endpoint_keys` names one.
    pub key: secrecy::SecretString,
    /// Per-endpoint keys, in `endpoints` order: two regional resources have
    /// two keys. Empty: `key` everywhere.
    pub endpoint_keys: Vec<secrecy::SecretString>,
    pub policy: failover::Policy,
}

impl RemoteSettings {
    /// Endpoint -> the key to send to it.
    pub(crate) fn keys_by_endpoint(
        &self,
    ) -> Result<std::collections::HashMap<String, secrecy::SecretString>, QnaError> {
        if !self.endpoint_keys.is_empty() && self.endpoint_keys.len() != self.endpoints.len() {
            return Err(QnaError::Unavailable(format!(
                "{} endpoint keys for {} endpoints: give one per endpoint, in order, or none",
                self.endpoint_keys.len(),
                self.endpoints.len()
            )));
        }
        Ok(self
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let key = self.endpoint_keys.get(i).unwrap_or(&self.key).clone();
                (e.clone(), key)
            })
            .collect())
    }
}

/// Sends one request and reads the JSON answer; statuses are sorted into
/// retry here / go to the next region / stop.
pub(crate) async fn try_json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, TryError<String>> {
    let response = request.send().await.map_err(|e| {
        if e.is_connect() || e.is_request() {
            TryError::Unreachable(format!("cannot connect: {e}"))
        } else {
            TryError::Retryable {
                error: format!("request failed: {e}"),
                retry_after: None,
            }
        }
    })?;
    let status = response.status();
    if status.is_success() {
        return response.json::<T>().await.map_err(|e| TryError::Retryable {
            error: format!("unreadable answer: {e}"),
            retry_after: None,
        });
    }
    let retry_after = ["retry-after-ms", "x-ms-retry-after-ms", "retry-after"]
        .iter()
        .find_map(|name| {
            response
                .headers()
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(name, v))
        });
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    let error = format!("HTTP {}: {}", status.as_u16(), body.trim());
    if status.as_u16() == 429 || status.is_server_error() {
        Err(TryError::Retryable { error, retry_after })
    } else {
        Err(TryError::Fatal(error))
    }
}

pub(crate) fn map_failover(e: FailoverError<String>) -> QnaError {
    match e {
        FailoverError::Fatal { endpoint, source } => QnaError::Rejected {
            endpoint,
            message: source,
        },
        other => QnaError::Unavailable(other.to_string()),
    }
}

pub(crate) fn http_client() -> Result<reqwest::Client, QnaError> {
    // No overall timeout here: the failover policy times each try.
    bot_http::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| QnaError::Unavailable(format!("building the HTTP client: {e}")))
}

pub(crate) fn join(endpoint: &str, path: &str) -> String {
    format!("{}{}", endpoint.trim_end_matches('/'), path)
}

/// Ready while some endpoint's breaker lets calls through.
pub(crate) fn ready(failover: &Failover, service: &str) -> Result<(), QnaError> {
    if failover.any_available() {
        Ok(())
    } else {
        Err(QnaError::Unavailable(format!(
            "every {service} endpoint's circuit is open"
        )))
    }
}

/// The query's threshold and top, applied to what a service answered.
pub(crate) fn limit(answers: impl Iterator<Item = QnaAnswer>, query: &QnaQuery) -> Vec<QnaAnswer> {
    answers
        .filter(|a| a.confidence >= query.score_threshold)
        .take(query.top.max(1))
        .collect()
}
