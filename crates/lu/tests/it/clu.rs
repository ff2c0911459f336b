//! The CLU client against a local HTTP server on 127.0.0.1.
//!
//! No CLU emulator exists, so the server here is built from the documented
//! analyze-conversations 2023-04-01 request and response payloads: it checks
//! what the client sends and answers what the service answers. Each test
//! starts its own servers and drops them at the end.

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use failover::{BreakerState, Policy};
use lu::{
    CluConfig, CluEndpoint, CluRecognizer, EmbeddedRecognizer, FallbackRecognizer, IntentsFile,
    LuError, Recognizer,
};
use secrecy::SecretString;
use serde_json::{json, Value};

/// What a fake region answers: 200, an HTTP status, or no answer in time.
const OK: u16 = 200;
const HANG: u16 = 0;

#[derive(Clone, Default)]
struct Fake {
    mode: Arc<AtomicU16>,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
}

async fn handle(State(f): State<Fake>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    f.calls.fetch_add(1, Ordering::SeqCst);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    f.seen
        .lock()
        .unwrap()
        .push((uri.to_string(), headers, body.clone()));
    match f.mode.load(Ordering::SeqCst) {
        OK => {
            let text = body["analysisInput"]["conversationItem"]["text"]
                .as_str()
                .unwrap_or("")
                .to_string();
            // The documented response for a Conversation project.
            axum::Json(json!({
                "kind": "ConversationResult",
                "result": {
                    "query": text,
                    "prediction": {
                        "topIntent": "Escalate",
                        "projectKind": "Conversation",
                        "intents": [
                            {"category": "Help", "confidenceScore": 0.12},
                            {"category": "Escalate", "confidenceScore": 0.91},
                            {"category": "None", "confidenceScore": 0.0}
                        ],
                        "entities": [
                            {"category": "ticketNumber", "text": "INC42", "offset": 14,
                             "length": 5, "confidenceScore": 1}
                        ]
                    }
                }
            }))
            .into_response()
        }
        HANG => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        code => (
            StatusCode::from_u16(code).unwrap(),
            axum::Json(json!({"error": {"code": "Failure", "message": "fake failure"}})),
        )
            .into_response(),
    }
}

/// Starts a fake region; returns its base URL. The server stops with the runtime.
async fn start(fake: &Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(handle).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A port on 127.0.0.1 that refuses connections: bound, then released.
async fn refused() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn policy() -> Policy {
    Policy {
        per_try_timeout: Duration::from_millis(300),
        retries: 1,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(50),
        breaker_failures: 2,
        breaker_cooldown: Duration::from_millis(300),
    }
}

fn client(urls: &[&str]) -> CluRecognizer {
    CluRecognizer::new(
        CluConfig {
            endpoints: urls
                .iter()
                .enumerate()
                .map(|(i, u)| CluEndpoint {
                    url: u.to_string(),
                    key: SecretString::from(format!("secret-key-{i}")),
                })
                .collect(),
            project: "bot-intents".into(),
            deployment: "production".into(),
            policy: policy(),
        },
        bot_http::client(),
    )
    .unwrap()
}

#[tokio::test]
async fn sends_the_documented_request_and_reads_the_documented_response() {
    let fake = Fake::default();
    fake.mode.store(OK, Ordering::SeqCst);
    let url = start(&fake).await;
    let r = client(&[&url])
        .recognize("help! ticket INC42 is stuck", "en-gb")
        .await
        .unwrap();
    assert_eq!(r.top_intent.name, "Escalate");
    assert!((r.top_intent.confidence - 0.91).abs() < 1e-6);
    assert_eq!(
        r.intents[0].name, "Escalate",
        "intents are sorted best first"
    );
    assert_eq!(r.intents.len(), 3);
    assert_eq!(r.entities[0].category, "ticketNumber");
    assert_eq!((r.entities[0].offset, r.entities[0].length), (14, 5));
    assert_eq!(r.recognizer, "clu");
    assert_eq!(r.endpoint.as_deref(), Some(url.as_str()));

    let seen = fake.seen.lock().unwrap();
    let (uri, headers, body) = &seen[0];
    assert_eq!(
        uri,
        "/language/:analyze-conversations?api-version=2023-04-01"
    );
    assert_eq!(headers["ocp-apim-subscription-key"], "secret-key-0");
    assert_eq!(body["kind"], "Conversation");
    let item = &body["analysisInput"]["conversationItem"];
    assert_eq!(item["text"], "help! ticket INC42 is stuck");
    assert_eq!(item["language"], "en-gb");
    assert!(item["id"].is_string() && item["participantId"].is_string());
    assert_eq!(body["parameters"]["projectName"], "bot-intents");
    assert_eq!(body["parameters"]["deploymentName"], "production");
    assert_eq!(body["parameters"]["stringIndexType"], "UnicodeCodePoint");
}

#[tokio::test]
async fn second_region_answers_when_the_first_fails_503_hangs_or_refuses() {
    let good = Fake::default();
    good.mode.store(OK, Ordering::SeqCst);
    let good_url = start(&good).await;
    for first_mode in [503, HANG] {
        let bad = Fake::default();
        bad.mode.store(first_mode, Ordering::SeqCst);
        let bad_url = start(&bad).await;
        let r = client(&[&bad_url, &good_url])
            .recognize("agent please", "en-us")
            .await
            .unwrap();
        assert_eq!(
            r.endpoint.as_deref(),
            Some(good_url.as_str()),
            "mode {first_mode}"
        );
        assert_eq!(r.top_intent.name, "Escalate");
        assert_eq!(
            bad.calls.load(Ordering::SeqCst),
            2,
            "mode {first_mode}: one try and one retry on the first region"
        );
    }
    let refused_url = refused().await;
    let r = client(&[&refused_url, &good_url])
        .recognize("agent please", "en-us")
        .await
        .unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(good_url.as_str()));
    // Each region gets its own key.
    let seen = good.seen.lock().unwrap();
    assert_eq!(
        seen.last().unwrap().1["ocp-apim-subscription-key"],
        "secret-key-1"
    );
}

