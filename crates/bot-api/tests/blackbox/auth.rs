//! Settings the way botbuilder users write them, through the real binary
//! with channel authentication on and bot-auth's identity stand-in as the
//! cloud: `callerId` from the validated token, `allowed_callers = "*"`,
//! `ChannelService` for the US Government cloud, `MicrosoftAppType` in any
//! case, and the Teams tenant filter.

use serde_json::{json, Value};

use crate::support::*;

const PUBLIC_ISSUER: &str = "https://api.botframework.com";
const GOV_ISSUER: &str = "https://api.botframework.us";
const OTHER_BOT: &str = "9a1c0e7d-5b2f-4c3a-8e6d-0f4b2a7c1d93";

fn activity(id: &str, conversation: &str, service_url: &str) -> Value {
    json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": service_url,
        "conversation": {"id": conversation}, "from": {"id": "29:user"},
        "recipient": {"id": "28:bot"}, "text": "Who made you?",
        // Only the token may say who sent an activity.
        "callerId": "urn:botframework:aadappid:forged",
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
    })
}

fn with(base: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = base;
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn start(dir: &std::path::Path, env: &[(String, String)]) -> BotProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    BotProcess::start(dir, &env)
}

/// The incoming activity as the transcript kept it (the first entry of the
/// conversation's turn).
async fn logged(transcripts: &std::path::Path, conversation: &str) -> Value {
    let t = transcript(transcripts, "msteams", conversation, 1).await;
    t.into_iter()
        .find(|a| a["from"]["id"] == "29:user")
        .unwrap_or_else(|| panic!("no incoming activity logged for {conversation}"))
}

// The cloud serves while the test waits for the bot to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_id_comes_from_the_token_and_star_allows_any_calling_bot() {
    let cloud = Cloud::start().await;
    let dir = tempfile::tempdir().unwrap();
    let transcripts = dir.path().join("transcripts.db");
    let base = with(
        cloud.env("auth"),
        &[
            // botbuilder compares the app type without regard to case.
            ("MicrosoftAppType", "multitenant"),
            ("BOT__TRANSCRIPTS__KIND", "sqlite"),
            ("BOT__TRANSCRIPTS__PATH", transcripts.to_str().unwrap()),
        ],
    );
    let url = cloud.server.base_url();
    let bot = start(dir.path(), &base);
    let resp = post_with(
        &bot,
        &cloud.channel_token(PUBLIC_ISSUER),
        &activity("c1", "conv-1", &url),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(
        logged(&transcripts, "conv-1").await["callerId"],
        "urn:botframework:azure"
    );
    // The reply went with a token from the cloud's token endpoint.
    let sent = cloud.server.received();
    assert_eq!(sent.len(), 1);
    assert!(sent[0]
        .authorization
        .as_deref()
        .unwrap()
        .starts_with("Bearer app-token-"));

    // Another bot is refused unless allowed...
    let mut from_bot = activity("b1", "conv-2", &url);
    from_bot["deliveryMode"] = json!("expectReplies");
    let resp = post_with(&bot, &cloud.bot_token(OTHER_BOT), &from_bot).await;
    assert_eq!(resp.status(), 403);
    drop(bot);

    // ...and "*" allows any.
    let bot = start(
        dir.path(),
        &with(base, &[("BOT__AUTH__ALLOWED_CALLERS", "*")]),
    );
    let resp = post_with(&bot, &cloud.bot_token(OTHER_BOT), &from_bot).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(
        logged(&transcripts, "conv-2").await["callerId"],
        format!("urn:botframework:aadappid:{OTHER_BOT}")
    );
}

#[tokio::test]
async fn without_authentication_no_caller_id_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let transcripts = dir.path().join("transcripts.db");
    let bot = BotProcess::start(
        dir.path(),
        &[
            ("BOT__TRANSCRIPTS__KIND", "sqlite"),
            ("BOT__TRANSCRIPTS__PATH", transcripts.to_str().unwrap()),
        ],
    );
    let mut a = activity("l1", "conv-local", "http://127.0.0.1:9/");
    a["deliveryMode"] = json!("expectReplies");
    assert_eq!(post(&bot, &a).await.status(), 200);
    let incoming = logged(&transcripts, "conv-local").await;
    assert!(incoming.get("callerId").is_none(), "{incoming}");
}

