//! What each channel gets, by the channel table: prompts as suggested
//! actions, hero cards or a list; markdown where it renders; the welcome
//! with no `replyToId` on Web Chat and Direct Line; a typing indicator
//! before a slow answer.

use serde_json::{json, Value};

use crate::support::*;

pub const PROMPTS: [&str; 5] = ["VPN", "Email", "Wiki", "Printer", "Laptop"];

/// A KB whose first answer has five follow-up prompts, in markdown.
pub fn access_kb(dir: &std::path::Path) -> String {
    let mut rows: Vec<(&str, &str, &[&str], bool)> = vec![(
        "How do I get access to a system?",
        "**Pick** the system you need access to:",
        &PROMPTS,
        false,
    )];
    let answers = [
        "Use the *VPN portal* with your badge number.",
        "Email access comes with your account on day one.",
        "Ask in the wiki's *Access requests* page.",
        "Printers need no access: send to the nearest one.",
        "Laptops are handed out by the service desk.",
    ];
    for (p, a) in PROMPTS.iter().zip(answers) {
        rows.push((p, a, &[], true));
    }
    kb_file(dir, &rows)
}

fn on(channel: &str, id: &str, text: &str) -> Value {
    let mut a = expect_replies(message(id, &format!("{channel}-conv"), "u1", text));
    a["channelId"] = json!(channel);
    a
}

