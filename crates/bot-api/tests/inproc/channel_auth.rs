//! Channel security, black-box through the real app (`startup::app`, driven
//! with `tower::ServiceExt::oneshot`) with in-memory storage we inspect.
//!
//! No Entra or Bot Framework token service emulator exists, so the OpenID
//! metadata, the JWKS (RSA keys generated for this run), the token endpoint
//! and the Connector the replies go to are a local stand-in serving the
//! documented payloads on 127.0.0.1 (`bot_auth::testkit::IdentityServer`).

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use bot_api::{startup, AppState};
use bot_auth::testkit::{hmac_token, now, unsigned_token, Algorithm, IdentityServer, TestKey};
use bot_core::state::{user_key, ConversationState};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::harness::{post_activity, settings};

const APP_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const ADMIN_KEY: &str = "admin-key-for-tests-0123456789";

/// key A (published, endorsed for some channels), key B (published only
/// after a rotation), key C (never published: an attacker's).
fn keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            TestKey::generate("key-a"),
            TestKey::generate("key-b"),
            TestKey::generate("key-c"),
        ]
    })
}

struct Harness {
    server: IdentityServer,
    state: AppState,
    app: Router,
}

async fn harness(extra: &[(&str, String)]) -> Harness {
    let server = IdentityServer::start().await;
    let [a, _, _] = keys();
    server.set_channel_keys(vec![a.jwk(Some(&["msteams", "webchat"]))]);
    server.set_emulator_keys(vec![a.jwk(None)]);
    harness_with(server, extra).await
}

async fn harness_with(server: IdentityServer, extra: &[(&str, String)]) -> Harness {
    let mut all: Vec<(&str, String)> = vec![
        ("MicrosoftAppId", APP_ID.into()),
        ("MicrosoftAppPassword", "app-password-secret".into()),
        (
            "BOT__AUTH__CHANNEL_OPENID_METADATA_URL",
            server.channel_metadata_url(),
        ),
        (
            "BOT__AUTH__EMULATOR_OPENID_METADATA_URL",
            server.emulator_metadata_url(),
        ),
        ("BOT__AUTH__TOKEN_ENDPOINT", server.token_endpoint()),
        // Rotation is tested with no minimum interval; bot-auth's own tests
        // cover the one-minute limit.
        ("BOT__AUTH__KEY_REFRESH_MIN_SECS", "0".into()),
    ];
    all.extend(extra.iter().cloned());
    let settings = settings(&all);
    let state = startup::build_state(settings).await.expect("state");
    let app = startup::app(state.clone());
    Harness { server, state, app }
}

fn claims(service_url: &str) -> Value {
    json!({
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        "exp": now() + 3600,
        "nbf": now() - 10,
        "serviceurl": service_url,
    })
}

fn activity(channel: &str, conversation: &str, service_url: &str) -> Value {
    json!({
        "type": "message",
        "id": format!("act-{conversation}"),
        "channelId": channel,
        "serviceUrl": service_url,
        "conversation": {"id": conversation},
        "from": {"id": "user-1"},
        "recipient": {"id": "bot"},
        "text": "hello",
    })
}

async fn post(app: &Router, auth: Option<&str>, body: &Value) -> (StatusCode, Value) {
    post_activity(app, auth, body).await
}

