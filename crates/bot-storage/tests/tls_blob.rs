//! The Blob client reaches for TLS with the crypto provider bot-http
//! installs (the Azure SDK is built without its own rustls features):
//! against an https endpoint it sends a TLS ClientHello instead of
//! panicking for want of a provider. The listener answers nothing, so the
//! open fails, as an error. Alone in its test binary (its own process), so
//! nothing else has installed the provider first.

use std::time::Duration;

use bot_storage::{BlobAuth, BlobConfig, BlobStorage};
use secrecy::SecretString;

#[path = "support/first_byte.rs"]
mod first_byte;
use first_byte::{listener, TLS_HANDSHAKE};

#[tokio::test]
async fn the_blob_client_starts_a_tls_handshake() {
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let (url, mut first_bytes) = listener().await;
    let config = BlobConfig {
        account_url: format!("{url}/devstoreaccount1"),
        secondary_url: None,
        container: "state".into(),
        auth: BlobAuth::Sas(SecretString::from("sv=2024-01-01&sig=x")),
        request_timeout: Duration::from_secs(2),
    };
    let opened = BlobStorage::open(&config).await;
    assert!(opened.is_err());
    assert_eq!(first_bytes.recv().await, Some(TLS_HANDSHAKE));
}
