use serde_json::{json, Value};

use crate::support::*;

/// name, content type, body, expected status, text the answer must contain.
type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);

async fn raw(bot: &BotProcess, content_type: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut req = client().post(bot.url("/api/messages")).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn bad_input_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let json_ct = Some("application/json");
    let valid = expect_replies(message("ok", "conv-bad", "u", "Hello"));

    let cases: Vec<Case> = vec![
        ("not JSON", json_ct, b"{not json".to_vec(), 400, "not valid JSON"),
        ("empty body", json_ct, Vec::new(), 400, "not valid JSON"),
        ("JSON array", json_ct, b"[1,2]".to_vec(), 400, "not a valid Activity"),
        ("wrong field type", json_ct, br#"{"type":"message","conversation":"c"}"#.to_vec(), 400, "not a valid Activity"),
        ("text/plain", Some("text/plain"), serde_json::to_vec(&valid).unwrap(), 415, "application/json"),
        ("form", Some("application/x-www-form-urlencoded"), b"a=b".to_vec(), 415, "application/json"),
        ("no content type", None, serde_json::to_vec(&valid).unwrap(), 415, "application/json"),
        ("missing type", json_ct, br#"{"conversation":{"id":"c"}}"#.to_vec(), 400, "activity.type is required"),
        ("message without conversation.id", json_ct,
            serde_json::to_vec(&json!({"type":"message","channelId":"test","from":{"id":"u"},"text":"hi","deliveryMode":"expectReplies"})).unwrap(),
            400, "conversation.id"),
        ("message without from.id", json_ct,
            serde_json::to_vec(&json!({"type":"message","channelId":"test","conversation":{"id":"conv-bad"},"text":"hi","deliveryMode":"expectReplies"})).unwrap(),
            400, "from.id"),
        ("message without serviceUrl", json_ct,
            serde_json::to_vec(&json!({"type":"message","channelId":"test","conversation":{"id":"conv-bad"},"from":{"id":"u"},"text":"hi"})).unwrap(),
            400, "serviceUrl"),
        ("serviceUrl not http", json_ct,
            serde_json::to_vec(&json!({"type":"message","channelId":"test","serviceUrl":"file:///etc/passwd","conversation":{"id":"conv-bad"},"from":{"id":"u"},"text":"hi"})).unwrap(),
            400, "serviceUrl"),
        ("over the body limit", json_ct, {
            let mut big = valid.clone();
            big["text"] = json!("x".repeat(300 * 1024));
            serde_json::to_vec(&big).unwrap()
        }, 413, ""),
    ];
    for (name, ct, body, status, needle) in cases {
        let (got, text) = raw(&bot, ct, body).await;
        assert_eq!(got, status, "{name}: {text}");
        assert!(text.contains(needle), "{name}: {text:?} lacks {needle:?}");
        if status != 413 {
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{name}: error body is JSON"));
            assert!(v["error"]["message"].is_string(), "{name}");
        }
    }
    // An unknown activity type is acknowledged.
    let (got, _) = raw(
        &bot,
        json_ct,
        br#"{"type":"fancyNewType","conversation":{"id":"conv-bad"}}"#.to_vec(),
    )
    .await;
    assert_eq!(got, 200);
    // No rejected request wrote state.
    assert!(read_state(dir.path(), "test/conversations/conv-bad/")
        .await
        .is_none());
    // And the server is still up and serving turns.
    let resp = post(&bot, &valid).await;
    assert_eq!(resp.status(), 200);
    let state = read_state(dir.path(), "test/conversations/conv-bad/")
        .await
        .unwrap();
    assert_eq!(state["turnCount"], 1);
}

#[test]
fn help_and_version_print_and_exit_and_an_argument_is_refused() {
    let run = |arg: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_bot-api"))
            .arg(arg)
            // Were the argument ignored, the start would fail on this.
            .env("BOT__SERVER__LISTEN", "not-an-address")
            .output()
            .unwrap()
    };
    let help = run("--help");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{help:?}");
    assert!(
        text.contains("config/default.toml") && text.contains("BOT__SECTION__KEY"),
        "{text}"
    );
    let version = run("--version");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("bot-api {}", env!("CARGO_PKG_VERSION"))
    );
    let other = run("--port=80");
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("--port=80"));
}
