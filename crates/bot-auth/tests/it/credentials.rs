//! Outbound app tokens against a local token endpoint that counts requests
//! (no Entra emulator exists; the stand-in answers the documented
//! client-credentials and managed-identity payloads, see bot_auth::testkit).

use std::sync::Arc;
use std::time::Duration;

use bot_auth::constants::TOKEN_SCOPE;
use bot_auth::testkit::{IdentityServer, MSI_HEADER};
use bot_auth::{AppCredentials, AppIdentity, ServiceUrlPolicy};
use bot_schema::CredentialProvider;
use secrecy::{ExposeSecret, SecretString};

const ALLOWED: &str = "https://smba.trafficmanager.net/emea/";

fn client_secret(server: &IdentityServer) -> AppCredentials {
    let policy = ServiceUrlPolicy::new(&["smba.trafficmanager.net"], false).unwrap();
    AppCredentials::new(
        AppIdentity::ClientSecret {
            client_id: "app-1".into(),
            secret: SecretString::from("s3cret-password"),
            token_endpoint: server.token_endpoint(),
        },
        TOKEN_SCOPE,
        bot_http::client(),
        Some(Arc::new(policy)),
    )
}

#[tokio::test]
async fn a_hundred_concurrent_callers_cause_one_token_request() {
    let server = IdentityServer::start().await;
    // Slow enough that all hundred callers are waiting while it runs.
    server.set_token_delay(Duration::from_millis(200));
    let creds = Arc::new(client_secret(&server));
    let calls = (0..100).map(|_| {
        let c = creds.clone();
        tokio::spawn(async move { c.token(ALLOWED).await })
    });
    let tokens = futures::future::join_all(calls).await;
    for t in tokens {
        let t = t.unwrap().unwrap().unwrap();
        assert_eq!(t.expose_secret(), "app-token-1");
    }
    assert_eq!(server.token_requests(), 1);
    let form = server.last_token_form();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(field("grant_type"), Some("client_credentials"));
    assert_eq!(field("client_id"), Some("app-1"));
    assert_eq!(field("client_secret"), Some("s3cret-password"));
    assert_eq!(
        field("scope"),
        Some("https://api.botframework.com/.default")
    );
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_and_a_fresh_one_is_reused() {
    let server = IdentityServer::start().await;
    let creds = client_secret(&server);
    // Four minutes left: inside the five-minute margin, so never reused.
    server.set_token_lifetime(240);
    let first = creds.token(ALLOWED).await.unwrap().unwrap();
    let second = creds.token(ALLOWED).await.unwrap().unwrap();
    assert_eq!(server.token_requests(), 2);
    assert_ne!(first.expose_secret(), second.expose_secret());
    // An hour left: cached.
    server.set_token_lifetime(3600);
    let third = creds.token(ALLOWED).await.unwrap().unwrap();
    let fourth = creds.token(ALLOWED).await.unwrap().unwrap();
    assert_eq!(server.token_requests(), 3);
    assert_eq!(third.expose_secret(), fourth.expose_secret());
}

#[tokio::test]
async fn no_token_is_handed_out_for_a_disallowed_service_url() {
    let server = IdentityServer::start().await;
    let creds = client_secret(&server);
    for bad in [
        "https://attacker.example/",
        "http://smba.trafficmanager.net/",
    ] {
        let e = creds.token(bad).await.unwrap_err();
        assert!(e.to_string().contains("not allowed"), "{e}");
    }
    assert_eq!(server.token_requests(), 0);
}

#[tokio::test]
async fn managed_identity_uses_the_identity_header_and_client_id() {
    let server = IdentityServer::start().await;
    let creds = AppCredentials::new(
        AppIdentity::ManagedIdentity {
            client_id: "msi-client".into(),
            endpoint: server.msi_endpoint(),
            header: SecretString::from(MSI_HEADER),
        },
        TOKEN_SCOPE,
        bot_http::client(),
        None,
    );
    let t = creds.token(ALLOWED).await.unwrap().unwrap();
    assert_eq!(t.expose_secret(), "msi-token-1");
    creds.token(ALLOWED).await.unwrap();
    assert_eq!(server.msi_requests(), 1);

    let wrong = AppCredentials::new(
        AppIdentity::ManagedIdentity {
            client_id: "msi-client".into(),
            endpoint: server.msi_endpoint(),
            header: SecretString::from("wrong"),
        },
        TOKEN_SCOPE,
        bot_http::client(),
        None,
    );
    let e = wrong.token(ALLOWED).await.unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_a_typed_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let creds = AppCredentials::new(
        AppIdentity::ClientSecret {
            client_id: "app-1".into(),
            secret: SecretString::from("pw"),
            token_endpoint: format!("http://127.0.0.1:{port}/token"),
        },
        TOKEN_SCOPE,
        bot_http::client(),
        None,
    );
    let e = creds.access_token().await.unwrap_err();
    assert!(
        matches!(e, bot_auth::AuthError::TokenEndpoint { .. }),
        "{e}"
    );
    assert!(!e.to_string().contains("pw"));
}
