//! The cloud state backends for a run, on their local stand-ins: Azurite
//! for Blob, the Cosmos DB stand-in (both from `standins/`, installed by
//! `npm ci --prefix standins`). Both bots get the same store: ours through
//! its `BOT__STORAGE__*` settings, botbuilder-js's BlobsStorage through a
//! connection string, so storage-bound figures compare.

use anyhow::bail;
use bot_storage::blob::sas::{AZURITE_ACCOUNT, AZURITE_KEY};
use bot_storage::standins::StandIn;
use bot_storage::BlobAuth;
use secrecy::ExposeSecret;

pub struct Backend {
    /// Kept running for the whole run.
    standin: Option<StandIn>,
    kind: String,
}

impl Backend {
    /// `sqlite` and `memory` need nothing; `blob` and `cosmos` start their
    /// stand-in.
    pub async fn start(kind: &str) -> anyhow::Result<Self> {
        let standin = match kind {
            "sqlite" | "memory" => None,
            "blob" => Some(StandIn::azurite().await),
            "cosmos" => Some(StandIn::cosmos().await),
            other => bail!("unknown --storage {other:?}: sqlite, memory, blob or cosmos"),
        };
        Ok(Self {
            standin,
            kind: kind.to_string(),
        })
    }

    /// Whether the reference bot can use this store too (it has Blob and
    /// memory; it is given memory otherwise).
    pub fn shared_with_reference(&self) -> bool {
        matches!(self.kind.as_str(), "blob" | "memory")
    }

    /// Environment for both bots; `container` is fresh per bot and round so
    /// no run reads another's state.
    pub fn env(&self, container: &str) -> Vec<(String, String)> {
        let Some(s) = &self.standin else {
            return Vec::new();
        };
        let set = |k: &str, v: &str| (k.to_string(), v.to_string());
        match self.kind.as_str() {
            "blob" => {
                let cfg = s.blob_config(container);
                let sas = match &cfg.auth {
                    BlobAuth::Sas(sas) => sas.expose_secret().to_string(),
                    _ => String::new(),
                };
                vec![
                    set("BOT__STORAGE__BLOB__ACCOUNT_URL", &cfg.account_url),
                    set("BOT__STORAGE__BLOB__CONTAINER", container),
                    set("BOT__STORAGE__BLOB__AUTH", "sas"),
                    set("BOT__STORAGE__BLOB__SAS", &sas),
                    set(
                        "BLOB_CONNECTION_STRING",
                        &format!(
                            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};\
                             AccountKey={AZURITE_KEY};BlobEndpoint={};",
                            cfg.account_url
                        ),
                    ),
                    set("BLOB_CONTAINER", container),
                ]
            }
            "cosmos" => {
                let cfg = s.cosmos_config("bench", container);
                let key = match &cfg.auth {
                    bot_storage::CosmosAuth::Key(k) => k.expose_secret().to_string(),
                    _ => String::new(),
                };
                vec![
                    set("BOT__STORAGE__COSMOS__ENDPOINT", &cfg.endpoint),
                    set("BOT__STORAGE__COSMOS__AUTH", "key"),
                    set("BOT__STORAGE__COSMOS__KEY", &key),
                    set("BOT__STORAGE__COSMOS__DATABASE", &cfg.database),
                    set("BOT__STORAGE__COSMOS__CONTAINER", container),
                    set(
                        "BOT__STORAGE__COSMOS__PREFERRED_REGIONS",
                        &cfg.preferred_regions.join(","),
                    ),
                ]
            }
            _ => Vec::new(),
        }
    }
}
