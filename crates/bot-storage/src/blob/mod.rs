//! State on Azure Blob Storage, in botbuilder's BlobsStorage layout: one
//! block blob per key, named by [`naming::sanitize_blob_key`], holding the
//! state JSON (no eTag inside), content type `application/json`; the eTag is
//! the blob's ETag header, quotes kept.
//!
//! Reads fall back to the RA-GRS secondary endpoint when the primary cannot
//! be reached at all; writes and deletes never do (the secondary is
//! read-only) and fail with `StorageError::Unavailable`.
//!
//! Every call has a deadline (`BlobConfig::request_timeout`, retries
//! included): an endpoint that accepts connections and never answers would
//! otherwise hold a turn for the HTTP client's read timeout (about 60 s).
//! A call past its deadline counts as unreachable, so a read then tries the
//! secondary, and a black-holed primary costs a read at most two deadlines.

pub mod naming;
pub mod sas;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{
    ClientOptions, Etag, ExponentialRetryOptions, RequestContent, RetryOptions, StatusCode, Url,
};
use azure_core::time::Duration;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_storage_blob::models::BlockBlobClientUploadOptions;
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};

use crate::error::StorageError;
use crate::storage::{Change, Precondition, Storage, StoreItem};

const BACKEND: &str = "blob";

/// How the service authenticates to the storage account.
#[derive(Clone)]
pub enum BlobAuth {
    /// A SAS token (query string, with or without the leading `?`).
    Sas(SecretString),
    /// Entra ID through the managed identity (system-assigned when no client id).
    ManagedIdentity { client_id: Option<String> },
}

impl std::fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobAuth::Sas(_) => f.write_str("Sas([REDACTED])"),
            BlobAuth::ManagedIdentity { client_id } => f
                .debug_struct("ManagedIdentity")
                .field("client_id", client_id)
                .finish(),
        }
    }
}

/// Where the state lives.
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// The blob service URL, e.g. `https://acct.blob.core.windows.net`, or
    /// Azurite's `http://127.0.0.1:10000/devstoreaccount1`. No SAS in it.
    pub account_url: String,
    /// The RA-GRS read endpoint, `https://acct-secondary.blob.core.windows.net`.
    pub secondary_url: Option<String>,
    pub container: String,
    pub auth: BlobAuth,
    /// The deadline of one call, retries included.
    pub request_timeout: std::time::Duration,
}

/// `BlobConfig::request_timeout` unless configured (`request_timeout_ms`).
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// A container's clients, shared by the state store and the transcript store.
pub struct BlobContainers {
    pub primary: BlobContainerClient,
    pub secondary: Option<BlobContainerClient>,
    deadline: std::time::Duration,
}

fn backend_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

/// True when the request never got an answer from the service.
pub(crate) fn unreachable(e: &azure_core::Error) -> bool {
    matches!(e.kind(), ErrorKind::Connection | ErrorKind::Io)
}

/// The typed error for a failed call about `key`.
pub(crate) fn map_err(e: azure_core::Error, key: &str) -> StorageError {
    if unreachable(&e) {
        return StorageError::Unavailable {
            backend: BACKEND,
            message: e.to_string(),
        };
    }
    match e.http_status() {
        Some(StatusCode::PreconditionFailed | StatusCode::Conflict) => StorageError::Conflict {
            key: key.to_string(),
        },
        Some(s)
            if u16::from(s) >= 500
                || s == StatusCode::TooManyRequests
                || s == StatusCode::RequestTimeout =>
        {
            StorageError::Unavailable {
                backend: BACKEND,
                message: e.to_string(),
            }
        }
        _ => backend_err(e),
    }
}

fn client_options() -> ClientOptions {
    ClientOptions {
        // A few quick retries for blips; a region outage must surface fast
        // as Unavailable (the channel retries the turn), not hang the turn.
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: Duration::milliseconds(100),
            max_retries: 2,
            max_total_elapsed: Duration::seconds(5),
            max_delay: Duration::seconds(1),
        }),
        ..Default::default()
    }
}

