//! Telemetry from the real binary: OTLP spans and metrics reach a collector,
//! and the continuous export writes the botbuilder events as NDJSON.
//!
//! There is no OpenTelemetry Collector here: the test starts its own OTLP/HTTP
//! receiver on 127.0.0.1, built from the documented payloads
//! (ExportTraceServiceRequest / ExportMetricsServiceRequest, protobuf over
//! POST /v1/traces and /v1/metrics).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Router;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{json, Value};

use crate::support::*;

#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
}

/// A minimal OTLP/HTTP receiver: decodes what the bot POSTs, answers 200.
struct OtlpReceiver {
    base: String,
    received: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl OtlpReceiver {
    async fn start() -> Self {
        async fn collect(
            State(r): State<Arc<Mutex<Received>>>,
            uri: Uri,
            body: Bytes,
        ) -> StatusCode {
            let mut r = r.lock().unwrap();
            match uri.path() {
                "/v1/traces" => match ExportTraceServiceRequest::decode(body) {
                    Ok(req) => r.traces.push(req),
                    Err(_) => return StatusCode::BAD_REQUEST,
                },
                "/v1/metrics" => match ExportMetricsServiceRequest::decode(body) {
                    Ok(req) => r.metrics.push(req),
                    Err(_) => return StatusCode::BAD_REQUEST,
                },
                _ => return StatusCode::NOT_FOUND,
            }
            StatusCode::OK
        }
        let received = Arc::new(Mutex::new(Received::default()));
        let app = Router::new()
            .fallback(axum::routing::post(collect))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            received,
            task,
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

fn resource_attr<'a>(r: &'a Option<Resource>, key: &str) -> Option<&'a str> {
    attr(&r.as_ref()?.attributes, key)
}

/// Polls `done` until it holds, up to a generous limit (a wait, not a timing
/// assertion: the export interval in these tests is 100 ms).
async fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

#[tokio::test]
async fn a_turn_is_one_trace_with_region_and_child_spans_and_metrics_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = OtlpReceiver::start().await;
    let channel = ChannelServer::start().await;
    let config_dir = config_with_region(dir.path(), "otel-test-1");
    let bot = BotProcess::start(
        dir.path(),
        &[
            ("BOT_REGION", "otel-test-1"),
            ("BOT_CONFIG_DIR", &config_dir),
            ("BOT__QNA__KB_PATH", "kb/sample.tsv"),
            ("BOT__TELEMETRY__OTLP_ENDPOINT", &receiver.base),
            ("BOT__TELEMETRY__EXPORT_INTERVAL_MS", "100"),
        ],
    );
    let mut activity = message("otel-m1", "conv-otel", "u1", "How do I reset my password?");
    activity["serviceUrl"] = json!(channel.url);
    let resp = post(&bot, &activity).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(channel.take().len(), 1, "one reply sent to the channel");

    let wanted = [
        "turn",
        "auth",
        "state.read",
        "answer",
        "state.write",
        "replies",
    ];
    let complete = wait_for(|| {
        let r = receiver.received.lock().unwrap();
        let names: Vec<String> = r
            .traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.name.clone())
            .collect();
        wanted.iter().all(|w| names.iter().any(|n| n == w))
    })
    .await;
    let instance = check_turn_trace(&receiver, complete, &wanted, &bot);

    // Metrics: the turn counter, with the same resource.
    let got_metrics = wait_for(|| {
        let r = receiver.received.lock().unwrap();
        r.metrics
            .iter()
            .flat_map(|m| &m.resource_metrics)
            .any(|rm| {
                resource_attr(&rm.resource, "cloud.region") == Some("otel-test-1")
                    && resource_attr(&rm.resource, "service.instance.id") == Some(&instance)
                    && rm
                        .scope_metrics
                        .iter()
                        .flat_map(|sm| &sm.metrics)
                        .any(|m| m.name == "bot.turns")
            })
    })
    .await;
    let names: Vec<String> = receiver
        .received
        .lock()
        .unwrap()
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| m.name.clone())
        .collect();
    assert!(got_metrics, "metrics seen: {names:?}");
    for m in [
        "bot.turn.duration",
        "bot.qna.answers",
        "bot.dependency.health",
        "bot.draining",
    ] {
        assert!(names.iter().any(|n| n == m), "{m} missing from {names:?}");
    }
}

