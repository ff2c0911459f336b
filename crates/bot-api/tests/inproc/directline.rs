//! The local Direct Line (local mode only): the routes are absent in
//! production, bad input gets a 4xx that says why, the conversation bound
//! evicts the oldest, and conversations survive a restart. The official
//! Direct Line client and Web Chat are driven against the real binary by
//! tests/js-webchat (scripts/test-webchat).

use std::path::Path;

use serde_json::{json, Value};

use bot_api::Settings;

use crate::harness::{env, in_memory, serve as serve_app, settings};

/// bot-api on a free loopback port, the page's database off unless `extra`
/// names one (replies travel over the port to the Connector routes).
async fn serve(extra: &[(&str, String)]) -> (String, tokio::task::JoinHandle<()>) {
    let mut all = vec![("BOT__WEBCHAT__DB_PATH", String::new())];
    all.extend(extra.iter().cloned());
    serve_app(in_memory(settings(&all)).await).await
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn start(http: &reqwest::Client, base: &str) -> String {
    let (status, conv) = send(
        http.post(format!("{base}/v3/directline/conversations"))
            .bearer_auth("any-secret-at-all"),
    )
    .await;
    assert_eq!(status, 201, "{conv}");
    conv["conversationId"].as_str().unwrap().to_string()
}

fn message(text: &str) -> Value {
    json!({"type": "message", "from": {"id": "tester"}, "text": text})
}

#[tokio::test]
async fn production_mode_mounts_none_of_it() {
    let mut extra = vec![
        ("BOT__BOT__MODE", "production".to_string()),
        (
            "MicrosoftAppId",
            "00000000-0000-0000-0000-000000000001".into(),
        ),
        ("MicrosoftAppPassword", "not-used-here".into()),
    ];
    // Key fetches fail at once (nothing listens there); readiness says so,
    // the routes do not care.
    for key in [
        "BOT__AUTH__CHANNEL_OPENID_METADATA_URL",
        "BOT__AUTH__EMULATOR_OPENID_METADATA_URL",
    ] {
        extra.push((key, "http://127.0.0.1:9/metadata".into()));
    }
    let (base, _task) = serve(&extra).await;
    let http = bot_http::client();
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/webchat.js"),
        ("POST", "/v3/directline/tokens/generate"),
        ("POST", "/v3/directline/conversations"),
        ("GET", "/v3/directline/conversations/c1/activities"),
        ("POST", "/v3/conversations/c1/activities"),
    ] {
        let req = http.request(method.parse().unwrap(), format!("{base}{path}"));
        let (status, _) = send(req.json(&json!({"type": "message"}))).await;
        assert_eq!(status, 404, "{method} {path}");
    }
}

#[tokio::test]
async fn a_conversation_runs_through_the_bot_with_ids_watermarks_and_replies() {
    let (base, _task) = serve(&[]).await;
    let http = bot_http::client();
    let id = start(&http, &base).await;
    let dl = format!("{base}/v3/directline/conversations/{id}");

    // The welcome came through the bot's conversationUpdate turn.
    let (status, set) = send(http.get(format!("{dl}/activities"))).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["watermark"], "1");
    assert_eq!(set["activities"][0]["from"]["id"], "bot");
    assert!(set["activities"][0].get("replyToId").is_none());

    let (status, posted) = send(
        http.post(format!("{dl}/activities"))
            .json(&message("How do I reset my password?")),
    )
    .await;
    assert_eq!(status, 200, "{posted}");
    let user_id = posted["id"].as_str().unwrap().to_string();
    assert_eq!(user_id, format!("{id}|0000002"));

    // The echo, then the bot's reply to it, with its follow-up prompts.
    let (_, set) = send(http.get(format!("{dl}/activities?watermark=1"))).await;
    let activities = set["activities"].as_array().unwrap();
    assert_eq!(activities.len(), 2, "{set}");
    assert_eq!(activities[0]["id"], user_id.as_str());
    assert_eq!(activities[0]["channelId"], "directline");
    assert_eq!(activities[1]["replyToId"], user_id.as_str());
    assert_eq!(
        activities[1]["suggestedActions"]["actions"][0]["value"],
        "Work account"
    );
    assert_eq!(set["watermark"], "3");

    let (_, set) = send(http.get(format!("{dl}/activities?watermark=3"))).await;
    assert_eq!(set["activities"], json!([]));
    assert_eq!(set["watermark"], "3");

    // Reconnect: a streamUrl on this host that resumes after the watermark.
    let (status, conv) = send(http.get(format!("{dl}?watermark=3"))).await;
    assert_eq!(status, 200);
    let stream = conv["streamUrl"].as_str().unwrap();
    assert!(
        stream.starts_with(&format!("ws://{}/", base.trim_start_matches("http://"))),
        "{stream}"
    );
    assert!(stream.contains("watermark=3"), "{stream}");
}

