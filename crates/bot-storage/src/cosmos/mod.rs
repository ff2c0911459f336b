//! State on Azure Cosmos DB (NoSQL API), in botbuilder's
//! CosmosDbPartitionedStorage layout:
//! `{"id": escape(key), "realId": key, "document": {...state...}}` in a
//! container partitioned on `/id`; the eTag is the item's `_etag`.
//!
//! Preconditions map onto Cosmos's own: `IfMatch` is a replace with
//! If-Match (412 or a missing item is a conflict), `IfNotExists` is a create
//! (409 is a conflict), `None` is an upsert.

pub mod escape;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::Etag;
use azure_data_cosmos::models::ContainerProperties;
use azure_data_cosmos::options::{
    BinaryEncodingOptions, ConnectionPoolOptions, ItemWriteOptions,
    Precondition as CosmosPrecondition, Region,
};
use azure_data_cosmos::{
    AccountEndpoint, AccountReference, ContainerClient, CosmosClient, CosmosError, CosmosRuntime,
    RoutingStrategy,
};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::StorageError;
use crate::storage::{Change, Precondition, Storage, StoreItem};

pub use escape::escape_key;

const BACKEND: &str = "cosmos";

/// How the service authenticates to the Cosmos DB account.
#[derive(Clone)]
pub enum CosmosAuth {
    /// The account's primary or secondary key.
    Key(SecretString),
    /// Entra ID through the managed identity (system-assigned when no client id).
    ManagedIdentity { client_id: Option<String> },
}

impl std::fmt::Debug for CosmosAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CosmosAuth::Key(_) => f.write_str("Key([REDACTED])"),
            CosmosAuth::ManagedIdentity { client_id } => f
                .debug_struct("ManagedIdentity")
                .field("client_id", client_id)
                .finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CosmosConfig {
    /// `https://acct.documents.azure.com:443/`, or a local stand-in's http URL.
    pub endpoint: String,
    pub database: String,
    pub container: String,
    pub auth: CosmosAuth,
    /// Regions in the order this deployment prefers them; each region lists
    /// itself first, so reads and writes stay local until it fails over.
    pub preferred_regions: Vec<String>,
    /// Create the database and container when missing. Local runs only: in
    /// Azure they belong to infra, and an identity with data-plane rights
    /// alone is answered 403 on any create, even of what exists.
    pub create_if_missing: bool,
}

pub struct CosmosStorage {
    container: ContainerClient,
}

fn backend_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

fn map_err(e: CosmosError, key: &str) -> StorageError {
    let status = e.status();
    if status.is_precondition_failed() || status.is_conflict() {
        return StorageError::Conflict {
            key: key.to_string(),
        };
    }
    let code = u16::from(status.status_code());
    // 403/3 WriteForbidden: this region cannot write right now (the write
    // region is unreachable, before the account fails over). Transient,
    // like an outage: the channel retries, readiness moves traffic.
    if status.is_write_forbidden()
        || !e.is_from_wire()
        || code >= 500
        || status.is_throttled()
        || status.is_timeout()
        || status.is_service_unavailable()
    {
        return StorageError::Unavailable {
            backend: BACKEND,
            message: e.to_string(),
        };
    }
    backend_err(e)
}

/// An item as written: borrowed from the change, not copied into a `Value`.
#[derive(serde::Serialize)]
struct ItemBody<'a> {
    id: &'a str,
    #[serde(rename = "realId")]
    real_id: &'a str,
    document: &'a Value,
}

