//! Inbound token validation against a local OpenID metadata + JWKS server
//! with RSA keys generated for the run (no Entra emulator exists; the
//! stand-in serves the documented payloads, see bot_auth::testkit).

use std::sync::OnceLock;
use std::time::Duration;

use bot_auth::testkit::{now, IdentityServer, TestKey};
use bot_auth::{AuthError, ChannelValidator, InboundConfig, TokenKind};
use serde_json::{json, Value};

const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
const SERVICE_URL: &str = "https://smba.trafficmanager.net/emea/";

fn keys() -> &'static [TestKey; 2] {
    static KEYS: OnceLock<[TestKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| [TestKey::generate("key-a"), TestKey::generate("key-b")])
}

fn config(server: &IdentityServer, min_refresh: Duration) -> InboundConfig {
    InboundConfig {
        channel_metadata_url: server.channel_metadata_url(),
        emulator_metadata_url: server.emulator_metadata_url(),
        tenant_id: Some("my-tenant".into()),
        key_min_refresh: min_refresh,
        ..InboundConfig::new(APP_ID)
    }
}

fn validator(server: &IdentityServer, min_refresh: Duration) -> ChannelValidator {
    ChannelValidator::new(config(server, min_refresh), bot_http::client()).unwrap()
}

fn channel_claims() -> Value {
    json!({
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        "exp": now() + 3600,
        "nbf": now() - 10,
        "serviceurl": SERVICE_URL,
    })
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[tokio::test]
async fn a_rotated_key_is_fetched_at_once_but_at_most_once_per_interval() {
    let [a, b] = keys();
    let server = IdentityServer::start().await;
    server.set_channel_keys(vec![a.jwk(None)]);

    // With the default one-minute limit, an unknown kid right after the
    // first load does not fetch again.
    let v = validator(&server, Duration::from_secs(60));
    let ok = v
        .authenticate(
            Some(&bearer(&a.sign(&channel_claims()))),
            "msteams",
            Some(SERVICE_URL),
        )
        .await
        .unwrap();
    assert_eq!(ok.kind, TokenKind::Channel);
    assert_eq!(server.metadata_fetches(), 1);
    server.set_channel_keys(vec![a.jwk(None), b.jwk(None)]);
    let rotated = bearer(&b.sign(&channel_claims()));
    for _ in 0..5 {
        let e = v
            .authenticate(Some(&rotated), "msteams", Some(SERVICE_URL))
            .await
            .unwrap_err();
        assert!(matches!(e, AuthError::InvalidToken(_)), "{e}");
    }
    assert_eq!(
        server.metadata_fetches(),
        1,
        "unknown kids must not hammer the metadata"
    );

    // Once the interval has passed (zero here), the unknown kid refreshes.
    let v = validator(&server, Duration::ZERO);
    server.set_channel_keys(vec![a.jwk(None)]);
    v.authenticate(
        Some(&bearer(&a.sign(&channel_claims()))),
        "msteams",
        Some(SERVICE_URL),
    )
    .await
    .unwrap();
    let before = server.metadata_fetches();
    server.set_channel_keys(vec![a.jwk(None), b.jwk(None)]);
    v.authenticate(Some(&rotated), "msteams", Some(SERVICE_URL))
        .await
        .unwrap();
    assert_eq!(server.metadata_fetches(), before + 1);
    // And the new key is now cached.
    v.authenticate(Some(&rotated), "msteams", Some(SERVICE_URL))
        .await
        .unwrap();
    assert_eq!(server.metadata_fetches(), before + 1);
}

#[tokio::test]
async fn malformed_tokens_are_refused_without_any_fetch() {
    let [a, _] = keys();
    let server = IdentityServer::start().await;
    server.set_channel_keys(vec![a.jwk(None)]);
    let v = validator(&server, Duration::ZERO);
    let claims = channel_claims();
    let cases = [
        None,
        Some("Basic dXNlcjpwYXNz".to_string()),
        Some("Bearer".to_string()),
        Some("Bearer not.a.jwt".to_string()),
        Some("Bearer %%%garbage%%%".to_string()),
        Some(bearer(&bot_auth::testkit::unsigned_token(&claims, "key-a"))),
        Some(bearer(&bot_auth::testkit::hmac_token(
            &claims,
            &a.public_der,
            "key-a",
        ))),
        Some(bearer(&a.sign(
            &json!({"iss": "https://evil.example", "aud": APP_ID, "exp": now() + 60}),
        ))),
    ];
    for h in &cases {
        let e = v
            .authenticate(h.as_deref(), "msteams", Some(SERVICE_URL))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AuthError::MissingHeader
                    | AuthError::MalformedHeader(_)
                    | AuthError::InvalidToken(_)
            ),
            "{h:?}: {e}"
        );
    }
    assert_eq!(server.metadata_fetches(), 0);
}

