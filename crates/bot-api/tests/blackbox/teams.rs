//! Teams: the payloads the Teams documentation shows for a personal chat, a
//! group chat and a channel message (with its `conversationType`,
//! `tenantId` and `channelData`), sent to the real binary with replies
//! POSTed to a capturing channel. In a group chat or channel the bot only
//! hears messages that @mention it, so the question arrives as
//! `<at>FAQ Bot</at> …` with a `mention` entity: it must get the same
//! answer as the plain question.

use serde_json::{json, Value};

use crate::channels::{access_kb, card_buttons, suggested, PROMPTS};
use crate::support::{of_type, post, BotProcess, ChannelServer};

const BOT_ID: &str = "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn teams(
    id: &str,
    conversation: Value,
    text: &str,
    mentioned: bool,
    channel: &ChannelServer,
) -> Value {
    let mut entities =
        vec![json!({"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"})];
    if mentioned {
        entities.push(json!({
            "type": "mention", "text": "<at>FAQ Bot</at>",
            "mentioned": {"id": BOT_ID, "name": "FAQ Bot"},
        }));
    }
    json!({
        "type": "message", "id": id, "timestamp": "2026-12-01T10:00:00.000Z",
        "localTimestamp": "2026-12-01T11:00:00.000+01:00", "channelId": "msteams",
        "serviceUrl": channel.url,
        "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQ", "name": "Megan Bowen",
                 "aadObjectId": "d5c1ff2a-9cf9-4b4e-9c4e-1e7f0e1b6c2e"},
        "conversation": conversation,
        "recipient": {"id": BOT_ID, "name": "FAQ Bot"},
        "textFormat": "plain", "text": text, "locale": "en-US", "entities": entities,
        "channelData": {"tenant": {"id": TENANT}},
    })
}

/// What the bot answered `activity` with, through the channel.
async fn answer(bot: &BotProcess, channel: &ChannelServer, activity: Value) -> String {
    let resp = post(bot, &activity).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let got = channel.take();
    let replies: Vec<&Value> = got
        .iter()
        .map(|c| &c.body)
        .filter(|b| b["type"] == "message")
        .collect();
    assert_eq!(replies.len(), 1, "{got:?}");
    assert_eq!(replies[0]["replyToId"], activity["id"]);
    assert_eq!(
        replies[0]["conversation"]["id"],
        activity["conversation"]["id"]
    );
    replies[0]["text"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_teams_user_gets_the_same_answer_with_or_without_mentioning_the_bot() {
    let channel = ChannelServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(
        dir.path(),
        &[("BOT__QNA__KB_PATH", "kb/qna_chitchat_professional.tsv")],
    );
    let personal =
        json!({"conversationType": "personal", "tenantId": TENANT, "id": "a:1pL8fWzv6aG3D"});
    let plain = answer(
        &bot,
        &channel,
        teams("p1", personal, "how old are you", false, &channel),
    )
    .await;
    assert!(
        !plain.starts_with("Sorry"),
        "the plain question got the fallback: {plain}"
    );

    let group = json!({"isGroup": true, "conversationType": "groupChat", "tenantId": TENANT,
                       "id": "19:b5a1f7a4c9e0@thread.v2"});
    let channel_conv = json!({"isGroup": true, "conversationType": "channel", "tenantId": TENANT,
                              "id": "19:d4b6e1c1@thread.tacv2;messageid=1485983408511"});
    for (id, conversation) in [("g1", group), ("c1", channel_conv)] {
        let mut a = teams(
            id,
            conversation,
            "<at>FAQ Bot</at> how old are you",
            true,
            &channel,
        );
        if id == "c1" {
            a["channelData"]["teamsChannelId"] = json!("19:d4b6e1c1@thread.tacv2");
            a["channelData"]["teamsTeamId"] = json!("19:e1c2@thread.tacv2");
            a["channelData"]["channel"] = json!({"id": "19:d4b6e1c1@thread.tacv2"});
            a["channelData"]["team"] = json!({"id": "19:e1c2@thread.tacv2"});
        }
        assert_eq!(answer(&bot, &channel, a).await, plain, "{id}");
    }
}

/// The bot's one message in answer to `activity`, through the channel.
async fn reply(bot: &BotProcess, channel: &ChannelServer, activity: Value) -> Value {
    let resp = post(bot, &activity).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let got = channel.take();
    let messages = of_type(&got, "message");
    assert_eq!(messages.len(), 1, "{got:?}");
    messages[0].clone()
}

#[tokio::test]
async fn every_follow_up_prompt_is_reachable_in_teams() {
    let channel = ChannelServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kb = access_kb(dir.path());
    let bot = BotProcess::start(dir.path(), &[("BOT__QNA__KB_PATH", &kb)]);
    let personal =
        || json!({"conversationType": "personal", "tenantId": TENANT, "id": "a:1prompts"});
    let group = || {
        json!({"isGroup": true, "conversationType": "groupChat", "tenantId": TENANT,
                          "id": "19:prompts@thread.v2"})
    };
    let question = "How do I get access to a system?";
    for (conversation, text, mentioned) in [
        (personal(), question.to_string(), false),
        (group(), format!("<at>FAQ Bot</at> {question}"), true),
    ] {
        let id = conversation["id"].as_str().unwrap().to_string();
        let r = reply(
            &bot,
            &channel,
            teams(
                &format!("{id}-q"),
                conversation.clone(),
                &text,
                mentioned,
                &channel,
            ),
        )
        .await;
        // Teams shows three suggested actions: five prompts go on a card.
        assert!(r.get("suggestedActions").is_none(), "{r}");
        assert_eq!(card_buttons(&r), PROMPTS, "{id}");
        assert_eq!(r["textFormat"], "markdown", "Teams renders markdown");
        // Pressing the fourth button posts its text: the follow-up answers.
        let pressed = if mentioned {
            format!("<at>FAQ Bot</at> {}", PROMPTS[3])
        } else {
            PROMPTS[3].to_string()
        };
        let r = reply(
            &bot,
            &channel,
            teams(
                &format!("{id}-p"),
                conversation,
                &pressed,
                mentioned,
                &channel,
            ),
        )
        .await;
        assert_eq!(
            r["text"], "Printers need no access: send to the nearest one.",
            "{id}"
        );
    }
    // The welcome's two suggestions fit: suggested actions.
    let update = json!({
        "type": "conversationUpdate", "id": "u-1", "channelId": "msteams", "serviceUrl": channel.url,
        "conversation": personal(), "recipient": {"id": BOT_ID, "name": "FAQ Bot"},
        "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQ"},
        "membersAdded": [{"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQ"}],
        "channelData": {"tenant": {"id": TENANT}},
    });
    let r = reply(&bot, &channel, update).await;
    assert_eq!(suggested(&r), ["What can you do?", "Who made you?"]);
}
