//! Intent dispatch through the in-process app: each intent reaches the
//! handler it should, with deliveryMode expectReplies so the replies come
//! back in the response body. The embedded recogniser and the sample KB are
//! the local defaults; nothing leaves the process.

use axum::http::StatusCode;
use bot_api::startup::{app, build_state};
use bot_api::AppState;
use bot_core::state::{ConversationState, StateDoc};
use serde_json::{json, Value};

use bot_api::Settings;

use crate::harness::{env, post_activity, settings};

async fn say(state: &AppState, channel: &str, text: &str) -> Vec<Value> {
    let activity = json!({
        "type": "message", "id": format!("m-{}", fastrand::u64(..)), "text": text,
        "channelId": channel, "deliveryMode": "expectReplies", "locale": "en-US",
        "from": {"id": "user-1"}, "recipient": {"id": "bot"},
        "conversation": {"id": "conv-1"}, "serviceUrl": "http://127.0.0.1:9/"
    });
    let (status, v) = post_activity(&app(state.clone()), None, &activity).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["activities"].as_array().cloned().unwrap_or_default()
}

async fn previous_qna_id(state: &AppState) -> Option<u64> {
    let key = ConversationState::key("test", "conv-1");
    let mut items = state
        .storage()
        .read(std::slice::from_ref(&key))
        .await
        .unwrap();
    ConversationState(StateDoc::from_item(key.clone(), items.remove(&key))).previous_qna_id()
}

fn message_text(replies: &[Value]) -> String {
    replies
        .iter()
        .filter(|a| a["type"] == "message")
        .map(|a| a["text"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn each_intent_routes_where_it_should() {
    let s = settings::<&str>(&[]);
    let lu = s.lu.clone();
    let state = build_state(s).await.unwrap();

    let replies = say(&state, "emulator", "talk to a human").await;
    assert_eq!(message_text(&replies), lu.escalate_message);
    // The recognised intent is on the Emulator's trace.
    let trace = replies
        .iter()
        .find(|a| a["type"] == "trace" && a["name"] == "Recognizer")
        .expect("a recogniser trace");
    assert_eq!(trace["value"]["topIntent"], "Escalate");
    assert_eq!(trace["value"]["recognizer"], "embedded");
    assert!(
        trace["value"]["recognizerResult"]["intents"]["Escalate"]["score"].as_f64() > Some(0.5)
    );

    assert_eq!(
        message_text(&say(&state, "test", "help me please").await),
        lu.help_message
    );

    // A KB answer with follow-up prompts sets the multi-turn context...
    let kb = say(&state, "test", "How do I reset my password?").await;
    assert!(!message_text(&kb).is_empty() && message_text(&kb) != lu.help_message);
    assert!(
        previous_qna_id(&state).await.is_some(),
        "the KB answer has prompts"
    );
    // ...and Cancel clears it.
    assert_eq!(
        message_text(&say(&state, "test", "never mind").await),
        lu.cancel_message
    );
    assert_eq!(previous_qna_id(&state).await, None);

    // Everything else, and None, goes to the knowledge base.
    let who = message_text(&say(&state, "test", "Who made you?").await);
    assert!(who.contains("Rust"), "{who}");
    // Traces stay on the Emulator.
    assert!(say(&state, "test", "cancel")
        .await
        .iter()
        .all(|a| a["type"] != "trace"));
}

#[tokio::test]
async fn a_huge_utterance_goes_to_the_kb_without_failing_the_turn() {
    let state = build_state(settings::<&str>(&[])).await.unwrap();
    let huge = "please help ".repeat(200);
    let replies = say(&state, "emulator", &huge).await;
    let trace = replies
        .iter()
        .find(|a| a["name"] == "Recognizer")
        .expect("a recogniser trace");
    assert_eq!(trace["value"]["topIntent"], "None");
    assert!(trace["value"]["error"]
        .as_str()
        .unwrap()
        .contains("at most 1000"));
    assert!(replies.iter().any(|a| a["type"] == "message"));
}

#[tokio::test]
async fn lu_off_sends_everything_to_the_kb_and_bad_settings_name_the_key() {
    let state = build_state(settings(&[("BOT__LU__KIND", "off")]))
        .await
        .unwrap();
    let replies = say(&state, "emulator", "talk to a human").await;
    assert!(replies.iter().all(|a| a["name"] != "Recognizer"));

    let base = env::<&str>(&[]);
    for (pairs, key) in [
        (vec![("BOT__LU__KIND", "luis")], "lu.kind"),
        (vec![("BOT__LU__THRESHOLD", "1.5")], "lu.threshold"),
        (
            vec![("BOT__LU__INTENTS_PATH", "/nonexistent/i.json")],
            "lu.intents_path",
        ),
        (vec![("BOT__LU__KIND", "clu")], "lu.clu_endpoints"),
        (
            vec![
                ("BOT__LU__KIND", "clu"),
                (
                    "BOT__LU__CLU_ENDPOINTS",
                    "http://127.0.0.1:9,http://127.0.0.1:10",
                ),
                ("BOT__LU__CLU_KEYS", "k1,k2,k3"),
            ],
            "lu.clu_keys",
        ),
    ] {
        let mut env = base.clone();
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let e = Settings::load_from(&env).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("(from "), "{e}");
    }
    let mut env = base.clone();
    env.extend(
        [
            ("BOT__LU__KIND", "clu"),
            (
                "BOT__LU__CLU_ENDPOINTS",
                "http://127.0.0.1:9,http://127.0.0.1:10",
            ),
            ("BOT__LU__CLU_KEYS", "key-that-must-not-show"),
            ("BOT__LU__CLU_PROJECT", "p"),
            ("BOT__LU__CLU_DEPLOYMENT", "d"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let s = Settings::load_from(&env).unwrap();
    assert!(!format!("{s:?}").contains("key-that-must-not-show"));
}
