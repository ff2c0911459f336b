//! The Cosmos DB client reaches for TLS with the crypto provider bot-http
//! installs (the Azure SDK is built without its own rustls features):
//! against an https endpoint it sends a TLS ClientHello instead of
//! panicking for want of a provider. The listener answers nothing, so the
//! open fails, as an error. Alone in its test binary (its own process), so
//! nothing else has installed the provider first.

use std::time::Duration;

use bot_storage::{CosmosAuth, CosmosConfig, CosmosStorage};
use secrecy::SecretString;

#[path = "support/first_byte.rs"]
mod first_byte;
use first_byte::{listener, TLS_HANDSHAKE};

#[tokio::test]
async fn the_cosmos_client_starts_a_tls_handshake() {
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let (url, mut first_bytes) = listener().await;
    let config = CosmosConfig {
        endpoint: format!("{url}/"),
        database: "bot".into(),
        container: "state".into(),
        // Any base64 will do: no request gets as far as being signed.
        auth: CosmosAuth::Key(SecretString::from("a2V5")),
        preferred_regions: vec![],
        create_if_missing: false,
    };
    // The SDK retries a failed connection for a while; the ClientHello is
    // what this test is after, and that the open does not panic.
    let open = tokio::spawn(async move { CosmosStorage::open(&config).await.is_ok() });
    let first = tokio::time::timeout(Duration::from_secs(60), first_bytes.recv()).await;
    assert_eq!(first.ok().flatten(), Some(TLS_HANDSHAKE));
    if open.is_finished() {
        assert!(!open.await.expect("open panicked"));
    } else {
        open.abort();
    }
}