/// The turn's trace: every span under the region's resource, `turn` the root,
/// the others its descendants. Returns the instance id it names.
fn check_turn_trace(
    receiver: &OtlpReceiver,
    complete: bool,
    wanted: &[&str],
    bot: &BotProcess,
) -> String {
    let r = receiver.received.lock().unwrap();
    let all: Vec<_> = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| {
            rs.scope_spans
                .iter()
                .flat_map(|ss| &ss.spans)
                .map(move |s| (&rs.resource, s))
        })
        .collect();
    assert!(
        complete,
        "spans seen: {:?}; logs: {:#?}",
        all.iter().map(|(_, s)| &s.name).collect::<Vec<_>>(),
        bot.logs()
    );
    let (turn_resource, turn) = all.iter().find(|(_, s)| s.name == "turn").unwrap();
    assert!(
        turn.parent_span_id.is_empty(),
        "the turn span is a trace root"
    );
    assert_eq!(attr(&turn.attributes, "activity.type"), Some("message"));
    for (resource, span) in &all {
        assert_eq!(resource_attr(resource, "cloud.region"), Some("otel-test-1"));
        assert_eq!(resource_attr(resource, "service.name"), Some("bot-api"));
        assert!(resource_attr(resource, "service.instance.id").is_some_and(|i| !i.is_empty()));
        if wanted.contains(&span.name.as_str()) {
            assert_eq!(
                span.trace_id, turn.trace_id,
                "{} in the turn's trace",
                span.name
            );
        }
    }
    let instance = resource_attr(turn_resource, "service.instance.id").unwrap();
    for child in ["auth", "state.read", "answer", "state.write", "replies"] {
        let (_, s) = all.iter().find(|(_, s)| s.name == child).unwrap();
        assert!(!s.parent_span_id.is_empty(), "{child} has a parent");
    }
    let turn_children: Vec<&str> = all
        .iter()
        .filter(|(_, s)| s.parent_span_id == turn.span_id)
        .map(|(_, s)| s.name.as_str())
        .collect();
    assert!(
        turn_children.contains(&"auth") && turn_children.contains(&"replies"),
        "{turn_children:?}"
    );
    instance.to_string()
}

/// Reads every exported NDJSON line under `root`, with the file it came from.
fn exported(root: &Path) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ndjson") {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                for line in std::fs::read_to_string(&p).unwrap().lines() {
                    out.push((rel.clone(), serde_json::from_str(line).unwrap()));
                }
            }
        }
    }
    out
}

async fn export_run(personal: bool) -> Vec<(String, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let export_dir = dir.path().join("telemetry");
    let channel = ChannelServer::start().await;
    let export = export_dir.display().to_string();
    let pii = personal.to_string();
    let bot = BotProcess::start(
        dir.path(),
        &[
            ("BOT__TELEMETRY__EXPORT_DIR", &export),
            ("BOT__TELEMETRY__EXPORT_FLUSH_MS", "100"),
            ("BOT__TELEMETRY__LOG_PERSONAL_INFORMATION", &pii),
        ],
    );
    let mut activity = message("exp-m1", "conv-exp", "u1", "How do I reset my password?");
    activity["from"]["name"] = json!("Alice Example");
    activity["serviceUrl"] = json!(channel.url);
    assert_eq!(post(&bot, &activity).await.status(), 200);
    let done = wait_for(|| exported(&export_dir).len() >= 3).await;
    let lines = exported(&export_dir);
    assert!(done, "exported: {lines:?}; logs: {:#?}", bot.logs());
    lines
}

