//! Proactive messages and the hand-off to a person, through the real
//! binary: an Escalate puts the conversation on the hand-off list, an
//! operator's message reaches the user (sendToConversation), the user's
//! next messages are recorded instead of answered, the list survives a
//! restart, and after the close the KB answers again.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const CONV: &str = "a:1pL8fWzv6aG3D";

fn teams_message(id: &str, text: &str, channel: &ChannelServer) -> Value {
    json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": channel.url,
        "timestamp": "2026-12-01T10:00:00.000Z",
        "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8t", "name": "Megan Bowen"},
        "conversation": {"conversationType": "personal", "tenantId": "72f988bf", "id": CONV},
        "recipient": {"id": "28:faq-bot", "name": "FAQ Bot"},
        "text": text, "locale": "en-US",
        "channelData": {"tenant": {"id": "72f988bf"}},
    })
}

/// Posts a user message; answers the texts the channel got for it.
async fn say(bot: &BotProcess, channel: &ChannelServer, id: &str, text: &str) -> Vec<String> {
    let resp = post(bot, &teams_message(id, text, channel)).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    of_type(&channel.take(), "message")
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

fn send_path(conversation: &str) -> String {
    format!(
        "/admin/conversations/msteams/{}/activities",
        urlencode(conversation)
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn handoffs(bot: &BotProcess) -> Vec<Value> {
    let (status, body) = admin(bot, Method::GET, "/admin/handoffs", None).await;
    assert_eq!(status, 200, "{body}");
    body["handoffs"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_escalated_conversation_reaches_a_person_and_comes_back_to_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let channel = ChannelServer::start().await;
    let mut bot = BotProcess::start(dir.path(), &[admin_env()]);
    let operator = json!({"text": "Hi Megan, Sam from IT here. What do you need?"});

    // No activity of the conversation yet: nothing to post into.
    let (status, body) = admin(&bot, Method::POST, &send_path(CONV), Some(&operator)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "ConversationNotFound");
    assert!(body["error"]["message"].as_str().unwrap().contains(CONV));

    let answer = say(&bot, &channel, "m1", "How do I reset my password?").await;
    assert_eq!(answer, ["Which account is it for?"]);
    assert!(handoffs(&bot).await.is_empty());

    // Escalate: the bot says so and the conversation is handed off.
    let said = say(&bot, &channel, "m2", "talk to a human").await;
    assert_eq!(said.len(), 1);
    assert!(said[0].contains("handing you over"), "{said:?}");
    let open = handoffs(&bot).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["channelId"], "msteams");
    assert_eq!(open[0]["conversationId"], CONV);
    assert_eq!(open[0]["activityId"], "m2");
    assert_eq!(open[0]["user"]["name"], "Megan Bowen");
    assert_eq!(open[0]["messages"], json!([]));

    // The operator's message reaches the user, as a new message in the
    // conversation (not a reply), from the bot's account.
    let (status, body) = admin(&bot, Method::POST, &send_path(CONV), Some(&operator)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "reply-1", "the channel's ResourceResponse");
    let got = channel.take();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].path,
        format!(
            "/channel-prefix/v3/conversations/{}/activities",
            urlencode(CONV)
        )
    );
    let sent = &got[0].body;
    assert_eq!(sent["text"], operator["text"]);
    assert_eq!(sent["type"], "message");
    assert!(sent.get("replyToId").is_none(), "{sent}");
    assert_eq!(sent["from"]["id"], "28:faq-bot");
    assert_eq!(sent["recipient"]["id"], "29:1XJKJMvc5GBtc2JwZq0oj8t");
    assert_eq!(sent["conversation"]["tenantId"], "72f988bf");

    // The user's answer is recorded for the operator, not answered by the
    // KB; a redelivery of it is recorded once.
    assert!(say(&bot, &channel, "m3", "How do I reset my password?")
        .await
        .is_empty());
    assert!(say(&bot, &channel, "m3", "How do I reset my password?")
        .await
        .is_empty());
    assert!(say(&bot, &channel, "m4", "It's my work account")
        .await
        .is_empty());

    // Kept in the storage: the list survives a restart.
    bot.terminate();
    assert!(bot.wait_exit(std::time::Duration::from_secs(20)).is_some());
    let bot = BotProcess::start(dir.path(), &[admin_env()]);
    let open = handoffs(&bot).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let texts: Vec<&str> = open[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["How do I reset my password?", "It's my work account"]
    );
    assert_eq!(open[0]["messages"][0]["id"], "m3");
    assert_eq!(open[0]["messages"][0]["from"]["name"], "Megan Bowen");

    // Closed: the conversation is back with the bot.
    let close = format!("/admin/handoffs/msteams/{}/close", urlencode(CONV));
    let (status, closed) = admin(&bot, Method::POST, &close, None).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["messages"].as_array().unwrap().len(), 2);
    assert!(handoffs(&bot).await.is_empty());
    let (status, body) = admin(&bot, Method::POST, &close, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "NotHandedOff");

    let answer = say(&bot, &channel, "m5", "How do I reset my password?").await;
    assert_eq!(answer, ["Which account is it for?"]);
}

#[tokio::test]
async fn operator_messages_are_checked_and_need_the_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    let channel = ChannelServer::start().await;
    // A short reply budget: the last call waits it out.
    let bot = BotProcess::start(
        dir.path(),
        &[admin_env(), ("BOT__REPLIES__BUDGET_MS", "500")],
    );
    assert_eq!(say(&bot, &channel, "m1", "Who made you?").await.len(), 1);
    let path = send_path(CONV);

    for (body, why) in [
        (json!({}), "no text"),
        (json!({"text": "   "}), "blank text"),
        (
            json!({"type": "event", "name": "x", "text": "hi"}),
            "not a message",
        ),
        (json!({"text": 5}), "not an Activity"),
    ] {
        let (status, answer) = admin(&bot, Method::POST, &path, Some(&body)).await;
        assert_eq!(status, 400, "{why}: {answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    let resp = client()
        .post(bot.url(&path))
        .header("x-admin-key", ADMIN_KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client()
        .post(bot.url(&path))
        .header("x-admin-key", ADMIN_KEY)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // A channel key is not the admin key.
    let resp = client()
        .post(bot.url(&path))
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(channel.take().is_empty(), "nothing was sent");

    // The channel is gone: after the retries, 502, and the answer names no
    // address of the channel.
    drop(channel);
    let (status, body) = admin(&bot, Method::POST, &path, Some(&json!({"text": "hi"}))).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "ChannelError");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("127.0.0.1"), "{message}");
}
