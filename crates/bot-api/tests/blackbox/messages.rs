use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn message_answered_through_expect_replies() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let resp = post(
        &bot,
        &expect_replies(message(
            "m1",
            "conv-er",
            "u1",
            "How do I reset my password?",
        )),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-bot-region"], "local");
    let body: Value = resp.json().await.unwrap();
    let activities = body["activities"].as_array().unwrap();
    // Channel "test" is not the Emulator: no trace activities.
    assert!(activities.iter().all(|a| a["type"] == "message"), "{body}");
    let reply = &activities[0];
    assert_eq!(reply["text"], "Which account is it for?");
    assert_eq!(reply["replyToId"], "m1");
    assert_eq!(reply["from"]["id"], "bot-1");
    assert_eq!(reply["recipient"]["id"], "u1");
    assert_eq!(turn_of(reply), Some(1));
    let prompts: Vec<&str> = reply["suggestedActions"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["value"].as_str().unwrap())
        .collect();
    assert_eq!(prompts, vec!["Work account", "Personal account"]);

    // The follow-up is answered in the context of the previous answer.
    let body: Value = post(
        &bot,
        &expect_replies(message("m2", "conv-er", "u1", "Work account")),
    )
    .await
    .json()
    .await
    .unwrap();
    let reply = &body["activities"][0];
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("self-service password reset"),
        "{body}"
    );
    assert_eq!(turn_of(reply), Some(2));
}

#[tokio::test]
async fn emulator_gets_trace_activities_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let mut a = expect_replies(message("m1", "conv-tr", "u1", "Who made you?"));
    a["channelId"] = json!("emulator");
    let body: Value = post(&bot, &a).await.json().await.unwrap();
    let types: Vec<&str> = body["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    // The intent recogniser's trace, then the KB's, as botbuilder's
    // LuisRecognizer and QnAMaker show them in the Emulator.
    assert_eq!(types, vec!["trace", "trace", "message"]);
    assert_eq!(body["activities"][0]["name"], "Recognizer");
    assert_eq!(body["activities"][1]["name"], "QnAMaker");
    // The Emulator's QnA panel names the knowledge base.
    assert_eq!(body["activities"][1]["value"]["knowledgeBaseId"], "sample");
}

/// A channel shows one answer; the Emulator's trace lists up to three. The
/// bot asks the knowledge base for what it shows, and the channel's answer
/// is the trace's first.
#[tokio::test]
async fn the_kb_is_asked_for_as_many_answers_as_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let kb = RecordingKb::start().await;
    let env = kb.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bot = BotProcess::start(dir.path(), &env);

    let mut a = expect_replies(message("k1", "conv-top", "u1", "What is the VPN address?"));
    a["channelId"] = json!("webchat");
    let body: Value = post(&bot, &a).await.json().await.unwrap();
    assert_eq!(body["activities"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["activities"][0]["text"], "Connect to vpn.contoso.com.");

    let mut a = expect_replies(message(
        "k2",
        "conv-top-em",
        "u1",
        "What is the VPN address?",
    ));
    a["channelId"] = json!("emulator");
    let body: Value = post(&bot, &a).await.json().await.unwrap();
    let activities = body["activities"].as_array().unwrap();
    let trace = activities
        .iter()
        .find(|a| a["name"] == "QnAMaker")
        .unwrap_or_else(|| panic!("no QnAMaker trace: {body}"));
    assert_eq!(trace["value"]["top"], 3);
    let listed = trace["value"]["queryResults"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{trace}");
    assert_eq!(listed[0]["answer"], "Connect to vpn.contoso.com.");
    assert_eq!(
        activities.last().unwrap()["text"],
        "Connect to vpn.contoso.com."
    );

    let asked: Vec<Value> = kb
        .asked
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["top"].clone())
        .collect();
    assert_eq!(asked, [json!(1), json!(3)]);
}

#[tokio::test]
async fn an_activity_the_bot_does_not_handle_gets_an_empty_expected_replies_list() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let mut event = message("e1", "conv-ev", "u1", "");
    event["type"] = json!("event");
    event["name"] = json!("webchat/join");
    let resp = post(&bot, &expect_replies(event.clone())).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"activities": []}));
    // Without expectReplies there is nothing to answer with.
    let resp = post(&bot, &event).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
}

#[tokio::test]
async fn expect_replies_is_answered_whatever_the_service_url() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    // A skill host (or the Emulator behind a tunnel): not on the allow-list,
    // but nothing is posted there when the replies are in the answer.
    let mut a = message("s1", "conv-skill", "u1", "Who made you?");
    a["serviceUrl"] = json!("https://skills.contoso.example/api/");
    let resp = post(&bot, &expect_replies(a.clone())).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["activities"][0]["text"],
        "A small team built me in Rust, on the Bot Framework protocol."
    );
    // Replies that would be posted there are still refused, before any turn.
    a["id"] = json!("s2");
    let resp = post(&bot, &a).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ServiceUrlNotAllowed");
}