fn container_url(
    base: &str,
    container: &str,
    sas: Option<&SecretString>,
) -> Result<Url, StorageError> {
    let invalid = |reason: &str| StorageError::Backend {
        backend: BACKEND,
        message: format!("account URL {base:?}: {reason}"),
    };
    let mut url = Url::parse(base.trim_end_matches('/')).map_err(|e| invalid(&e.to_string()))?;
    if url.query().is_some() {
        return Err(invalid("must not carry a query; give the SAS separately"));
    }
    url.path_segments_mut()
        .map_err(|_| invalid("not a base URL"))?
        .pop_if_empty()
        .push(container);
    if let Some(sas) = sas {
        url.set_query(Some(sas.expose_secret().trim_start_matches('?')));
    }
    Ok(url)
}

impl BlobContainers {
    /// Builds the clients; no I/O.
    pub fn new(config: &BlobConfig) -> Result<Self, StorageError> {
        // The SDK's reqwest clients take rustls's process provider.
        bot_http::install_crypto_provider();
        let (sas, credential): (Option<&SecretString>, Option<Arc<dyn TokenCredential>>) =
            match &config.auth {
                BlobAuth::Sas(s) => (Some(s), None),
                BlobAuth::ManagedIdentity { client_id } => {
                    let options = ManagedIdentityCredentialOptions {
                        user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                        ..Default::default()
                    };
                    let cred: Arc<dyn TokenCredential> =
                        ManagedIdentityCredential::new(Some(options)).map_err(backend_err)?;
                    (None, Some(cred))
                }
            };
        let make = |base: &str| -> Result<BlobContainerClient, StorageError> {
            let url = container_url(base, &config.container, sas)?;
            BlobContainerClient::new(
                url,
                credential.clone(),
                Some(BlobContainerClientOptions {
                    client_options: client_options(),
                    ..Default::default()
                }),
            )
            .map_err(backend_err)
        };
        Ok(Self {
            primary: make(&config.account_url)?,
            secondary: config.secondary_url.as_deref().map(make).transpose()?,
            deadline: config.request_timeout,
        })
    }

    /// Runs one call within the deadline. Past it the call is dropped (its
    /// connection with it) and fails as an I/O error: unreachable, like a
    /// refused connection, so reads fall back and the error is Unavailable.
    pub async fn within<T>(
        &self,
        call: impl Future<Output = azure_core::Result<T>>,
    ) -> azure_core::Result<T> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(r) => r,
            Err(_) => Err(azure_core::Error::with_message(
                ErrorKind::Io,
                format!(
                    "no answer within the {} ms request deadline",
                    self.deadline.as_millis()
                ),
            )),
        }
    }

    /// Creates the container on the primary if it does not exist.
    pub async fn ensure_container(&self) -> Result<(), StorageError> {
        match self.within(self.primary.create(None)).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(map_err(e, "")),
        }
    }

    /// Puts `body` as a block blob named `name` (used as given: `/` makes
    /// virtual directories) on the primary, replacing any blob of that name.
    /// For writers of whole files such as the telemetry export; the
    /// container is created when the first put finds it missing.
    pub async fn put_block_blob(
        &self,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        // Cheap to clone for the retry: one shared buffer.
        let body = azure_core::Bytes::from(body);
        let blob = self.primary.blob_client(name);
        let put = || {
            let options = BlockBlobClientUploadOptions {
                blob_content_type: Some(content_type.to_string()),
                ..Default::default()
            };
            blob.upload(body.clone().into(), Some(options))
        };
        match self.within(put()).await {
            Ok(_) => Ok(()),
            // A put can only miss the container (404 ContainerNotFound).
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => {
                self.ensure_container().await?;
                self.within(put())
                    .await
                    .map(|_| ())
                    .map_err(|e| map_err(e, name))
            }
            Err(e) => Err(map_err(e, name)),
        }
    }
}

pub struct BlobStorage {
    containers: BlobContainers,
}

impl BlobStorage {
    /// Connects and creates the container if missing.
    pub async fn open(config: &BlobConfig) -> Result<Self, StorageError> {
        let s = Self::from_config(config)?;
        s.ensure_container().await?;
        Ok(s)
    }

    /// Builds the clients without any I/O (the container must exist).
    pub fn from_config(config: &BlobConfig) -> Result<Self, StorageError> {
        Ok(Self {
            containers: BlobContainers::new(config)?,
        })
    }

    /// Creates the container on the primary if it does not exist.
    pub async fn ensure_container(&self) -> Result<(), StorageError> {
        self.containers.ensure_container().await
    }

