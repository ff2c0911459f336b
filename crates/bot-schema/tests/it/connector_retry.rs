//! The Connector client against a local channel endpoint that fails the way
//! channels do: 503 and 429 with `Retry-After` are tried again, a refused
//! token is refreshed once, any other 4xx is final, and the whole is
//! bounded by the budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bot_schema::{
    Activity, ConnectorClient, ConversationAccount, CredentialProvider, RetryPolicy, SchemaError,
    Verdict,
};
use secrecy::SecretString;

/// Answers the n-th POST (0-based) with `script[n]`, the last entry after that.
async fn channel(script: Vec<(u16, Option<&'static str>)>) -> (String, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (script, count) = (Arc::new(script), Arc::new(AtomicUsize::new(0)));
    let app = axum::Router::new().fallback(axum::routing::post({
        let seen = seen.clone();
        move |headers: HeaderMap| async move {
            seen.lock().unwrap().push(headers);
            let n = count.fetch_add(1, Ordering::SeqCst);
            let (status, retry_after) = script[n.min(script.len() - 1)];
            let mut resp: Response =
                (StatusCode::from_u16(status).unwrap(), r#"{"id":"r1"}"#).into_response();
            if let Some(ra) = retry_after {
                resp.headers_mut()
                    .insert("retry-after", ra.parse().unwrap());
            }
            resp
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// Hands out "t1", then "t2" after each invalidation.
#[derive(Default)]
struct Tokens {
    generation: AtomicUsize,
    invalidated: AtomicUsize,
}

#[async_trait]
impl CredentialProvider for Tokens {
    async fn token(&self, _: &str) -> Result<Option<SecretString>, SchemaError> {
        let g = self.generation.load(Ordering::SeqCst) + 1;
        Ok(Some(SecretString::from(format!("t{g}"))))
    }
    async fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

fn reply(service_url: &str) -> Activity {
    Activity {
        kind: Some("message".into()),
        service_url: Some(service_url.into()),
        conversation: Some(ConversationAccount {
            id: Some("c1".into()),
            ..Default::default()
        }),
        reply_to_id: Some("a1".into()),
        ..Default::default()
    }
}

fn policy(budget_ms: u64) -> RetryPolicy {
    RetryPolicy {
        budget: Duration::from_millis(budget_ms),
        per_try_timeout: Duration::from_millis(500),
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

async fn send(url: &str, tokens: Arc<Tokens>, p: RetryPolicy) -> Result<(), SchemaError> {
    let client = ConnectorClient::new(bot_http::client(), tokens);
    client
        .send(&reply(url), &p, Instant::now() + p.budget)
        .await
        .map(drop)
}

fn auth(h: &HeaderMap) -> &str {
    h.get("authorization").unwrap().to_str().unwrap()
}

#[tokio::test]
async fn unavailable_and_throttled_replies_are_tried_again() {
    let (url, seen) = channel(vec![(503, None), (429, Some("1")), (200, None)]).await;
    send(&url, Arc::default(), policy(5_000)).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_retry_after_past_the_budget_ends_the_tries() {
    let (url, seen) = channel(vec![(429, Some("30")), (200, None)]).await;
    let err = send(&url, Arc::default(), policy(2_000)).await.unwrap_err();
    assert!(matches!(err.verdict(), Verdict::Retry(Some(_))), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 1, "waited past the budget");
}

#[tokio::test]
async fn other_client_errors_are_final() {
    let (url, seen) = channel(vec![(400, None), (200, None)]).await;
    let err = send(&url, Arc::default(), policy(5_000)).await.unwrap_err();
    assert_eq!(err.verdict(), Verdict::Final);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once() {
    let tokens = Arc::new(Tokens::default());
    let (url, seen) = channel(vec![(401, None), (200, None)]).await;
    send(&url, tokens.clone(), policy(5_000)).await.unwrap();
    let auths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|h| auth(h).to_string())
        .collect();
    assert_eq!(auths, ["Bearer t1", "Bearer t2"]);
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);

    // Refused again with the new token: final, not a loop.
    let (url, seen) = channel(vec![(401, None)]).await;
    let err = send(&url, Arc::new(Tokens::default()), policy(5_000))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::Status { status: 401, .. }));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_channel_that_stays_down_fails_within_the_budget_as_retryable() {
    // Nothing listens here: every try is a refused connection.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = send(
        &format!("http://127.0.0.1:{port}/"),
        Arc::default(),
        policy(300),
    )
    .await
    .unwrap_err();
    assert_eq!(err.verdict(), Verdict::Retry(None));
}