// The cloud serves while the test waits for the bot to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_service_switches_to_the_us_government_clouds_endpoints() {
    // Two clouds on 127.0.0.1: the public one must never be asked.
    let public = Cloud::start().await;
    let gov = Cloud::start().await;
    let dir = tempfile::tempdir().unwrap();
    let transcripts = dir.path().join("transcripts.db");
    let mut env = public.env("auth");
    env.extend(gov.env("auth.us_government"));
    let env = with(
        env,
        &[
            ("ChannelService", "https://botframework.azure.us"),
            ("BOT__TRANSCRIPTS__KIND", "sqlite"),
            ("BOT__TRANSCRIPTS__PATH", transcripts.to_str().unwrap()),
        ],
    );
    let bot = start(dir.path(), &env);
    let url = gov.server.base_url();
    let resp = post_with(
        &bot,
        &gov.channel_token(GOV_ISSUER),
        &activity("g1", "conv-gov", &url),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(
        logged(&transcripts, "conv-gov").await["callerId"],
        "urn:botframework:azureusgov"
    );
    // The reply went to the conversation with the government cloud's token,
    // asked for its scope.
    let sent = gov.server.received();
    assert_eq!(sent.len(), 1);
    assert!(sent[0]
        .authorization
        .as_deref()
        .unwrap()
        .starts_with("Bearer app-token-"));
    let form = gov.server.last_token_form();
    let scope = form
        .iter()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str());
    assert_eq!(scope, Some("https://api.botframework.us/.default"));
    assert_eq!(public.server.metadata_fetches(), 0);
    assert_eq!(public.server.token_requests(), 0);

    // A public cloud channel token is not one of this cloud's.
    let resp = post_with(
        &bot,
        &gov.channel_token(PUBLIC_ISSUER),
        &activity("g2", "conv-gov", &url),
    )
    .await;
    assert_eq!(resp.status(), 401);

    // A ChannelService botbuilder does not know stops the start, by name.
    let said = start_refused(
        dir.path(),
        &[("ChannelService", "https://botframework.example")],
    );
    assert!(said.contains("ChannelService"), "{said}");
}

// The cloud serves while the test waits for the bot to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_assigned_managed_identity_may_be_spelled_as_botbuilder_users_do() {
    let cloud = Cloud::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = cloud
        .env("auth")
        .into_iter()
        .filter(|(k, _)| k != "MicrosoftAppPassword")
        .collect();
    env.extend([
        (
            "MicrosoftAppType".to_string(),
            "UserAssignedMsi".to_string(),
        ),
        ("IDENTITY_ENDPOINT".into(), cloud.server.msi_endpoint()),
        (
            "IDENTITY_HEADER".into(),
            bot_auth::testkit::MSI_HEADER.into(),
        ),
    ]);
    let bot = start(dir.path(), &env);
    let url = cloud.server.base_url();
    let resp = post_with(
        &bot,
        &cloud.channel_token(PUBLIC_ISSUER),
        &activity("m1", "conv-msi", &url),
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let sent = cloud.server.received();
    assert_eq!(sent.len(), 1);
    assert!(sent[0]
        .authorization
        .as_deref()
        .unwrap()
        .starts_with("Bearer msi-token-"));
    assert_eq!(cloud.server.msi_requests(), 1);
}

#[tokio::test]
async fn a_teams_tenant_the_bot_does_not_serve_is_refused_and_nothing_is_written() {
    let ours = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let dir = tempfile::tempdir().unwrap();
    let channel = ChannelServer::start().await;
    let bot = BotProcess::start(dir.path(), &[("BOT__AUTH__ALLOWED_TEAMS_TENANTS", ours)]);
    let from = |tenant: Option<&str>, id: &str, conversation: &str| {
        let mut a = activity(id, conversation, &channel.url);
        match tenant {
            Some(t) => a["channelData"]["tenant"]["id"] = json!(t),
            None => a["channelData"] = json!({}),
        }
        a
    };
    for (tenant, conversation) in [
        (Some("b1ab5f0e-2c4d-4e6f-8a9b-0c1d2e3f4a5b"), "conv-other"),
        (None, "conv-none"),
    ] {
        let resp = post(&bot, &from(tenant, "t1", conversation)).await;
        assert_eq!(resp.status(), 403, "{tenant:?}");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tenant"),
            "{body}"
        );
        let key = format!("msteams/conversations/{conversation}/");
        assert!(
            read_state(dir.path(), &key).await.is_none(),
            "{conversation}: state written"
        );
        assert!(read_state(dir.path(), "msteams/users/29:user/")
            .await
            .is_none());
    }
    assert!(channel.take().is_empty(), "nothing was answered");

    // The bot's own tenant, in any case, and other channels are served.
    let resp = post(&bot, &from(Some(&ours.to_uppercase()), "t2", "conv-ours")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(of_type(&channel.take(), "message").len(), 1);
    let mut webchat = from(None, "w1", "conv-webchat");
    webchat["channelId"] = json!("webchat");
    assert_eq!(post(&bot, &webchat).await.status(), 200);
}
