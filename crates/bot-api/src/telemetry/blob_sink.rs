//! The continuous export's Blob target: each batch is one block blob in the
//! region's telemetry container, under the partitioned name the batcher
//! gives it, content type `application/x-ndjson`.
//!
//! The client is bot-storage's (the same construction, retry policy and
//! auth as state and transcripts); this only adapts it to [`Sink`].

use async_trait::async_trait;
use bot_storage::blob::BlobContainers;
use bot_storage::{BlobConfig, StorageError};
use bytes::Bytes;

use super::export::Sink;

pub const NDJSON: &str = "application/x-ndjson";

pub struct BlobSink {
    containers: BlobContainers,
}

impl BlobSink {
    /// Builds the client; no I/O (the container is created by the first put
    /// that finds it missing). A secondary URL is not used: exports are
    /// writes, which the read-only secondary cannot take.
    pub fn new(config: &BlobConfig) -> Result<Self, StorageError> {
        let config = BlobConfig {
            secondary_url: None,
            ..config.clone()
        };
        Ok(Self {
            containers: BlobContainers::new(&config)?,
        })
    }
}

#[async_trait]
impl Sink for BlobSink {
    async fn put(&self, name: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.containers
            .put_block_blob(name, bytes.into(), NDJSON)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_storage::blob::sas::{account_sas, AZURITE_ACCOUNT, AZURITE_KEY};
    use bot_storage::BlobAuth;
    use secrecy::{ExposeSecret, SecretString};

    /// A put to a service that is not there is a typed `Unavailable`, and
    /// its message carries no part of the SAS.
    #[tokio::test]
    async fn an_unreachable_account_is_unavailable_and_the_error_keeps_the_sas_out() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(); // dropped: nothing listens there now
        let sas = account_sas(
            AZURITE_ACCOUNT,
            &SecretString::from(AZURITE_KEY),
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .unwrap();
        let sig = sas
            .expose_secret()
            .split('&')
            .find_map(|p| p.strip_prefix("sig="))
            .unwrap()
            .to_string();
        let sink = BlobSink::new(&BlobConfig {
            account_url: format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"),
            secondary_url: None,
            container: "telemetry".into(),
            auth: BlobAuth::Sas(sas),
            request_timeout: bot_storage::blob::DEFAULT_REQUEST_TIMEOUT,
        })
        .unwrap();
        let err = sink
            .put(
                "r/2026/01/02/03/i-000001.ndjson",
                Bytes::from_static(b"{}\n"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&sig) && !shown.contains("sig="), "{shown}");
        }
    }
}