/// The conversation and user documents a turn would have written.
async fn stored(state: &AppState, channel: &str, conversation: &str) -> usize {
    let keys = vec![
        ConversationState::key(channel, conversation),
        user_key(channel, "user-1"),
    ];
    state.storage().read(&keys).await.unwrap().len()
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[tokio::test]
async fn the_token_matrix_is_answered_right_and_rejections_run_no_turn() {
    let h = harness(&[]).await;
    let [a, b, c] = keys();
    let url = h.server.base_url();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(&url);
        f(&mut c);
        c
    };

    // (case, channel, Authorization header, expected status)
    let cases: Vec<(&str, &str, Option<String>, StatusCode)> = vec![
        (
            "expired",
            "msteams",
            Some(bearer(&a.sign(&with(&|c| c["exp"] = json!(now() - 600))))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "nbf in the future",
            "msteams",
            Some(bearer(&a.sign(&with(&|c| c["nbf"] = json!(now() + 600))))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong issuer",
            "msteams",
            Some(bearer(
                &a.sign(&with(&|c| c["iss"] = json!("https://evil.example"))),
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong audience",
            "msteams",
            Some(bearer(&a.sign(&with(&|c| c["aud"] = json!("another-bot"))))),
            StatusCode::FORBIDDEN,
        ),
        (
            "alg none",
            "msteams",
            Some(bearer(&unsigned_token(&claims(&url), "key-a"))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "HS256 signed with the public key",
            "msteams",
            Some(bearer(&hmac_token(&claims(&url), &a.public_der, "key-a"))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "bad signature",
            "msteams",
            Some(bearer(&c.sign_with(
                &claims(&url),
                Algorithm::RS256,
                "key-a",
            ))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown kid",
            "msteams",
            Some(bearer(&b.sign(&claims(&url)))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "missing endorsement",
            "directline",
            Some(bearer(&a.sign(&claims(&url)))),
            StatusCode::FORBIDDEN,
        ),
        (
            "serviceurl mismatch",
            "msteams",
            Some(bearer(
                &a.sign(&claims("https://smba.trafficmanager.net/emea/")),
            )),
            StatusCode::FORBIDDEN,
        ),
        ("no header", "msteams", None, StatusCode::UNAUTHORIZED),
        (
            "Basic scheme",
            "msteams",
            Some("Basic dXNlcjpwYXNzd29yZA==".into()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "garbage",
            "msteams",
            Some("Bearer )(*&^%$#@!garbage".into()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "garbage header",
            "msteams",
            Some("x".repeat(40)),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (i, (name, channel, header, expected)) in cases.iter().enumerate() {
        let conv = format!("conv-{i}");
        let (status, body) = post(&h.app, header.as_deref(), &activity(channel, &conv, &url)).await;
        assert_eq!(status, *expected, "{name}: {body}");
        let msg = body["error"]["message"].as_str().unwrap_or("");
        assert!(!msg.is_empty(), "{name}: a useful message: {body}");
        assert_eq!(
            stored(&h.state, channel, &conv).await,
            0,
            "{name}: no state written"
        );
    }
    assert!(
        h.server.received().is_empty(),
        "no reply was sent for a rejected request"
    );
    assert_eq!(
        h.server.token_requests(),
        0,
        "no app token fetched for a rejected request"
    );

    // The valid token runs the turn, saves state and replies with the app token.
    let (status, body) = post(
        &h.app,
        Some(&bearer(&a.sign(&claims(&url)))),
        &activity("msteams", "ok", &url),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        stored(&h.state, "msteams", "ok").await >= 1,
        "the turn saved its state"
    );
    let sent = h.server.received();
    assert!(!sent.is_empty());
    assert!(sent
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer app-token-1")));
    assert!(sent[0].path.starts_with("/v3/conversations/ok/activities"));

    // Rotation: key B appears in the JWKS and its token is now accepted.
    h.server
        .set_channel_keys(vec![a.jwk(Some(&["msteams", "webchat"])), b.jwk(None)]);
    let (status, body) = post(
        &h.app,
        Some(&bearer(&b.sign(&claims(&url)))),
        &activity("msteams", "rotated", &url),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        stored(&h.state, "msteams", "rotated").await >= 1,
        "the turn saved its state"
    );

    // RS512 is accepted too.
    let rs512 = a.sign_with(&claims(&url), Algorithm::RS512, "key-a");
    let (status, body) = post(
        &h.app,
        Some(&bearer(&rs512)),
        &activity("webchat", "rs512", &url),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_disallowed_service_url_is_refused_before_the_turn() {
    let h = harness(&[("BOT__BOT__MODE", "production".into())]).await;
    let [a, _, _] = keys();
    for (url, why) in [
        ("https://attacker.example/", "host not on the list"),
        (
            h.server.base_url().as_str(),
            "http (and a loopback IP) outside local mode",
        ),
    ] {
        let token = bearer(&a.sign(&claims(url)));
        let (status, body) = post(&h.app, Some(&token), &activity("msteams", "c1", url)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{why}: {body}");
        assert_eq!(body["error"]["code"], "ServiceUrlNotAllowed", "{body}");
        assert_eq!(stored(&h.state, "msteams", "c1").await, 0);
    }
    assert!(h.server.received().is_empty());
    assert_eq!(h.server.token_requests(), 0);
}

#[tokio::test]
async fn unreachable_metadata_means_503_but_malformed_tokens_still_401_and_the_process_starts() {
    let server = IdentityServer::start().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/meta", l.local_addr().unwrap().port())
    };
    let h = harness_with(
        server,
        &[
            ("BOT__AUTH__CHANNEL_OPENID_METADATA_URL", closed.clone()),
            ("BOT__AUTH__EMULATOR_OPENID_METADATA_URL", closed),
        ],
    )
    .await;
    let url = h.server.base_url();
    let [a, _, _] = keys();
    let (status, _) = post(
        &h.app,
        Some("Bearer nonsense"),
        &activity("msteams", "c", &url),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = post(
        &h.app,
        Some(&bearer(&a.sign(&claims(&url)))),
        &activity("msteams", "c", &url),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "AuthUnavailable");
    assert_eq!(stored(&h.state, "msteams", "c").await, 0);

    // Reported, but not regional: the metadata is global, so failing over to
    // the other region would not help, and readiness stays with the regional checks.
    let report = h.state.readiness.report(true);
    assert!(report.ready);
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "channelAuthKeys")
        .unwrap();
    assert_eq!(check.status, "down");
    assert!(!check.regional);
    assert!(check
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("signing keys unavailable"));
}

#[tokio::test]
async fn readiness_reports_the_keys_when_they_load() {
    let h = harness(&[]).await;
    let report = h.state.readiness.report(true);
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "channelAuthKeys")
        .unwrap();
    assert_eq!(check.status, "up", "{:?}", check.last_error);
}

#[tokio::test]
async fn a_hundred_concurrent_turns_cause_one_token_request() {
    let h = harness(&[]).await;
    h.server
        .set_token_delay(std::time::Duration::from_millis(200));
    let [a, _, _] = keys();
    let url = h.server.base_url();
    let token = bearer(&a.sign(&claims(&url)));
    let turns = (0..100).map(|i| {
        let app = h.app.clone();
        let token = token.clone();
        let body = activity("msteams", &format!("c{i}"), &url);
        tokio::spawn(async move { post(&app, Some(&token), &body).await.0 })
    });
    for status in futures::future::join_all(turns).await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    assert_eq!(h.server.token_requests(), 1);
    let sent = h.server.received();
    assert!(sent.len() >= 100, "{} replies", sent.len());
    assert!(sent
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer app-token-1")));
}

#[tokio::test]
async fn admin_routes_need_their_own_key_and_are_off_without_one() {
    let get = |app: &Router, headers: &[(&str, String)]| {
        let mut req = Request::get("/admin/config");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let app = app.clone();
        let req = req.body(Body::empty()).unwrap();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).to_string())
        }
    };
    let off = harness(&[]).await;
    assert_eq!(
        get(&off.app, &[("x-admin-key", ADMIN_KEY.into())]).await.0,
        StatusCode::NOT_FOUND
    );

    let h = harness(&[("BOT__AUTH__ADMIN_KEY", ADMIN_KEY.into())]).await;
    let [a, _, _] = keys();
    let channel_token = bearer(&a.sign(&claims(&h.server.base_url())));
    for headers in [
        vec![],
        vec![("authorization", channel_token)],
        vec![("x-admin-key", "admin-key-for-tests-012345678X".into())],
        vec![("x-admin-key", "short".into())],
    ] {
        let (status, body) = get(&h.app, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {body}");
    }
    let (status, body) = get(&h.app, &[("x-admin-key", ADMIN_KEY.into())]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let config: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["app"]["MicrosoftAppId"], APP_ID);
    assert_eq!(config["app"]["MicrosoftAppPassword"], "[REDACTED]");
    assert_eq!(config["auth"]["admin_key"], "[REDACTED]");
    assert!(
        !body.contains("app-password-secret") && !body.contains(ADMIN_KEY),
        "{body}"
    );
}

#[tokio::test]
async fn local_mode_without_an_app_id_runs_open_and_production_refuses() {
    let server = IdentityServer::start().await;
    let url = server.base_url();
    let h = harness_with(server, &[("MicrosoftAppId", String::new())]).await;
    assert!(h.state.auth.is_none());
    let (status, body) = post(&h.app, None, &activity("emulator", "open", &url)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = h.server.received();
    assert!(!sent.is_empty() && sent.iter().all(|r| r.authorization.is_none()));

    let e = startup::build_state(settings(&[("BOT__BOT__MODE", "production")]))
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("never runs with auth off"), "{e}");
}

#[tokio::test]
async fn emulator_tokens_are_accepted_from_the_bot_framework_tenant() {
    let h = harness(&[]).await;
    let [a, _, _] = keys();
    let url = h.server.base_url();
    let token = a.sign(&json!({
        "iss": "https://login.microsoftonline.com/d6d49420-f39b-4df7-a1dc-d59a935871db/v2.0",
        "aud": APP_ID, "azp": APP_ID, "ver": "2.0",
        "exp": now() + 600, "nbf": now() - 5,
    }));
    let (status, body) = post(
        &h.app,
        Some(&bearer(&token)),
        &activity("emulator", "emu", &url),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// In production mode nothing but the probes and the JWT-guarded channel
/// endpoint answers without a key: serve mode is 404 unless switched on,
/// and then 401 without its key.
#[tokio::test]
async fn production_serve_mode_is_404_when_off_and_401_without_its_key() {
    let ask = |app: Router, key: Option<&'static str>| async move {
        let mut req =
            Request::post("/language/:query-knowledgebases?projectName=p&api-version=2021-10-01")
                .header("content-type", "application/json");
        if let Some(k) = key {
            req = req.header("ocp-apim-subscription-key", k);
        }
        app.oneshot(req.body(Body::from(r#"{"question":"hi"}"#)).unwrap())
            .await
            .unwrap()
            .status()
    };
    let production = ("BOT__BOT__MODE", "production".to_string());
    let off = harness(std::slice::from_ref(&production)).await;
    assert_eq!(ask(off.app.clone(), None).await, StatusCode::NOT_FOUND);
    let on = harness(&[
        production,
        ("BOT__QNA__SERVE", "true".into()),
        ("BOT__QNA__SERVE_KEY", "serve-key-for-tests".into()),
    ])
    .await;
    assert_eq!(ask(on.app.clone(), None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ask(on.app.clone(), Some("serve-key-for-tests")).await,
        StatusCode::OK
    );
}