#[tokio::test]
async fn unreachable_metadata_is_unavailable_not_unauthorized() {
    // A port nothing listens on: bind, read the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = InboundConfig {
        channel_metadata_url: format!("http://127.0.0.1:{port}/meta"),
        emulator_metadata_url: format!("http://127.0.0.1:{port}/meta"),
        key_min_refresh: Duration::ZERO,
        ..InboundConfig::new(APP_ID)
    };
    let v = ChannelValidator::new(cfg, bot_http::client()).unwrap();
    let [a, _] = keys();
    let e = v
        .authenticate(
            Some(&bearer(&a.sign(&channel_claims()))),
            "msteams",
            Some(SERVICE_URL),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::KeysUnavailable { .. }), "{e}");
    assert!(matches!(
        v.ready().await,
        Err(AuthError::KeysUnavailable { .. })
    ));
}

#[tokio::test]
async fn emulator_and_skill_tokens_name_the_caller() {
    let [a, _] = keys();
    let server = IdentityServer::start().await;
    server.set_emulator_keys(vec![a.jwk(None)]);
    let v = validator(&server, Duration::ZERO);
    let base = |iss: &str| json!({"iss": iss, "aud": APP_ID, "exp": now() + 600, "nbf": now() - 5});
    let mut v1 = base("https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/");
    v1["ver"] = json!("1.0");
    v1["appid"] = json!(APP_ID);
    let id = v
        .authenticate(Some(&bearer(&a.sign(&v1))), "emulator", None)
        .await
        .unwrap();
    assert_eq!(id.kind, TokenKind::EmulatorOrSkill);
    assert_eq!(id.caller_app_id.as_deref(), Some(APP_ID));

    let mut v2 =
        base("https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0");
    v2["ver"] = json!("2.0");
    v2["azp"] = json!(APP_ID);
    v.authenticate(Some(&bearer(&a.sign(&v2))), "emulator", None)
        .await
        .unwrap();

    // The configured SingleTenant tenant is trusted too.
    let mut own = base("https://login.microsoftonline.com/my-tenant/v2.0");
    own["ver"] = json!("2.0");
    own["azp"] = json!(APP_ID);
    v.authenticate(Some(&bearer(&a.sign(&own))), "emulator", None)
        .await
        .unwrap();

    // v2 without azp, and a caller that is not allowed.
    let mut no_azp = v2.clone();
    no_azp.as_object_mut().unwrap().remove("azp");
    let e = v
        .authenticate(Some(&bearer(&a.sign(&no_azp))), "emulator", None)
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::Forbidden(_)), "{e}");
    let mut stranger = v1.clone();
    stranger["appid"] = json!("some-other-bot");
    let e = v
        .authenticate(Some(&bearer(&a.sign(&stranger))), "emulator", None)
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::Forbidden(_)), "{e}");

    // An issuer of some other tenant is not trusted at all.
    let mut other = base("https://sts.windows.net/another-tenant/");
    other["appid"] = json!(APP_ID);
    let e = v
        .authenticate(Some(&bearer(&a.sign(&other))), "emulator", None)
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::InvalidToken(_)), "{e}");
}