#[tokio::test]
async fn breaker_opens_on_a_failing_region_and_recovers() {
    let first = Fake::default();
    first.mode.store(503, Ordering::SeqCst);
    let second = Fake::default();
    second.mode.store(OK, Ordering::SeqCst);
    let c = client(&[&start(&first).await, &start(&second).await]);
    c.recognize("agent", "en-us").await.unwrap();
    // Two consecutive failures (try + retry) open the first region's breaker.
    assert_eq!(c.status()[0].state, BreakerState::Open);
    let before = first.calls.load(Ordering::SeqCst);
    c.recognize("agent", "en-us").await.unwrap();
    assert_eq!(
        first.calls.load(Ordering::SeqCst),
        before,
        "an open breaker skips the region"
    );
    first.mode.store(OK, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let r = c.recognize("agent", "en-us").await.unwrap();
    assert_eq!(r.endpoint.as_deref(), Some(c.status()[0].endpoint.as_str()));
    assert_eq!(c.status()[0].state, BreakerState::Closed);
}

#[tokio::test]
async fn rejected_requests_stop_and_do_not_leak_the_key() {
    let first = Fake::default();
    first.mode.store(401, Ordering::SeqCst);
    let second = Fake::default();
    second.mode.store(OK, Ordering::SeqCst);
    let c = client(&[&start(&first).await, &start(&second).await]);
    let e = c.recognize("agent", "en-us").await.unwrap_err();
    assert!(matches!(e, LuError::Rejected(_)), "{e}");
    assert!(e.to_string().contains("401") && !e.to_string().contains("secret-key"));
    assert_eq!(
        second.calls.load(Ordering::SeqCst),
        0,
        "a 401 is not failed over"
    );
}

#[tokio::test]
async fn all_regions_down_falls_back_to_the_embedded_recogniser() {
    let down = Fake::default();
    down.mode.store(503, Ordering::SeqCst);
    let clu = client(&[&start(&down).await, &refused().await]);
    let e = clu.recognize("talk to a human", "en-us").await.unwrap_err();
    assert!(matches!(e, LuError::Unavailable(_)), "{e}");
    let file = IntentsFile::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lu/intents.json"),
    )
    .unwrap();
    let embedded = EmbeddedRecognizer::new(&file, 0.5).unwrap();
    let both = FallbackRecognizer::new(Arc::new(clu), Arc::new(embedded));
    let r = both.recognize("talk to a human", "en-us").await.unwrap();
    assert_eq!(
        (r.recognizer.as_str(), r.top_intent.name.as_str()),
        ("embedded", "Escalate")
    );
}

#[tokio::test]
async fn empty_or_huge_utterances_are_refused_before_any_call() {
    let fake = Fake::default();
    fake.mode.store(OK, Ordering::SeqCst);
    let c = client(&[&start(&fake).await]);
    for text in [
        String::new(),
        "   ".into(),
        "x".repeat(lu::MAX_UTTERANCE_CHARS + 1),
    ] {
        let e = c.recognize(&text, "en-us").await.unwrap_err();
        assert!(matches!(e, LuError::InvalidUtterance(_)), "{e}");
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
}
