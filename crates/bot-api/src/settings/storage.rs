//! `[storage]`: where conversation and user state live.

use std::path::PathBuf;

use bot_storage::{BlobConfig, CosmosAuth, CosmosConfig};
use secrecy::SecretString;
use serde::Deserialize;

use super::blob::BlobSettings;
use super::parse::{http_url, optional_path, secret, text};
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize)]
pub struct RawStorageSettings {
    pub kind: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub cosmos: Option<CosmosSettings>,
    pub blob: BlobSettings,
    /// Documents kept in the in-process read cache (0: no cache).
    pub cache_entries: usize,
}

/// `[storage.cosmos]`: Cosmos DB in botbuilder's CosmosDbPartitionedStorage layout.
#[derive(Debug, Clone, Deserialize)]
pub struct CosmosSettings {
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub database: String,
    #[serde(default)]
    pub container: String,
    /// `key` or `managed_identity`.
    #[serde(default)]
    pub auth: String,
    #[serde(default)]
    pub key: Option<SecretString>,
    #[serde(default)]
    pub managed_identity_client_id: Option<String>,
    #[serde(default)]
    pub preferred_regions: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum StorageKind {
    Memory,
    Sqlite { path: PathBuf },
    Cosmos(CosmosConfig),
    Blob(BlobConfig),
}

#[derive(Clone, Copy)]
enum Kind {
    Memory,
    Sqlite,
    Cosmos,
    Blob,
}

#[derive(Clone, Copy)]
enum Auth {
    Key,
    ManagedIdentity,
}

/// The backend; `local_mode` lets a laptop create its own database.
pub fn validate(
    raw: &RawStorageSettings,
    local_mode: bool,
    p: &mut Problems<'_>,
) -> Checked<StorageKind> {
    let kind = p.choice(
        "storage.kind",
        &raw.kind,
        &[
            ("memory", Kind::Memory),
            ("sqlite", Kind::Sqlite),
            ("cosmos", Kind::Cosmos),
            ("blob", Kind::Blob),
        ],
    )?;
    Ok(match kind {
        Kind::Memory => StorageKind::Memory,
        Kind::Sqlite => StorageKind::Sqlite {
            path: optional_path(&raw.path)
                .ok_or_else(|| p.invalid("storage.path", "", "sqlite needs a file path"))?,
        },
        Kind::Cosmos => StorageKind::Cosmos(cosmos(raw.cosmos.as_ref(), local_mode, p)?),
        Kind::Blob => StorageKind::Blob(super::blob::validate(&raw.blob, "storage.blob", p)?),
    })
}

fn cosmos(
    raw: Option<&CosmosSettings>,
    local_mode: bool,
    p: &mut Problems<'_>,
) -> Checked<CosmosConfig> {
    let raw = raw.ok_or_else(|| {
        p.invalid(
            "storage.cosmos",
            "",
            "cosmos storage needs a [storage.cosmos] section",
        )
    })?;
    let endpoint = http_url(
        p,
        "storage.cosmos.endpoint",
        &raw.endpoint,
        "https://myaccount.documents.azure.com:443/",
    );
    let mut names_ok = true;
    for (key, value) in [
        ("storage.cosmos.database", &raw.database),
        ("storage.cosmos.container", &raw.container),
    ] {
        names_ok &= p
            .require(
                !value.is_empty() && !value.contains(['/', '\\', '?', '#']),
                key,
                value,
                "a name without / \\ ? or #",
            )
            .is_ok();
    }
    let auth = p
        .choice(
            "storage.cosmos.auth",
            &raw.auth,
            &[
                ("key", Auth::Key),
                ("managed_identity", Auth::ManagedIdentity),
            ],
        )
        .and_then(|a| match a {
            Auth::Key => secret(&raw.key).map(CosmosAuth::Key).ok_or_else(|| {
                p.invalid(
                    "storage.cosmos.key",
                    "",
                    "auth = \"key\" needs the account key (set BOT__STORAGE__COSMOS__KEY)",
                )
            }),
            Auth::ManagedIdentity => Ok(CosmosAuth::ManagedIdentity {
                client_id: text(&raw.managed_identity_client_id),
            }),
        });
    let regions = p.require(
        !raw.preferred_regions.is_empty()
            && raw.preferred_regions.iter().all(|r| !r.trim().is_empty()),
        "storage.cosmos.preferred_regions",
        raw.preferred_regions.join(","),
        "list the regions this deployment prefers, its own region first",
    );
    let endpoint = endpoint?;
    let auth = auth?;
    regions?;
    if !names_ok {
        return Err(super::problems::Reported);
    }
    Ok(CosmosConfig {
        endpoint,
        database: raw.database.clone(),
        container: raw.container.clone(),
        auth,
        preferred_regions: raw.preferred_regions.clone(),
        // The database and container belong to infra in Azure; a laptop
        // creates its own for a one-command start.
        create_if_missing: local_mode,
    })
}

impl StorageKind {
    /// What the settings dump shows: where the state lives, never how to
    /// authenticate (keys and SAS are secrets).
    pub fn summary(&self) -> serde_json::Value {
        match self {
            StorageKind::Memory => serde_json::json!({"kind": "memory"}),
            StorageKind::Sqlite { path } => {
                serde_json::json!({"kind": "sqlite", "path": path.display().to_string()})
            }
            StorageKind::Cosmos(c) => serde_json::json!({
                "kind": "cosmos", "endpoint": c.endpoint, "database": c.database,
                "container": c.container, "preferredRegions": c.preferred_regions,
            }),
            StorageKind::Blob(b) => serde_json::json!({
                "kind": "blob", "accountUrl": b.account_url,
                "secondaryUrl": b.secondary_url, "container": b.container,
            }),
        }
    }
}
