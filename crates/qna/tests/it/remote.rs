//! The CQA and QnA Maker clients, and regional failover, against local
//! servers. No emulator of either service exists, so these servers are
//! built from the documented request and response payloads (Language REST
//! reference "Question Answering - Get Answers", and the QnA Maker v4
//! "Runtime - Generate Answer" reference): they check the key header and the
//! body's shape and answer with the documented JSON.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use qna::{
    Answerer, CqaClient, EmbeddedAnswerer, MetadataFilter, QnaContext, QnaError, QnaMakerClient,
    QnaQuery, RemoteSettings, WithFallback,
};
use serde_json::{json, Value};

const OK: u8 = 0;
const FAIL_503: u8 = 1;
const SLOW: u8 = 2;
const THROTTLE: u8 = 3;

struct Region {
    name: &'static str,
    mode: AtomicU8,
    hits: AtomicU32,
    last_body: std::sync::Mutex<Value>,
}

async fn misbehave(r: &Region) -> Option<Response> {
    r.hits.fetch_add(1, Ordering::SeqCst);
    match r.mode.load(Ordering::SeqCst) {
        FAIL_503 => Some((StatusCode::SERVICE_UNAVAILABLE, "region down").into_response()),
        THROTTLE => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "30")],
                "slow down",
            )
                .into_response(),
        ),
        SLOW => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            None
        }
        _ => None,
    }
}

async fn cqa(
    State(r): State<Arc<Region>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(resp) = misbehave(&r).await {
        return resp;
    }
    if headers
        .get("ocp-apim-subscription-key")
        .and_then(|v| v.to_str().ok())
        != Some("cqa-key")
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key"}}))).into_response();
    }
    if q.get("projectName").map(String::as_str) != Some("faq")
        || q.get("deploymentName").map(String::as_str) != Some("production")
        || q.get("api-version").map(String::as_str) != Some("2021-10-01")
    {
        return (StatusCode::BAD_REQUEST, "bad query string").into_response();
    }
    *r.last_body.lock().unwrap() = body.clone();
    Json(json!({"answers": [
        {"questions": ["How do I reset my password?"], "answer": format!("Use the portal ({}).", r.name),
         "confidenceScore": 0.87, "id": 12, "source": "Editorial",
         "metadata": {"topic": "account"},
         "dialog": {"isContextOnly": false, "prompts": [{"displayOrder": 1, "qnaId": 13, "displayText": "Work account"}]}},
        {"questions": [], "answer": "No answer found", "confidenceScore": 0.0, "id": -1, "metadata": {}, "dialog": {"isContextOnly": false, "prompts": []}}
    ]}))
    .into_response()
}