fn event<'a>(lines: &'a [(String, Value)], name: &str) -> &'a Value {
    &lines
        .iter()
        .find(|(_, l)| l["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
        .1
}

#[tokio::test]
async fn export_writes_botbuilder_events_without_personal_data_by_default() {
    let lines = export_run(false).await;
    let names: Vec<&str> = lines
        .iter()
        .filter_map(|(_, l)| l["name"].as_str())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for (file, line) in &lines {
        // {region}/{yyyy}/{mm}/{dd}/{hh}/{instance}-{seq}.ndjson
        let parts: Vec<&str> = file.split('/').collect();
        assert_eq!(parts.len(), 6, "{file}");
        assert_eq!(parts[0], "local");
        assert_eq!(parts[1].len(), 4);
        assert!(parts[5].ends_with(".ndjson"));
        assert_eq!(line["region"], "local");
        assert_eq!(line["conversationId"], "conv-exp");
        let text = line.to_string();
        assert!(!text.contains("Alice Example"), "user name leaked: {text}");
        if line["name"] != "QnaMessage" {
            // (QnaMessage names the KB's matched question, which this text is.)
            assert!(
                !text.contains("reset my password"),
                "user text leaked: {text}"
            );
            assert!(
                !text.contains("Which account"),
                "message text logged: {text}"
            );
        }
    }
    let received = event(&lines, "BotMessageReceived");
    assert_eq!(received["properties"]["fromId"], "u1");
    assert_eq!(received["properties"]["recipientId"], "bot-1");
    assert_eq!(received["properties"]["locale"], "en-US");
    assert!(received["properties"].get("text").is_none());
    assert!(received["properties"].get("fromName").is_none());
    let qna = event(&lines, "QnaMessage");
    assert_eq!(qna["properties"]["knowledgeBaseId"], "sample");
    assert_eq!(qna["properties"]["articleFound"], "true");
    assert_eq!(qna["properties"]["answer"], "Which account is it for?");
    assert!(qna["metrics"]["score"].as_f64().unwrap() > 0.5);
    assert!(qna["properties"].get("question").is_none());
    assert!(qna["properties"].get("username").is_none());
    let sent = event(&lines, "BotMessageSend");
    assert_eq!(sent["properties"]["replyActivityId"], "exp-m1");
    assert_eq!(sent["properties"]["recipientId"], "u1");
    assert!(sent["properties"].get("text").is_none());
}

#[tokio::test]
async fn export_includes_personal_data_when_switched_on() {
    let lines = export_run(true).await;
    let received = event(&lines, "BotMessageReceived");
    assert_eq!(
        received["properties"]["text"],
        "How do I reset my password?"
    );
    assert_eq!(received["properties"]["fromName"], "Alice Example");
    let qna = event(&lines, "QnaMessage");
    assert_eq!(qna["properties"]["question"], "How do I reset my password?");
    assert_eq!(qna["properties"]["username"], "Alice Example");
    let sent = event(&lines, "BotMessageSend");
    assert_eq!(sent["properties"]["text"], "Which account is it for?");
}

/// The log line of an unanswered question, from a bot with this setting.
async fn unanswered_log(personal: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let pii = personal.to_string();
    let bot = BotProcess::start(
        dir.path(),
        &[("BOT__TELEMETRY__LOG_PERSONAL_INFORMATION", &pii)],
    );
    let question = "Zorblax quimby fennelwort?";
    let activity = expect_replies(message("unans-1", "conv-unans", "u1", question));
    assert_eq!(post(&bot, &activity).await.status(), 200);
    let found = wait_for(|| {
        bot.logs()
            .iter()
            .any(|l| l.contains("question below the confidence threshold"))
    })
    .await;
    let logs = bot.logs();
    assert!(found, "no unanswered-question log: {logs:#?}");
    logs.into_iter()
        .find(|l| l.contains("question below the confidence threshold"))
        .unwrap()
}

#[tokio::test]
async fn unanswered_questions_are_logged_by_id_and_hash_unless_personal_data_is_on() {
    let line = unanswered_log(false).await;
    assert!(line.contains("activity_id=\"unans-1\""), "{line}");
    assert!(line.contains("question_sha256="), "{line}");
    assert!(!line.contains("Zorblax"), "question text logged: {line}");
    let line = unanswered_log(true).await;
    assert!(line.contains("activity_id=\"unans-1\""), "{line}");
    assert!(line.contains("Zorblax quimby fennelwort?"), "{line}");
}