#[tokio::test]
async fn replies_are_posted_to_the_channel_service_url() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let channel = ChannelServer::start().await;
    let mut a = message("act/1?x", "a:conv/1#x", "user-7", "Who made you?");
    a["serviceUrl"] = json!(channel.url);
    a["conversation"]["tenantId"] = json!("tenant-1");
    a["conversation"]["channelExtra"] = json!({"kept": true});
    let resp = post(&bot, &a).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
    let got = channel.take();
    assert_eq!(got.len(), 1, "{got:?}");
    let c = &got[0];
    // Path segments encoded one by one, the serviceUrl's own path kept.
    assert_eq!(
        c.path,
        "/channel-prefix/v3/conversations/a%3Aconv%2F1%23x/activities/act%2F1%3Fx"
    );
    assert_eq!(c.headers["x-ms-conversation-id"], "a:conv/1#x");
    assert!(
        c.headers.get("authorization").is_none(),
        "local mode sends no token"
    );
    assert_eq!(c.body["type"], "message");
    assert_eq!(c.body["replyToId"], "act/1?x");
    assert_eq!(c.body["from"]["id"], "bot-1");
    assert_eq!(c.body["recipient"]["id"], "user-7");
    assert_eq!(c.body["channelId"], "test");
    assert_eq!(c.body["locale"], "en-US");
    assert_eq!(c.body["serviceUrl"], channel.url.as_str());
    // The conversation, including fields this bot does not know, is copied.
    assert_eq!(
        c.body["conversation"]["channelExtra"],
        json!({"kept": true})
    );
    assert_eq!(c.body["conversation"]["tenantId"], "tenant-1");
    assert_eq!(
        c.body["text"],
        "A small team built me in Rust, on the Bot Framework protocol."
    );
}

#[tokio::test]
async fn channel_failure_is_a_5xx_not_a_silent_drop() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[("BOT__REPLIES__BUDGET_MS", "500")]);
    // Nothing listens on port 9 (discard): the reply cannot be delivered.
    let resp = post(&bot, &message("m1", "conv-down", "u1", "Hello")).await;
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RepliesPending");
    // The channel learns to retry, not where the bot's calls go.
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("127.0.0.1"), "{message}");
}

#[tokio::test]
async fn welcome_on_conversation_update() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let update = json!({
        "type": "conversationUpdate", "id": "cu1", "channelId": "test",
        "deliveryMode": "expectReplies",
        "conversation": {"id": "conv-w"}, "recipient": {"id": "bot-1"},
        "from": {"id": "u1"},
        "membersAdded": [{"id": "bot-1"}, {"id": "u1", "name": "Ada"}],
    });
    let body: Value = post(&bot, &update).await.json().await.unwrap();
    let acts = body["activities"].as_array().unwrap();
    // The bot itself joining gets no welcome; the user does.
    assert_eq!(acts.len(), 1, "{body}");
    assert!(acts[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Hello and welcome"));
    assert_eq!(acts[0]["recipient"]["id"], "u1");
    assert_eq!(
        acts[0]["suggestedActions"]["actions"][0]["value"],
        "What can you do?"
    );

    // Only the bot joining: nothing to say.
    let mut only_bot = update.clone();
    only_bot["id"] = json!("cu2");
    only_bot["membersAdded"] = json!([{"id": "bot-1"}]);
    let body: Value = post(&bot, &only_bot).await.json().await.unwrap();
    assert_eq!(body["activities"], json!([]));
}

#[tokio::test]
async fn invoke_is_501_and_other_types_are_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let invoke = json!({"type": "invoke", "name": "adaptiveCard/action", "channelId": "test",
                        "conversation": {"id": "c"}, "from": {"id": "u"}});
    assert_eq!(post(&bot, &invoke).await.status(), 501);
    for t in [
        "typing",
        "event",
        "endOfConversation",
        "messageReaction",
        "installationUpdate",
        "somethingNew",
    ] {
        let a = json!({"type": t, "channelId": "test", "conversation": {"id": "c-ack"}, "from": {"id": "u"}});
        let resp = post(&bot, &a).await;
        assert_eq!(resp.status(), 200, "{t}");
    }
    // None of them ran a turn.
    assert!(read_state(
        std::path::Path::new(dir.path()),
        "test/conversations/c-ack/"
    )
    .await
    .is_none());
}

#[tokio::test]
async fn health_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[("BOT_REGION", "local")]);
    let c = client();
    let r = c.get(bot.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-bot-region"], "local");
    let r = c.get(bot.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ready"], true);
    let names: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["storage", "storageWrite", "knowledgeBase"]);
    let r = c.head(bot.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Every log line carries the region.
    let logs = bot.logs();
    assert!(!logs.is_empty());
    assert!(
        logs.iter().all(|l| l.starts_with("region=local ")),
        "{logs:#?}"
    );
}