async fn qnamaker(
    State(r): State<Arc<Region>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(resp) = misbehave(&r).await {
        return resp;
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("EndpointKey qm-key") {
        return (StatusCode::UNAUTHORIZED, "bad key").into_response();
    }
    *r.last_body.lock().unwrap() = body.clone();
    Json(json!({"answers": [
        {"questions": ["hi"], "answer": format!("Hello from {}.", r.name), "score": 91.5, "id": 3,
         "source": "Editorial", "metadata": [{"name": "editorial", "value": "chitchat"}],
         "context": {"isContextOnly": false, "prompts": [{"displayOrder": 0, "qnaId": 4, "qna": null, "displayText": "More"}]}}
    ], "activeLearningEnabled": false}))
    .into_response()
}

async fn start(name: &'static str) -> (String, Arc<Region>) {
    let region = Arc::new(Region {
        name,
        mode: AtomicU8::new(OK),
        hits: AtomicU32::new(0),
        last_body: std::sync::Mutex::new(Value::Null),
    });
    let app = Router::new()
        .without_v07_checks()
        .route("/language/:query-knowledgebases", post(cqa))
        .route(
            "/qnamaker/knowledgebases/kb1/generateAnswer",
            post(qnamaker),
        )
        .with_state(region.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, region)
}

/// A port nothing listens on: connections are refused.
async fn refused() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

fn settings(endpoints: Vec<String>, key: &str) -> RemoteSettings {
    RemoteSettings {
        endpoints,
        key: key.to_string().into(),
        endpoint_keys: Vec::new(),
        policy: failover::Policy {
            per_try_timeout: Duration::from_millis(300),
            retries: 1,
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_millis(500),
            breaker_failures: 2,
            breaker_cooldown: Duration::from_millis(300),
        },
    }
}

fn cqa_client(endpoints: Vec<String>) -> CqaClient {
    CqaClient::new(
        settings(endpoints, "cqa-key"),
        "faq".into(),
        "production".into(),
    )
    .unwrap()
}

#[tokio::test]
async fn cqa_client_speaks_the_documented_api() {
    let (a, ra) = start("east").await;
    let client = cqa_client(vec![a.clone()]);
    let mut q = QnaQuery::new("reset password");
    q.context = Some(QnaContext {
        previous_qna_id: Some(5),
        previous_user_query: Some("account".into()),
    });
    q.filter = Some(MetadataFilter {
        pairs: vec![("topic".into(), "account".into())],
        all: false,
    });
    let answers = client.answer(&q).await.unwrap();
    assert_eq!(answers.len(), 1, "the id -1 'no answer' entry is dropped");
    assert_eq!(answers[0].id, 12);
    assert_eq!(answers[0].answer, "Use the portal (east).");
    assert!((answers[0].confidence - 0.87).abs() < 1e-6);
    assert_eq!(answers[0].prompts[0].qna_id, 13);
    assert_eq!(answers[0].served_by.backend, "cqa");
    assert_eq!(answers[0].served_by.endpoint.as_deref(), Some(a.as_str()));
    let body = ra.last_body.lock().unwrap().clone();
    assert_eq!(body["question"], "reset password");
    assert_eq!(body["context"]["previousQnaId"], 5);
    assert_eq!(
        body["filters"]["metadataFilter"]["metadata"][0]["key"],
        "topic"
    );
    assert_eq!(body["filters"]["metadataFilter"]["logicalOperation"], "OR");

    // A wrong key is the caller's fault: no failover, a typed error.
    let bad = CqaClient::new(
        settings(vec![a], "wrong"),
        "faq".into(),
        "production".into(),
    )
    .unwrap();
    match bad.answer(&QnaQuery::new("hi")).await {
        Err(QnaError::Rejected { message, .. }) => assert!(message.contains("401"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn qnamaker_client_normalises_scores_and_reads_prompts() {
    let (a, ra) = start("east").await;
    let client = QnaMakerClient::new(settings(vec![a.clone()], "qm-key"), "kb1".into()).unwrap();
    let mut q = QnaQuery::new("hi");
    q.score_threshold = 0.3;
    q.filter = Some(MetadataFilter {
        pairs: vec![("editorial".into(), "chitchat".into())],
        all: true,
    });
    let answers = client.answer(&q).await.unwrap();
    assert!((answers[0].confidence - 0.915).abs() < 1e-6);
    assert_eq!(answers[0].prompts[0].display_text, "More");
    assert_eq!(answers[0].metadata["editorial"], "chitchat");
    assert_eq!(answers[0].served_by.backend, "qnamaker");
    let body = ra.last_body.lock().unwrap().clone();
    assert_eq!(body["scoreThreshold"], 30.0);
    assert_eq!(body["strictFilters"][0]["name"], "editorial");
    assert_eq!(body["strictFiltersCompoundOperationType"], "AND");
}

#[tokio::test]
async fn first_region_503_timeout_or_refused_then_second_answers() {
    for mode in [FAIL_503, SLOW, THROTTLE] {
        let (a, ra) = start("east").await;
        let (b, _) = start("west").await;
        ra.mode.store(mode, Ordering::SeqCst);
        let client = cqa_client(vec![a, b.clone()]);
        let answers = client
            .answer(&QnaQuery::new("reset password"))
            .await
            .unwrap();
        assert_eq!(answers[0].answer, "Use the portal (west).", "mode {mode}");
        assert_eq!(answers[0].served_by.endpoint.as_deref(), Some(b.as_str()));
    }
    let (b, _) = start("west").await;
    let client =
        QnaMakerClient::new(settings(vec![refused().await, b], "qm-key"), "kb1".into()).unwrap();
    let answers = client.answer(&QnaQuery::new("hi")).await.unwrap();
    assert_eq!(answers[0].answer, "Hello from west.");
}

#[tokio::test]
async fn breaker_opens_and_recovers() {
    let (a, ra) = start("east").await;
    let (b, _) = start("west").await;
    ra.mode.store(FAIL_503, Ordering::SeqCst);
    let client = cqa_client(vec![a, b]);
    // 503, retried once: two failures open east's breaker.
    client.answer(&QnaQuery::new("q")).await.unwrap();
    let hits = ra.hits.load(Ordering::SeqCst);
    assert_eq!(hits, 2);
    let answers = client.answer(&QnaQuery::new("q")).await.unwrap();
    assert!(answers[0].answer.contains("west"));
    assert_eq!(
        ra.hits.load(Ordering::SeqCst),
        hits,
        "open breaker: east is skipped"
    );
    // East comes back; after the cool-down one probe goes there and it serves again.
    ra.mode.store(OK, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let answers = client.answer(&QnaQuery::new("q")).await.unwrap();
    assert!(answers[0].answer.contains("east"), "{}", answers[0].answer);
    assert_eq!(
        client.failover().status()[0].state,
        failover::BreakerState::Closed
    );
}

#[tokio::test]
async fn everything_down_then_the_embedded_kb_answers() {
    let (a, ra) = start("east").await;
    ra.mode.store(FAIL_503, Ordering::SeqCst);
    let client: Arc<dyn Answerer> = Arc::new(cqa_client(vec![a, refused().await]));
    match client.answer(&QnaQuery::new("reset password")).await {
        Err(QnaError::Unavailable(m)) => assert!(m.contains("every endpoint failed"), "{m}"),
        other => panic!("{other:?}"),
    }
    let kb = qna::import::parse_tsv(
        "Question\tAnswer\nHow do I reset my password?\tUse the self-service portal.\nWho are you?\tA bot.\n",
        "local.tsv",
    )
    .unwrap();
    let local: Arc<dyn Answerer> = Arc::new(EmbeddedAnswerer::new(kb).unwrap());
    let both = WithFallback::new(client, local);
    let answers = both
        .answer(&QnaQuery::new("how do i reset my password"))
        .await
        .unwrap();
    assert_eq!(answers[0].answer, "Use the self-service portal.");
    assert_eq!(answers[0].served_by.backend, "embedded");
    assert!(both.ready().await.is_ok());
}