async fn reply(bot: &BotProcess, activity: &Value) -> Value {
    let resp = post(bot, activity).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let messages: Vec<&Value> = body["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "message")
        .collect();
    assert_eq!(messages.len(), 1, "{body}");
    messages[0].clone()
}

pub fn suggested(reply: &Value) -> Vec<String> {
    reply["suggestedActions"]["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|b| b["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every imBack button of the reply's hero cards, in order.
pub fn card_buttons(reply: &Value) -> Vec<String> {
    reply["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["contentType"] == "application/vnd.microsoft.card.hero")
        .flat_map(|a| a["content"]["buttons"].as_array().unwrap().clone())
        .map(|b| {
            assert_eq!(b["type"], "imBack", "{b}");
            b["value"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn prompts_and_markdown_follow_each_channels_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let kb = access_kb(dir.path());
    let bot = BotProcess::start(dir.path(), &[("BOT__QNA__KB_PATH", &kb)]);
    let question = "How do I get access to a system?";
    let all: Vec<String> = PROMPTS.iter().map(|p| p.to_string()).collect();

    // Web Chat: all five as suggested actions, markdown rendered.
    let r = reply(&bot, &on("webchat", "w1", question)).await;
    assert_eq!(suggested(&r), all);
    assert!(r.get("attachments").is_none(), "{r}");
    assert_eq!(r["textFormat"], "markdown");
    assert_eq!(r["text"], "**Pick** the system you need access to:");

    // Slack shows no suggested actions: a hero card with every prompt.
    let r = reply(&bot, &on("slack", "s1", question)).await;
    assert!(r.get("suggestedActions").is_none(), "{r}");
    assert_eq!(card_buttons(&r), all);
    assert_eq!(r["textFormat"], "markdown");

    // SMS shows neither: the prompts are listed under the answer, plain.
    let r = reply(&bot, &on("sms", "t1", question)).await;
    assert!(r.get("suggestedActions").is_none() && r.get("attachments").is_none());
    assert_eq!(r["textFormat"], "plain");
    assert_eq!(
        r["text"],
        "**Pick** the system you need access to:\n\n- VPN\n- Email\n- Wiki\n- Printer\n- Laptop"
    );
    // Typing a listed prompt follows it.
    let r = reply(&bot, &on("sms", "t2", "Printer")).await;
    assert_eq!(
        r["text"],
        "Printers need no access: send to the nearest one."
    );

    // A channel the table does not name keeps suggested actions, plain text.
    let r = reply(&bot, &on("some-custom-channel", "x1", question)).await;
    assert_eq!(suggested(&r), all);
    assert_eq!(r["textFormat"], "plain");
}

/// A conversationUpdate that adds the user, as each channel sends it.
fn members_added(channel: &str, service_url: &str) -> Value {
    json!({
        "type": "conversationUpdate", "id": format!("{channel}-update-1"),
        "channelId": channel, "serviceUrl": service_url,
        "conversation": {"id": format!("{channel}-welcome")},
        "from": {"id": "u1"}, "recipient": {"id": "bot-1", "name": "Bot"},
        "membersAdded": [{"id": "bot-1"}, {"id": "u1"}],
    })
}

#[tokio::test]
async fn the_welcome_replies_to_nothing_on_web_chat_and_direct_line() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    let channel = ChannelServer::start().await;
    for (name, replies_to_update) in [("webchat", false), ("directline", false), ("msteams", true)]
    {
        let resp = post(&bot, &members_added(name, &channel.url)).await;
        assert_eq!(resp.status(), 200, "{name}");
        let got = channel.take();
        assert_eq!(
            got.len(),
            1,
            "{name}: one welcome for the one user: {got:?}"
        );
        let welcome = &got[0];
        assert!(welcome.body["text"]
            .as_str()
            .unwrap()
            .starts_with("Hello and welcome"));
        // Two suggestions: within every one of these channels' limits.
        assert_eq!(
            suggested(&welcome.body),
            ["What can you do?", "Who made you?"],
            "{name}"
        );
        let conversation = format!("/channel-prefix/v3/conversations/{name}-welcome/activities");
        if replies_to_update {
            assert_eq!(welcome.body["replyToId"], format!("{name}-update-1"));
            assert_eq!(welcome.path, format!("{conversation}/{name}-update-1"));
        } else {
            assert!(
                welcome.body.get("replyToId").is_none(),
                "{name}: {:?}",
                welcome.body
            );
            assert_eq!(welcome.path, conversation, "{name}: sendToConversation");
        }
    }
}

#[tokio::test]
async fn a_slow_answer_is_preceded_by_a_typing_indicator() {
    let dir = tempfile::tempdir().unwrap();
    let channel = ChannelServer::start().await;
    // The KB answers only once the channel has seen the typing indicator
    // (or after 5 s): without one, the answer still comes, second.
    let captured = channel.captured.clone();
    let kb = SlowKb::start("Connect to **vpn.contoso.com**.", move || {
        captured
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.body["type"] == "typing")
    })
    .await;
    let mut env: Vec<(&str, String)> = kb.env();
    env.push(("BOT__BOT__TYPING_AFTER_MS", "50".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bot = BotProcess::start(dir.path(), &env);

    let mut a = message("slow-1", "typing-conv", "u1", "What is the VPN address?");
    a["channelId"] = json!("webchat");
    a["serviceUrl"] = json!(channel.url);
    let resp = post(&bot, &a).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let got = channel.take();
    let kinds: Vec<&str> = got
        .iter()
        .map(|c| c.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["typing", "message"], "{got:?}");
    assert_eq!(got[0].body["replyToId"], "slow-1");
    assert_eq!(got[0].body["from"]["id"], "bot-1");
    assert_eq!(
        got[0].path,
        "/channel-prefix/v3/conversations/typing-conv/activities/slow-1"
    );
    assert_eq!(got[1].body["text"], "Connect to **vpn.contoso.com**.");
    assert_eq!(got[1].body["textFormat"], "markdown");
}

#[tokio::test]
async fn a_quick_answer_gets_no_typing_indicator() {
    let dir = tempfile::tempdir().unwrap();
    let channel = ChannelServer::start().await;
    // Well above what the embedded KB takes.
    let bot = BotProcess::start(dir.path(), &[("BOT__BOT__TYPING_AFTER_MS", "30000")]);
    let mut a = message("quick-1", "quick-conv", "u1", "Who made you?");
    a["serviceUrl"] = json!(channel.url);
    assert_eq!(post(&bot, &a).await.status(), 200);
    let got = channel.take();
    assert!(got.iter().all(|c| c.body["type"] != "typing"), "{got:?}");
    assert_eq!(of_type(&got, "message").len(), 1);
}