#[tokio::test]
async fn bad_input_gets_a_4xx_that_says_why() {
    let (base, _task) = serve(&[("BOT__SERVER__MAX_BODY_BYTES", "4096".into())]).await;
    let http = bot_http::client();
    let id = start(&http, &base).await;
    let dl = format!("{base}/v3/directline/conversations");

    // Unknown conversations: every route says 404, and why.
    for req in [
        http.get(format!("{dl}/nope")),
        http.get(format!("{dl}/nope/activities")),
        http.get(format!("{dl}/nope/stream")),
        http.post(format!("{dl}/nope/activities"))
            .json(&message("hi")),
        http.post(format!("{base}/v3/conversations/nope/activities/x"))
            .json(&message("hi")),
    ] {
        let (status, body) = send(req).await;
        assert_eq!(status, 404, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not found"),
            "{body}"
        );
    }

    // Watermarks this service never gave out.
    for w in ["abc", "-1", "1.5", "99"] {
        let (status, body) = send(http.get(format!("{dl}/{id}/activities?watermark={w}"))).await;
        assert_eq!(status, 400, "watermark {w}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("watermark"));
        let (status, _) = send(http.get(format!("{dl}/{id}?watermark={w}"))).await;
        assert_eq!(status, 400, "reconnect with watermark {w}");
    }

    // Over server.max_body_bytes, as on /api/messages.
    let big = message(&"x".repeat(8192));
    let (status, _) = send(http.post(format!("{dl}/{id}/activities")).json(&big)).await;
    assert_eq!(status, 413);
    let (status, _) = send(
        http.post(format!("{base}/v3/conversations/{id}/activities"))
            .json(&big),
    )
    .await;
    assert_eq!(status, 413);

    // Not an activity.
    for body in ["not json", "[1]", "{\"text\": \"no type\"}"] {
        let (status, resp) = send(
            http.post(format!("{dl}/{id}/activities"))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(status, 400, "{body}: {resp}");
    }
    // A stream request that is not a WebSocket upgrade.
    let (status, _) = send(http.get(format!("{dl}/{id}/stream"))).await;
    assert!((400..500).contains(&status), "{status}");

    // Nothing above reached the conversation.
    let (_, set) = send(http.get(format!("{dl}/{id}/activities"))).await;
    assert_eq!(set["watermark"], "1", "{set}");
}

#[tokio::test]
async fn the_oldest_conversations_are_evicted_past_the_bound() {
    let (base, _task) = serve(&[("BOT__WEBCHAT__MAX_CONVERSATIONS", "3".into())]).await;
    let http = bot_http::client();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(start(&http, &base).await);
    }
    for (i, id) in ids.iter().enumerate() {
        let (status, _) = send(http.get(format!(
            "{base}/v3/directline/conversations/{id}/activities"
        )))
        .await;
        assert_eq!(status, if i < 2 { 404 } else { 200 }, "conversation {i}");
    }
}

#[tokio::test]
async fn conversations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("directline.db");
    let db = db.to_str().unwrap().to_string();
    let http = bot_http::client();
    let (base, task) = serve(&[("BOT__WEBCHAT__DB_PATH", db.clone())]).await;
    let id = start(&http, &base).await;
    let (status, _) = send(
        http.post(format!(
            "{base}/v3/directline/conversations/{id}/activities"
        ))
        .json(&message("who made you")),
    )
    .await;
    assert_eq!(status, 200);
    task.abort();
    let _ = task.await;

    let (base, _task) = serve(&[("BOT__WEBCHAT__DB_PATH", db)]).await;
    let (status, set) = send(http.get(format!(
        "{base}/v3/directline/conversations/{id}/activities?watermark=1"
    )))
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["watermark"], "3");
    assert_eq!(set["activities"][0]["text"], "who made you");
    assert!(Path::new(dir.path()).join("directline.db").exists());
}

#[test]
fn settings_refuse_a_missing_local_copy_and_a_zero_bound() {
    let bad = Settings::load_from(&env(&[(
        "BOT__WEBCHAT__SCRIPT_FILE",
        "/nonexistent/webchat.js",
    )]))
    .unwrap_err()
    .to_string();
    assert!(bad.contains("webchat.script_file"), "{bad}");
    let bad = Settings::load_from(&env(&[("BOT__WEBCHAT__MAX_CONVERSATIONS", "0")]))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("webchat.max_conversations"), "{bad}");
}

#[tokio::test]
async fn the_page_loads_web_chat_from_the_cdn_or_the_local_copy() {
    let http = bot_http::client();
    let (base, _task) = serve(&[]).await;
    let resp = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = resp.text().await.unwrap();
    let defaults = settings::<&str>(&[]);
    assert!(page.contains(&format!("src=\"{}\"", defaults.webchat.script_url)));
    assert!(defaults
        .webchat
        .script_url
        .contains("botframework-webchat/4.18."));
    assert!(page.contains("kb/sample.tsv"), "the KB's source");
    assert!(page.contains("<code id=\"region\">local</code>"));
    assert!(page.contains("href=\"/readyz\""));
    assert!(page.contains("any secret or token is accepted"));
    let (status, _) = send(http.get(format!("{base}/webchat.js"))).await;
    assert_eq!(status, 404, "no local copy configured");

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("webchat.js");
    std::fs::write(&copy, "window.WebChat = {};").unwrap();
    let (base, _task) = serve(&[(
        "BOT__WEBCHAT__SCRIPT_FILE",
        copy.to_str().unwrap().to_string(),
    )])
    .await;
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("src=\"/webchat.js\""));
    let script = http.get(format!("{base}/webchat.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(script.text().await.unwrap(), "window.WebChat = {};");
}
