//! `botctl send` and `botctl handoff` as an operator runs them, against the
//! state a running bot wrote: bot-api (its real app, served on 127.0.0.1)
//! with channel authentication on, keeping SQLite state that the botctl
//! binary opens with the same settings.
//!
//! No Entra or Bot Framework token service emulator exists: the OpenID
//! metadata, signing keys, token endpoint and the Connector the messages go
//! to are bot-auth's local stand-in (`IdentityServer`), serving the
//! documented payloads.

use std::process::Output;

use bot_api::{startup, Settings};
use bot_auth::testkit::{now, IdentityServer, TestKey};
use serde_json::{json, Value};
use tokio::process::Command;

const APP_ID: &str = "0f0e0d0c-bbbb-cccc-dddd-eeeeeeeeeeee";
const PASSWORD: &str = "the-bots-client-secret";
const CONV: &str = "a:1pL8fWzv6aG3D";

fn root() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../..").to_string()
}

/// What bot-api and botctl both run with.
fn env(server: &IdentityServer, state: &std::path::Path) -> Vec<(String, String)> {
    [
        ("BOT_CONFIG_DIR", format!("{}/config", root())),
        ("BOT__QNA__KB_PATH", format!("{}/kb/sample.tsv", root())),
        ("BOT__STORAGE__KIND", "sqlite".into()),
        ("BOT__STORAGE__PATH", state.display().to_string()),
        ("MicrosoftAppId", APP_ID.into()),
        ("MicrosoftAppPassword", PASSWORD.into()),
        (
            "BOT__AUTH__CHANNEL_OPENID_METADATA_URL",
            server.channel_metadata_url(),
        ),
        (
            "BOT__AUTH__EMULATOR_OPENID_METADATA_URL",
            server.emulator_metadata_url(),
        ),
        ("BOT__AUTH__TOKEN_ENDPOINT", server.token_endpoint()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// bot-api on a free port; its base URL.
async fn serve(env: &[(String, String)]) -> String {
    let settings = Settings::load_from(env).expect("settings");
    let state = startup::build_state(settings).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, startup::app(state)).await });
    url
}

async fn botctl(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botctl"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .unwrap()
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} / {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A Teams message with the channel's token, as the Bot Connector posts it.
async fn from_teams(bot: &str, server: &IdentityServer, key: &TestKey, id: &str, text: &str) {
    let token = key.sign(&json!({
        "iss": "https://api.botframework.com", "aud": APP_ID,
        "exp": now() + 3600, "nbf": now() - 10, "serviceurl": server.base_url(),
    }));
    let activity = json!({
        "type": "message", "id": id, "channelId": "msteams", "serviceUrl": server.base_url(),
        "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8t", "name": "Megan Bowen"},
        "conversation": {"conversationType": "personal", "tenantId": "72f988bf", "id": CONV},
        "recipient": {"id": "28:faq-bot", "name": "FAQ Bot"}, "text": text,
    });
    let resp = bot_http::client()
        .post(format!("{bot}/api/messages"))
        .bearer_auth(token)
        .json(&activity)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn botctl_sends_with_the_bots_token_and_closes_a_hand_off() {
    let server = IdentityServer::start().await;
    let key = TestKey::generate("botctl-key");
    server.set_channel_keys(vec![key.jwk(None)]);
    let dir = tempfile::tempdir().unwrap();
    let env = env(&server, &dir.path().join("state.db"));
    let bot = serve(&env).await;

    // Not seen yet: exit 3, and the message says why.
    let o = botctl(&env, &["send", "msteams", CONV, "Hello from the team"]).await;
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("is known to this bot"));

    from_teams(&bot, &server, &key, "m1", "talk to a human").await;
    let replies = server.received().len();
    let o = botctl(&env, &["handoff", "list"]).await;
    assert!(o.status.success(), "{o:?}");
    let open = stdout_json(&o);
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    assert_eq!(open[0]["conversationId"], CONV);

    // The operator's message: sendToConversation with a token from the
    // token endpoint, got with the bot's own credentials.
    let tokens_before = server.token_requests();
    let o = botctl(
        &env,
        &["send", "msteams", CONV, "Hi Megan, Sam from IT here."],
    )
    .await;
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stdout_json(&o), json!({"id": "sent-1"}));
    let received = server.received();
    assert_eq!(received.len(), replies + 1);
    let sent = received.last().unwrap();
    assert_eq!(sent.path, format!("/v3/conversations/{CONV}/activities"));
    assert_eq!(sent.activity["text"], "Hi Megan, Sam from IT here.");
    assert_eq!(
        sent.activity["recipient"]["id"],
        "29:1XJKJMvc5GBtc2JwZq0oj8t"
    );
    assert_eq!(server.token_requests(), tokens_before + 1);
    let auth = sent.authorization.as_deref().unwrap_or_default();
    assert!(auth.starts_with("Bearer app-token-"), "{auth}");
    let form = server.last_token_form();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(field("client_id").as_deref(), Some(APP_ID));
    assert_eq!(field("client_secret").as_deref(), Some(PASSWORD));
    assert_eq!(field("grant_type").as_deref(), Some("client_credentials"));

    // The user's answer is kept for the operator; botctl closes the hand-off.
    from_teams(&bot, &server, &key, "m2", "It is about my laptop").await;
    assert_eq!(
        server.received().len(),
        replies + 1,
        "not answered by the bot"
    );
    let o = botctl(&env, &["handoff", "close", "msteams", CONV]).await;
    assert!(o.status.success(), "{o:?}");
    let closed = stdout_json(&o);
    assert_eq!(closed["messages"][0]["text"], "It is about my laptop");
    let o = botctl(&env, &["handoff", "list"]).await;
    assert_eq!(stdout_json(&o), json!([]));
    let o = botctl(&env, &["handoff", "close", "msteams", CONV]).await;
    assert_eq!(o.status.code(), Some(3), "{o:?}");

    // Back with the bot: the next question is answered.
    from_teams(&bot, &server, &key, "m3", "Who made you?").await;
    let last = server.received().last().unwrap().activity.clone();
    assert_eq!(
        last["text"],
        "A small team built me in Rust, on the Bot Framework protocol."
    );
}
