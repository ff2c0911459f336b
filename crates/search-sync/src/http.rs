//! What the Search and Language clients share: endpoint checks and sending a
//! request with retries.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Url};

use crate::error::{Result, SyncError};
use crate::retry::{is_retriable_status, RetryPolicy};

/// A service endpoint. HTTPS only, except on the loopback interface (local
/// test servers): the API key travels in a header and must not go in clear.
pub fn parse_endpoint(s: &str) -> Result<Url> {
    let mut url = Url::parse(s.trim())
        .map_err(|e| SyncError::Invalid(format!("endpoint {s:?} is not a URL: {e}")))?;
    let loopback = matches!(
        url.host_str(),
        Some("127.0.0.1") | Some("localhost") | Some("[::1]")
    );
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        other => {
            return Err(SyncError::Invalid(format!(
                "endpoint {s:?}: scheme {other:?} is not allowed, use https"
            )))
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SyncError::Invalid(format!(
            "endpoint {s:?} must not carry a query or fragment"
        )));
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}

/// Whether `url` points at the same origin as `endpoint`, so the key may be
/// sent to it (Operation-Location and resultUrl come from the service).
pub fn same_origin(endpoint: &Url, url: &Url) -> bool {
    endpoint.scheme() == url.scheme()
        && endpoint.host_str() == url.host_str()
        && endpoint.port_or_known_default() == url.port_or_known_default()
}

pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Response {
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| SyncError::Protocol {
            what: what.to_string(),
            message: format!("body is not the documented JSON: {e}"),
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The service's error message, from the documented `{"error":{"message"}}`
/// envelope when present, else the start of the body.
pub fn error_message(body: &[u8]) -> String {
    let parsed: Option<String> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        });
    parsed.unwrap_or_else(|| {
        let s = String::from_utf8_lossy(body);
        s.chars().take(300).collect()
    })
}

/// Send `build()` until it gets a non-retriable answer. Returns responses
/// with any status below 400 (and the 4xx/5xx ones the caller lists in
/// `accept`), turns the others into typed errors.
pub async fn send(
    what: &str,
    policy: &RetryPolicy,
    accept: &[u16],
    build: impl Fn() -> RequestBuilder,
) -> Result<Response> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = match build().send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                match resp.bytes().await {
                    Ok(body) => Ok(Response {
                        status,
                        headers,
                        body,
                    }),
                    Err(e) => Err(format!("reading the body: {e}")),
                }
            }
            Err(e) => Err(transport_message(&e)),
        };
        let (last, headers) = match outcome {
            Ok(r) if r.status < 400 || accept.contains(&r.status) => return Ok(r),
            Ok(r) if is_retriable_status(r.status) => (
                format!("HTTP {}: {}", r.status, error_message(&r.body)),
                Some(r.headers),
            ),
            Ok(r) => {
                return Err(SyncError::Http {
                    what: what.to_string(),
                    status: r.status,
                    message: error_message(&r.body),
                })
            }
            Err(message) => (message, None),
        };
        if attempt >= policy.max_attempts {
            return Err(SyncError::RetriesExhausted {
                what: what.to_string(),
                attempts: attempt,
                last,
            });
        }
        tokio::time::sleep(policy.delay(attempt, headers.as_ref())).await;
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    // reqwest's Display for a request error includes the URL; ours carry no
    // secrets in the URL (the key is a header), so it is safe to show.
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

pub fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    bot_http::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SyncError::Invalid(format!("cannot build the HTTP client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_unless_loopback() {
        assert_eq!(
            parse_endpoint("https://x.search.windows.net")
                .unwrap()
                .as_str(),
            "https://x.search.windows.net/"
        );
        assert!(parse_endpoint("http://127.0.0.1:9000").is_ok());
        assert!(parse_endpoint("http://example.com").is_err());
        assert!(parse_endpoint("ftp://127.0.0.1").is_err());
        assert!(parse_endpoint("not a url").is_err());
        assert!(parse_endpoint("https://x.net/?api-key=1").is_err());
    }

    #[test]
    fn same_origin_compares_scheme_host_port() {
        let e = Url::parse("https://a.net/").unwrap();
        assert!(same_origin(&e, &Url::parse("https://a.net:443/x").unwrap()));
        assert!(!same_origin(&e, &Url::parse("https://b.net/x").unwrap()));
        assert!(!same_origin(&e, &Url::parse("http://a.net/x").unwrap()));
    }
}