    fn name(key: &str) -> Result<String, StorageError> {
        naming::sanitize_blob_key(key).ok_or_else(|| StorageError::InvalidKey {
            key: key.to_string(),
            reason: "a blob key needs at least one character other than '/'".into(),
        })
    }

    async fn read_from(
        client: &BlobContainerClient,
        key: &str,
        name: &str,
    ) -> Result<Option<StoreItem>, azure_core::Error> {
        let blob = client.blob_client(name);
        let rsp = match blob.download(None).await {
            Ok(r) => r,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let etag = rsp.properties.etag.as_ref().map(|e| e.to_string());
        let body = rsp.body.collect().await?;
        let document = serde_json::from_slice(&body).map_err(|e| {
            azure_core::Error::with_message(
                ErrorKind::DataConversion,
                format!("blob for key {key:?} is not valid JSON: {e}"),
            )
        })?;
        Ok(Some(StoreItem {
            document,
            etag: etag.unwrap_or_default(),
        }))
    }

    async fn read_one(&self, key: &str) -> Result<Option<StoreItem>, StorageError> {
        let name = Self::name(key)?;
        let c = &self.containers;
        match c.within(Self::read_from(&c.primary, key, &name)).await {
            Ok(v) => Ok(v),
            Err(e) if unreachable(&e) && c.secondary.is_some() => {
                tracing::warn!(error = %e, "blob primary unreachable; reading from the secondary");
                let secondary = c.secondary.as_ref().expect("checked above");
                c.within(Self::read_from(secondary, key, &name))
                    .await
                    .map_err(|e2| map_read_err(e2, key))
            }
            Err(e) => Err(map_read_err(e, key)),
        }
    }

    async fn write_one(&self, change: &Change) -> Result<String, StorageError> {
        let name = Self::name(&change.key)?;
        let body = serde_json::to_vec(&change.document).map_err(backend_err)?;
        let mut options = BlockBlobClientUploadOptions {
            blob_content_type: Some("application/json".into()),
            ..Default::default()
        };
        match &change.precondition {
            Precondition::None => {}
            Precondition::IfMatch(etag) => options.if_match = Some(Etag::from(etag.clone())),
            Precondition::IfNotExists => options.if_none_match = Some(Etag::from("*")),
        }
        let blob = self.containers.primary.blob_client(&name);
        let rsp = self
            .containers
            .within(blob.upload(RequestContent::from(body), Some(options)))
            .await
            .map_err(|e| map_err(e, &change.key))?;
        rsp.etag
            .map(|e| e.to_string())
            .ok_or_else(|| backend_err(format!("no ETag in the answer for key {:?}", change.key)))
    }
}

fn map_read_err(e: azure_core::Error, key: &str) -> StorageError {
    if matches!(e.kind(), ErrorKind::DataConversion) {
        return StorageError::Corrupt {
            key: key.to_string(),
            message: e.to_string(),
        };
    }
    map_err(e, key)
}

#[async_trait]
impl Storage for BlobStorage {
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, StoreItem>, StorageError> {
        let results = join_all(keys.iter().map(|k| self.read_one(k))).await;
        let mut out = HashMap::new();
        for (k, r) in keys.iter().zip(results) {
            if let Some(item) = r? {
                out.insert(k.clone(), item);
            }
        }
        Ok(out)
    }

    async fn write(&self, changes: Vec<Change>) -> Result<Vec<String>, StorageError> {
        // Blob has no multi-blob transaction: changes are applied in order
        // and the first failure stops the rest, so a caller never sees a
        // later write reported done after an earlier one failed.
        self.write_ref(&changes).await
    }

    async fn write_ref(&self, changes: &[Change]) -> Result<Vec<String>, StorageError> {
        let mut etags = Vec::with_capacity(changes.len());
        for c in changes {
            etags.push(self.write_one(c).await?);
        }
        Ok(etags)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StorageError> {
        for key in keys {
            let name = Self::name(key)?;
            let blob = self.containers.primary.blob_client(&name);
            match self.containers.within(blob.delete(None)).await {
                Ok(_) => {}
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => {}
                Err(e) => return Err(map_err(e, key)),
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.containers
            .within(self.containers.primary.get_properties(None))
            .await
            .map(|_| ())
            .map_err(|e| map_err(e, ""))
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}