#[tokio::test]
async fn the_caller_id_comes_from_the_token_and_star_allows_any_caller() {
    let [a, _] = keys();
    let server = IdentityServer::start().await;
    server.set_channel_keys(vec![a.jwk(None)]);
    server.set_emulator_keys(vec![a.jwk(None)]);
    let v = validator(&server, Duration::ZERO);
    let channel = v
        .authenticate(
            Some(&bearer(&a.sign(&channel_claims()))),
            "msteams",
            Some(SERVICE_URL),
        )
        .await
        .unwrap();
    assert_eq!(channel.caller_id, "urn:botframework:azure");
    let skill = |caller: &str| {
        json!({"iss": "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/",
               "aud": APP_ID, "exp": now() + 600, "nbf": now() - 5, "ver": "1.0", "appid": caller})
    };
    // The Emulator signs with the bot's own app id: a channel, not a bot.
    let emulator = v
        .authenticate(Some(&bearer(&a.sign(&skill(APP_ID)))), "emulator", None)
        .await
        .unwrap();
    assert_eq!(emulator.caller_id, "urn:botframework:azure");
    let other = bearer(&a.sign(&skill("22222222-0000-0000-0000-000000000000")));
    assert!(matches!(
        v.authenticate(Some(&other), "emulator", None).await,
        Err(AuthError::Forbidden(_))
    ));
    let any = ChannelValidator::new(
        InboundConfig {
            allowed_callers: vec!["*".into()],
            ..config(&server, Duration::ZERO)
        },
        bot_http::client(),
    )
    .unwrap();
    let id = any
        .authenticate(Some(&other), "emulator", None)
        .await
        .unwrap();
    assert_eq!(
        id.caller_id,
        "urn:botframework:aadappid:22222222-0000-0000-0000-000000000000"
    );
}

#[tokio::test]
async fn the_us_government_cloud_trusts_its_own_issuers() {
    let [a, _] = keys();
    let server = IdentityServer::start().await;
    server.set_emulator_keys(vec![a.jwk(None)]);
    let gov = ChannelValidator::new(
        InboundConfig {
            emulator_authority: "https://login.microsoftonline.us".into(),
            emulator_tenants: bot_auth::constants::US_GOVERNMENT_TENANTS
                .map(String::from)
                .to_vec(),
            ..config(&server, Duration::ZERO)
        },
        bot_http::client(),
    )
    .unwrap();
    let token = |iss: &str| {
        bearer(
            &a.sign(&json!({"iss": iss, "aud": APP_ID, "exp": now() + 600,
                                "nbf": now() - 5, "ver": "1.0", "appid": APP_ID})),
        )
    };
    for iss in [
        "https://sts.windows.net/cab8a31a-1906-4287-a0d8-4eef66b95f6e/",
        "https://login.microsoftonline.us/cab8a31a-1906-4287-a0d8-4eef66b95f6e/v2.0",
        "https://login.microsoftonline.us/f8cdef31-a31e-4b4a-93e4-5f571e91255a/",
    ] {
        gov.authenticate(Some(&token(iss)), "emulator", None)
            .await
            .unwrap_or_else(|e| panic!("{iss}: {e}"));
    }
    // The public cloud's issuers are not the US Government cloud's.
    let e = gov
        .authenticate(
            Some(&token(
                "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0",
            )),
            "emulator",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::InvalidToken(_)), "{e}");
}

#[tokio::test]
async fn a_key_fetch_cancelled_half_way_does_not_hold_off_the_next() {
    use bot_auth::openid::OpenIdKeys;
    // A metadata endpoint that does not answer yet: connections wait in the
    // listener's queue.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", std_listener.local_addr().unwrap());
    let openid = OpenIdKeys::new(
        format!("{base}/meta"),
        bot_http::client(),
        Duration::from_secs(3600),
        Duration::from_secs(60),
    );
    // A readiness check gives up on it.
    let gave_up = tokio::time::timeout(Duration::from_millis(200), openid.ensure_fresh()).await;
    assert!(gave_up.is_err(), "the fetch cannot have finished");

    // The endpoint answers now; the next caller fetches at once, although
    // the one-minute limit has not passed.
    let [a, _] = keys();
    let jwks = json!({"keys": [a.jwk(None)]});
    let meta = json!({"jwks_uri": format!("{base}/keys")});
    let app = axum::Router::new()
        .route(
            "/meta",
            axum::routing::get(move || async move { axum::Json(meta) }),
        )
        .route(
            "/keys",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
    let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    assert!(openid.key(&a.kid).await.unwrap().is_some());
}