impl CosmosStorage {
    /// Connects and reads the container: it must exist. With
    /// `create_if_missing`, first creates the database and container (pk
    /// `/id`); a 403 on a create is then not fatal, since an Entra-only
    /// account refuses creates even of what exists.
    pub async fn open(config: &CosmosConfig) -> Result<Self, StorageError> {
        // The SDK's reqwest clients take rustls's process provider.
        bot_http::install_crypto_provider();
        let endpoint: AccountEndpoint = config.endpoint.parse().map_err(|e| {
            backend_err(format!("endpoint {:?} is not a URL: {e}", config.endpoint))
        })?;
        let account = match &config.auth {
            CosmosAuth::Key(key) => AccountReference::with_authentication_key(
                endpoint,
                azure_core::credentials::Secret::new(key.expose_secret().to_string()),
            ),
            CosmosAuth::ManagedIdentity { client_id } => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    ..Default::default()
                };
                let cred: Arc<dyn TokenCredential> =
                    ManagedIdentityCredential::new(Some(options)).map_err(backend_err)?;
                AccountReference::with_credential(endpoint, cred)
            }
        };
        // A plain-http endpoint is a local stand-in: it speaks HTTP/1.1 only.
        let http2 = !config.endpoint.starts_with("http://");
        let pool = ConnectionPoolOptions::builder()
            .with_is_http2_allowed(http2)
            .build()
            .map_err(backend_err)?;
        let runtime = CosmosRuntime::builder()
            .with_connection_pool(pool)
            .build()
            .await
            .map_err(|e| map_err(e, ""))?;
        let regions = config
            .preferred_regions
            .iter()
            .map(|r| Region::new(r.clone()))
            .collect();
        // Items are JSON documents shared with botbuilder bots: keep them JSON
        // on the wire too (the stand-in speaks nothing else).
        let client: CosmosClient = CosmosClient::builder()
            .with_runtime(runtime)
            .with_binary_encoding_options(BinaryEncodingOptions::new().with_enabled(false))
            .build(account, RoutingStrategy::PreferredRegions(regions))
            .await
            .map_err(|e| map_err(e, ""))?;
        let database = client.database_client(config.database.clone());
        if config.create_if_missing {
            match client.create_database(&config.database, None).await {
                Ok(_) => {}
                Err(e) if e.status().is_conflict() || e.status().is_forbidden() => {}
                Err(e) => return Err(map_err(e, "")),
            }
            let properties = ContainerProperties::new(config.container.clone(), "/id".into());
            match database.create_container(properties, None).await {
                Ok(_) => {}
                Err(e) if e.status().is_conflict() || e.status().is_forbidden() => {}
                Err(e) => return Err(map_err(e, "")),
            }
        }
        let not_provisioned = || StorageError::NotProvisioned {
            backend: BACKEND,
            resource: format!(
                "container {:?} in database {:?} at {}",
                config.container, config.database, config.endpoint
            ),
        };
        // A data-plane read: what an identity with data rights alone may do.
        let container = database
            .container_client(config.container.clone(), None)
            .await
            .map_err(|e| match e.status().is_not_found() {
                true => not_provisioned(),
                false => map_err(e, ""),
            })?;
        match container.read(None).await {
            Ok(_) => Ok(Self { container }),
            Err(e) if e.status().is_not_found() => Err(not_provisioned()),
            Err(e) => Err(map_err(e, "")),
        }
    }

    async fn read_one(&self, key: &str) -> Result<Option<StoreItem>, StorageError> {
        let id = escape_key(key);
        let rsp = match self.container.read_item(id.clone(), &id, None).await {
            Ok(r) => r,
            Err(e) if e.status().is_not_found() => return Ok(None),
            Err(e) => return Err(map_err(e, key)),
        };
        let header_etag = rsp.headers().etag().map(|e| e.to_string());
        let item: Value = rsp.into_model().map_err(|e| StorageError::Corrupt {
            key: key.to_string(),
            message: e.to_string(),
        })?;
        let etag = item
            .get("_etag")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or(header_etag)
            .ok_or_else(|| backend_err(format!("item for key {key:?} has no _etag")))?;
        let document = match item.get("document") {
            Some(Value::Object(m)) => {
                let mut m = m.clone();
                // botbuilder-js stores the state as given; an eTag member is
                // the read-side copy of `_etag`, never part of the state.
                m.remove("eTag");
                Value::Object(m)
            }
            Some(other) => other.clone(),
            None => {
                return Err(StorageError::Corrupt {
                    key: key.to_string(),
                    message: "item has no `document` member".into(),
                })
            }
        };
        Ok(Some(StoreItem { document, etag }))
    }

    async fn write_one(&self, change: &Change) -> Result<String, StorageError> {
        let id = escape_key(&change.key);
        let item = ItemBody {
            id: &id,
            real_id: &change.key,
            document: &change.document,
        };
        let result = match &change.precondition {
            Precondition::None => {
                self.container
                    .upsert_item(id.clone(), &id, item, None)
                    .await
            }
            Precondition::IfNotExists => {
                self.container
                    .create_item(id.clone(), &id, item, None)
                    .await
            }
            Precondition::IfMatch(etag) => {
                let options = ItemWriteOptions::default()
                    .with_precondition(CosmosPrecondition::IfMatch(Etag::from(etag.clone())));
                match self
                    .container
                    .replace_item(id.clone(), &id, item, Some(options))
                    .await
                {
                    // If-Match on an item that is gone: somebody deleted it
                    // since it was read, which is a conflict like any other.
                    Err(e) if e.status().is_not_found() => {
                        return Err(StorageError::Conflict {
                            key: change.key.clone(),
                        })
                    }
                    other => other,
                }
            }
        };
        let rsp = result.map_err(|e| map_err(e, &change.key))?;
        rsp.headers()
            .etag()
            .map(|e| e.to_string())
            .ok_or_else(|| backend_err(format!("no eTag in the answer for key {:?}", change.key)))
    }
}

#[async_trait]
impl Storage for CosmosStorage {
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
        // No cross-partition transaction: applied in order, the first failure
        // stops the rest, so nothing after a failure is reported written.
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
            let id = escape_key(key);
            match self.container.delete_item(id.clone(), &id, None).await {
                Ok(_) => {}
                Err(e) if e.status().is_not_found() => {}
                Err(e) => return Err(map_err(e, key)),
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.container
            .read(None)
            .await
            .map(|_| ())
            .map_err(|e| map_err(e, ""))
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}
