//! Typed settings, layered: built-in `config/default.toml` ->
//! `config/regions/$BOT_REGION.toml` -> environment (`BOT__SECTION__KEY`),
//! plus the Bot Framework names (`MicrosoftAppId`, ...) from the environment.
//!
//! Validation happens here, before the server binds, and every error names
//! the key and where its value came from.

use std::net::SocketAddr;
use std::path::PathBuf;

use bot_storage::{BlobAuth, BlobConfig, CosmosAuth, CosmosConfig};
use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::lu_settings::{LuSettings, RawLuSettings};

const DEFAULTS: &str = include_str!("../../../config/default.toml");
const DEFAULTS_ORIGIN: &str = "built-in config/default.toml";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {key} = {value:?} (from {origin}): {reason}")]
    Invalid {
        key: String,
        value: String,
        origin: String,
        reason: String,
    },
    #[error("configuration: {0}")]
    Load(String),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServerSettings {
    pub listen: String,
    pub max_body_bytes: usize,
    pub drain_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BotSettings {
    pub mode: String,
    pub welcome: String,
    #[serde(default)]
    pub welcome_suggestions: Vec<String>,
    pub fallback: String,
    pub score_threshold: f32,
    pub max_turn_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    pub kind: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub cosmos: Option<CosmosSettings>,
    #[serde(default)]
    pub blob: Option<BlobSettings>,
    /// Documents kept in the in-process read cache (0: no cache).
    #[serde(default)]
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

/// `[storage.blob]`: Blob Storage in botbuilder's BlobsStorage layout. The
/// same keys configure `[transcripts.blob]` and `[telemetry.export_blob]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BlobSettings {
    #[serde(default)]
    pub account_url: String,
    #[serde(default)]
    pub secondary_url: Option<String>,
    #[serde(default)]
    pub container: String,
    /// `sas` or `managed_identity`.
    #[serde(default)]
    pub auth: String,
    #[serde(default, serialize_with = "redact")]
    pub sas: Option<SecretString>,
    #[serde(default)]
    pub managed_identity_client_id: Option<String>,
    /// The deadline of one Blob call, retries included; a read past it on
    /// the primary tries the secondary.
    #[serde(default = "default_blob_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_blob_request_timeout_ms() -> u64 {
    bot_storage::blob::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64
}

/// `[transcripts]`: where every activity of a conversation is logged.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TranscriptSettings {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub blob: Option<BlobSettings>,
}

#[derive(Debug, Clone)]
pub enum TranscriptKind {
    Off,
    Sqlite { path: PathBuf },
    Blob(BlobConfig),
}

#[derive(Debug, Clone, Deserialize)]
pub struct QnaSettings {
    pub kind: String,
    #[serde(default)]
    pub kb_path: Option<String>,
    /// Remote kinds: this region's endpoint first, the paired region's next.
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub key: Option<SecretString>,
    /// One key per endpoint, in `endpoints` order (two regional resources
    /// have two keys); `key` then need not be set.
    #[serde(default)]
    pub endpoint_keys: Vec<SecretString>,
    #[serde(default)]
    pub project_name: Option<String>,
    #[serde(default)]
    pub deployment_name: Option<String>,
    #[serde(default)]
    pub kb_id: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    #[serde(default = "default_breaker_cooldown_ms")]
    pub breaker_cooldown_ms: u64,
    /// Remote kinds: answer from `kb_path` when every endpoint is down.
    #[serde(default)]
    pub fallback: bool,
    /// Serve mode: mounts /language/:query-knowledgebases. Off by default:
    /// with a remote kind it would spend the bot's Language quota for anyone.
    #[serde(default)]
    pub serve: bool,
    /// Serve mode: callers of /language/:query-knowledgebases must send
    /// this as Ocp-Apim-Subscription-Key when it is set (required in
    /// production mode).
    #[serde(default)]
    pub serve_key: Option<SecretString>,
    /// Embedded: how often the KB file is checked for changes (0: never).
    #[serde(default = "default_reload_ms")]
    pub reload_interval_ms: u64,
    /// Embedded KBs: where the trained re-ranker's snapshot is kept (empty:
    /// nowhere, every start trains).
    #[serde(default)]
    pub cache_dir: Option<String>,
}

fn default_timeout_ms() -> u64 {
    3000
}
fn default_retries() -> u32 {
    1
}
fn default_breaker_failures() -> u32 {
    3
}
fn default_breaker_cooldown_ms() -> u64 {
    30_000
}
fn default_reload_ms() -> u64 {
    2000
}

/// `[replies]`: how replies reach the channel (see `outbox`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RepliesSettings {
    /// Every try of a turn's replies ends within this, counted from the
    /// activity's arrival: under the channel's own 15 s.
    pub budget_ms: u64,
    /// One POST to the channel at most takes this.
    pub per_try_timeout_ms: u64,
    /// Replies not accepted within the budget are tried again in the
    /// background for this long (0: only on redelivery or the next activity).
    pub background_for_ms: u64,
    /// Conversations retried in the background at once, at most.
    pub max_background: usize,
}

impl BotSettings {
    /// What the bot itself needs of the section.
    pub fn config(&self, log_personal_information: bool) -> bot_core::BotConfig {
        bot_core::BotConfig {
            log_personal_information,
            welcome: self.welcome.clone(),
            welcome_suggestions: self.welcome_suggestions.clone(),
            fallback: self.fallback.clone(),
            score_threshold: self.score_threshold,
        }
    }
}

impl RepliesSettings {
    pub fn policy(&self) -> bot_schema::RetryPolicy {
        bot_schema::RetryPolicy {
            budget: std::time::Duration::from_millis(self.budget_ms),
            per_try_timeout: std::time::Duration::from_millis(self.per_try_timeout_ms),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HealthSettings {
    pub interval_ms: u64,
    pub check_timeout_ms: u64,
    /// When set, `/readyz` answers only requests carrying it in `x-probe-key`.
    #[serde(default, serialize_with = "redact")]
    pub probe_key: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

/// Channel security: where token signing keys and app tokens come from,
/// where replies may go, and the admin key.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthSettings {
    pub channel_openid_metadata_url: String,
    pub emulator_openid_metadata_url: String,
    pub channel_issuer: String,
    /// Client-credentials tokens come from `{login_authority}/{tenant}/oauth2/v2.0/token`.
    pub login_authority: String,
    /// Overrides the token endpoint derived from `login_authority`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    pub token_scope: String,
    pub allowed_service_hosts: Vec<String>,
    /// Skill callers (app ids) accepted besides the bot itself.
    #[serde(default)]
    pub allowed_callers: Vec<String>,
    pub key_refresh_min_secs: u64,
    pub key_max_age_secs: u64,
    /// Key for the /admin routes (`X-Admin-Key`); no key, no admin routes.
    #[serde(default, serialize_with = "redact")]
    pub admin_key: Option<SecretString>,
}

/// `[telemetry]`: OpenTelemetry export and the bot telemetry events. Every
/// key has a default so a config without the section still loads.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// OTLP/HTTP base URL; empty is off.
    pub otlp_endpoint: String,
    pub export_interval_ms: u64,
    /// botbuilder's `logPersonalInformation`.
    pub log_personal_information: bool,
    /// Where the NDJSON continuous export goes: `off`, `dir` (files under
    /// `export_dir`; an empty directory is off) or `blob`
    /// (`[telemetry.export_blob]`).
    pub export_kind: String,
    /// NDJSON continuous export directory, for `export_kind = "dir"`.
    pub export_dir: String,
    /// The region's telemetry container, for `export_kind = "blob"`.
    pub export_blob: Option<BlobSettings>,
    pub export_flush_ms: u64,
    pub export_batch_max: usize,
    pub export_queue_max: usize,
    /// `APPLICATIONINSIGHTS_CONNECTION_STRING`, from the environment: it
    /// carries the ingestion key, so it is a secret.
    #[serde(skip_deserializing, serialize_with = "redact")]
    pub app_insights_connection_string: Option<SecretString>,
    /// The export target `export_kind` resolves to, validated.
    #[serde(skip)]
    pub export: ExportTarget,
}

/// Where the bot telemetry events are exported.
#[derive(Debug, Clone, Default)]
pub enum ExportTarget {
    #[default]
    Off,
    Dir(PathBuf),
    Blob(BlobConfig),
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            export_interval_ms: 5000,
            log_personal_information: false,
            export_kind: "dir".into(),
            export_dir: String::new(),
            export_blob: None,
            export_flush_ms: 10_000,
            export_batch_max: 500,
            export_queue_max: 10_000,
            app_insights_connection_string: None,
            export: ExportTarget::Off,
        }
    }
}

/// The Bot Framework app registration, from the environment.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppCredentials {
    #[serde(rename = "MicrosoftAppId")]
    pub app_id: Option<String>,
    #[serde(rename = "MicrosoftAppPassword", serialize_with = "redact")]
    pub app_password: Option<SecretString>,
    #[serde(rename = "MicrosoftAppType")]
    pub app_type: Option<String>,
    #[serde(rename = "MicrosoftAppTenantId")]
    pub tenant_id: Option<String>,
    /// App Service's managed identity endpoint (`IDENTITY_ENDPOINT`).
    #[serde(rename = "IDENTITY_ENDPOINT")]
    pub identity_endpoint: Option<String>,
    #[serde(rename = "IDENTITY_HEADER", serialize_with = "redact")]
    pub identity_header: Option<SecretString>,
}

impl AppCredentials {
    /// MicrosoftAppType, MultiTenant when unset (as botbuilder defaults).
    pub fn app_type(&self) -> &str {
        self.app_type.as_deref().unwrap_or("MultiTenant")
    }
}

/// Secrets appear in a dump only as whether they are set.
fn redact<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[REDACTED]"),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Raw {
    server: ServerSettings,
    bot: BotSettings,
    replies: RepliesSettings,
    storage: StorageSettings,
    #[serde(default)]
    transcripts: TranscriptSettings,
    qna: QnaSettings,
    health: HealthSettings,
    log: LogSettings,
    auth: AuthSettings,
    #[serde(default)]
    telemetry: TelemetrySettings,
    #[serde(default)]
    lu: RawLuSettings,
    #[serde(default)]
    webchat: crate::webchat_settings::WebchatSettings,
}

#[derive(Debug, Clone)]
pub enum StorageKind {
    Memory,
    Sqlite { path: PathBuf },
    Cosmos(CosmosConfig),
    Blob(BlobConfig),
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

/// A remote question-answering service and how to fail over between its
/// regional endpoints.
#[derive(Debug, Clone)]
pub struct RemoteQna {
    pub endpoints: Vec<String>,
    pub key: SecretString,
    /// One key per endpoint when the regions' resources differ.
    pub endpoint_keys: Vec<SecretString>,
    pub policy: failover::Policy,
    /// The embedded KB answering when every endpoint is down.
    pub fallback_kb: Option<PathBuf>,
    /// Its snapshot directory (`qna.cache_dir`).
    pub kb_cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum QnaKind {
    Embedded {
        kb_path: PathBuf,
        reload_interval_ms: u64,
        /// Where the KB's trained snapshot is kept, if anywhere.
        cache_dir: Option<PathBuf>,
    },
    Cqa {
        remote: RemoteQna,
        project: String,
        deployment: String,
    },
    QnaMaker {
        remote: RemoteQna,
        kb_id: String,
    },
}

impl QnaKind {
    /// What the settings dump shows: the backend and its endpoints, never
    /// the service key.
    pub fn summary(&self) -> serde_json::Value {
        match self {
            QnaKind::Embedded {
                kb_path,
                reload_interval_ms,
                cache_dir,
            } => serde_json::json!({
                "kind": "embedded", "kbPath": kb_path.display().to_string(),
                "reloadIntervalMs": reload_interval_ms,
                "cacheDir": cache_dir.as_ref().map(|d| d.display().to_string()),
            }),
            QnaKind::Cqa {
                remote,
                project,
                deployment,
            } => serde_json::json!({
                "kind": "cqa", "endpoints": remote.endpoints, "projectName": project,
                "deploymentName": deployment,
                "fallbackKb": remote.fallback_kb.as_ref().map(|p| p.display().to_string()),
            }),
            QnaKind::QnaMaker { remote, kb_id } => serde_json::json!({
                "kind": "qnamaker", "endpoints": remote.endpoints, "kbId": kb_id,
                "fallbackKb": remote.fallback_kb.as_ref().map(|p| p.display().to_string()),
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub listen: SocketAddr,
    pub server: ServerSettings,
    pub bot: BotSettings,
    pub replies: RepliesSettings,
    pub storage: StorageKind,
    /// `storage.cache_entries`: see `bot_storage::CachedStorage`.
    pub storage_cache_entries: usize,
    pub transcripts: TranscriptKind,
    pub qna: QnaKind,
    /// Serve mode (`qna.serve`): whether /language/:query-knowledgebases
    /// is mounted at all.
    pub qna_serve: bool,
    /// Serve mode's expected `Ocp-Apim-Subscription-Key`, when set.
    pub qna_serve_key: Option<SecretString>,
    pub health: HealthSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub app: AppCredentials,
    pub telemetry: TelemetrySettings,
    pub lu: LuSettings,
    /// `[webchat]`: the local Direct Line and Web Chat page.
    pub webchat: crate::webchat_settings::WebchatSettings,
}

impl Settings {
    pub fn is_local_mode(&self) -> bool {
        self.bot.mode == "local"
    }

    fn storage_summary(&self) -> serde_json::Value {
        let mut s = self.storage.summary();
        s["cacheEntries"] = self.storage_cache_entries.into();
        s
    }

    /// The effective settings as JSON, secrets shown only as "[REDACTED]".
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "region": self.region,
            "listen": self.listen.to_string(),
            "server": self.server,
            "bot": self.bot,
            "replies": self.replies,
            "storage": self.storage_summary(),
            "qna": self.qna.summary(),
            "lu": self.lu.summary(),
            "health": self.health,
            "log": self.log,
            "auth": self.auth,
            "app": self.app,
            "telemetry": self.telemetry,
            "webchat": self.webchat,
        })
    }

    /// Reads the process environment and the config directory
    /// (`BOT_CONFIG_DIR`, default `config`).
    pub fn load() -> Result<Self, SettingsError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(&env)
    }

    /// Loads from an explicit environment, for tests.
    pub fn load_from(env: &[(String, String)]) -> Result<Self, SettingsError> {
        let var = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        unresolved_key_vault_reference(env)?;
        let region = var("BOT_REGION").unwrap_or_else(|| "local".to_string());
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SettingsError::Invalid {
                key: "BOT_REGION".into(),
                value: region,
                origin: "the environment".into(),
                reason: "a region name is letters, digits, '-' and '_'".into(),
            });
        }
        let config_dir = PathBuf::from(var("BOT_CONFIG_DIR").unwrap_or_else(|| "config".into()));
        let region_file = config_dir.join("regions").join(format!("{region}.toml"));
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if region != "local" || region_file.exists() {
            if !region_file.exists() {
                return Err(SettingsError::Invalid {
                    key: "BOT_REGION".into(),
                    value: region.clone(),
                    origin: "the environment".into(),
                    reason: format!("no region file {}", region_file.display()),
                });
            }
            builder = builder.add_source(File::from(region_file.clone()).format(FileFormat::Toml));
        }
        let env_source = Environment::with_prefix("BOT")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("bot.welcome_suggestions")
            .with_list_parse_key("auth.allowed_service_hosts")
            .with_list_parse_key("auth.allowed_callers")
            .with_list_parse_key("storage.cosmos.preferred_regions")
            .with_list_parse_key("qna.endpoints")
            .with_list_parse_key("qna.endpoint_keys")
            .with_list_parse_key("lu.clu_endpoints")
            .with_list_parse_key("lu.clu_keys")
            .source(Some(env.iter().cloned().collect()));
        let cfg = builder
            .add_source(env_source)
            .build()
            .map_err(|e| SettingsError::Load(e.to_string()))?;
        // `get::<Value>` deserializes and loses the origin; a table keeps it.
        let origin = |key: &str| -> String {
            let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
            cfg.get_table(section)
                .ok()
                .and_then(|t| t.get(name).and_then(|v| v.origin().map(str::to_string)))
                .unwrap_or_else(|| DEFAULTS_ORIGIN.to_string())
        };
        let raw: Raw = cfg
            .clone()
            .try_deserialize()
            .map_err(|e| SettingsError::Load(e.to_string()))?;
        let invalid = |key: &str, value: &str, reason: &str| SettingsError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            origin: origin(key),
            reason: reason.to_string(),
        };

        let listen: SocketAddr = raw.server.listen.parse().map_err(|_| {
            invalid(
                "server.listen",
                &raw.server.listen,
                "expected host:port with a numeric IP and a port 0-65535, e.g. 127.0.0.1:3978",
            )
        })?;
        if raw.server.max_body_bytes < 1024 {
            return Err(invalid(
                "server.max_body_bytes",
                &raw.server.max_body_bytes.to_string(),
                "must be at least 1024",
            ));
        }
        if !matches!(raw.bot.mode.as_str(), "local" | "production") {
            return Err(invalid(
                "bot.mode",
                &raw.bot.mode,
                "expected local or production",
            ));
        }
        if !(0.0..=1.0).contains(&raw.bot.score_threshold) {
            return Err(invalid(
                "bot.score_threshold",
                &raw.bot.score_threshold.to_string(),
                "must be between 0 and 1",
            ));
        }
        if raw.bot.max_turn_attempts == 0 {
            return Err(invalid("bot.max_turn_attempts", "0", "must be at least 1"));
        }
        let r = &raw.replies;
        if !(100..=14_000).contains(&r.budget_ms) {
            return Err(invalid(
                "replies.budget_ms",
                &r.budget_ms.to_string(),
                "must be 100 to 14000: the channel waits 15 s for its answer",
            ));
        }
        // A try never outlasts what is left of the budget, so a per-try
        // timeout above it is harmless and needs no refusal.
        if r.per_try_timeout_ms == 0 {
            return Err(invalid(
                "replies.per_try_timeout_ms",
                "0",
                "must be at least 1",
            ));
        }
        let storage = match raw.storage.kind.as_str() {
            "memory" => StorageKind::Memory,
            "sqlite" => StorageKind::Sqlite {
                path: PathBuf::from(
                    raw.storage
                        .path
                        .clone()
                        .filter(|p| !p.is_empty())
                        .ok_or_else(|| invalid("storage.path", "", "sqlite needs a file path"))?,
                ),
            },
            "cosmos" => StorageKind::Cosmos(cosmos_config(
                raw.storage.cosmos.as_ref(),
                raw.bot.mode == "local",
                &invalid,
            )?),
            "blob" => StorageKind::Blob(blob_config(
                raw.storage.blob.as_ref(),
                "storage.blob",
                &invalid,
            )?),
            other => {
                return Err(invalid(
                    "storage.kind",
                    other,
                    "unknown storage kind; expected memory, sqlite, cosmos or blob",
                ))
            }
        };
        let transcripts = match raw.transcripts.kind.as_str() {
            "" | "off" => TranscriptKind::Off,
            "sqlite" => TranscriptKind::Sqlite {
                path: PathBuf::from(
                    raw.transcripts
                        .path
                        .clone()
                        .filter(|p| !p.is_empty())
                        .ok_or_else(|| {
                            invalid("transcripts.path", "", "sqlite needs a file path")
                        })?,
                ),
            },
            "blob" => TranscriptKind::Blob(blob_config(
                raw.transcripts.blob.as_ref(),
                "transcripts.blob",
                &invalid,
            )?),
            other => {
                return Err(invalid(
                    "transcripts.kind",
                    other,
                    "expected off, sqlite or blob",
                ))
            }
        };
        let q = &raw.qna;
        let kb_cache_dir = q
            .cache_dir
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from);
        let kb_path = || -> Result<PathBuf, SettingsError> {
            let p = q.kb_path.clone().unwrap_or_default();
            let path = PathBuf::from(&p);
            if !path.is_file() {
                return Err(invalid("qna.kb_path", &p, "knowledge-base file not found"));
            }
            Ok(path)
        };
        let required = |key: &str, v: &Option<String>| -> Result<String, SettingsError> {
            v.clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| invalid(key, "", &format!("required when qna.kind = {:?}", q.kind)))
        };
        let remote = || -> Result<RemoteQna, SettingsError> {
            if q.endpoints.is_empty() {
                return Err(invalid(
                    "qna.endpoints",
                    "",
                    "list this region's endpoint first, then the paired region's",
                ));
            }
            for e in &q.endpoints {
                if !(e.starts_with("https://") || e.starts_with("http://")) || e.len() < 10 {
                    return Err(invalid("qna.endpoints", e, "expected an http(s):// URL"));
                }
            }
            if !q.endpoint_keys.is_empty() && q.endpoint_keys.len() != q.endpoints.len() {
                return Err(invalid(
                    "qna.endpoint_keys",
                    &format!("{} keys", q.endpoint_keys.len()),
                    &format!(
                        "give one key per endpoint ({}), in the same order, or none",
                        q.endpoints.len()
                    ),
                ));
            }
            let key = q
                .key
                .clone()
                .filter(|k| !secrecy::ExposeSecret::expose_secret(k).is_empty())
                .or_else(|| q.endpoint_keys.first().cloned())
                .ok_or_else(|| {
                    invalid(
                        "qna.key",
                        "",
                        "the service key is required (BOT__QNA__KEY, or one per endpoint in BOT__QNA__ENDPOINT_KEYS)",
                    )
                })?;
            if q.timeout_ms < 50 {
                return Err(invalid(
                    "qna.timeout_ms",
                    &q.timeout_ms.to_string(),
                    "must be at least 50",
                ));
            }
            if q.retries > 5 {
                return Err(invalid(
                    "qna.retries",
                    &q.retries.to_string(),
                    "must be 0 to 5",
                ));
            }
            if q.breaker_failures == 0 {
                return Err(invalid("qna.breaker_failures", "0", "must be at least 1"));
            }
            Ok(RemoteQna {
                endpoints: q.endpoints.clone(),
                key,
                endpoint_keys: q.endpoint_keys.clone(),
                policy: failover::Policy {
                    per_try_timeout: std::time::Duration::from_millis(q.timeout_ms),
                    retries: q.retries,
                    breaker_failures: q.breaker_failures,
                    breaker_cooldown: std::time::Duration::from_millis(q.breaker_cooldown_ms),
                    ..failover::Policy::default()
                },
                fallback_kb: if q.fallback { Some(kb_path()?) } else { None },
                kb_cache_dir: kb_cache_dir.clone(),
            })
        };
        let qna = match q.kind.as_str() {
            "embedded" => QnaKind::Embedded {
                kb_path: kb_path()?,
                reload_interval_ms: q.reload_interval_ms,
                cache_dir: kb_cache_dir.clone(),
            },
            "cqa" => QnaKind::Cqa {
                remote: remote()?,
                project: required("qna.project_name", &q.project_name)?,
                deployment: q
                    .deployment_name
                    .clone()
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| "production".into()),
            },
            "qnamaker" => QnaKind::QnaMaker {
                remote: remote()?,
                kb_id: required("qna.kb_id", &q.kb_id)?,
            },
            other => {
                return Err(invalid(
                    "qna.kind",
                    other,
                    "unknown QnA kind; expected embedded, cqa or qnamaker",
                ))
            }
        };
        let qna_serve_key = secret(&q.serve_key);
        if q.serve && qna_serve_key.is_none() && raw.bot.mode != "local" {
            return Err(invalid(
                "qna.serve_key",
                "",
                "qna.serve = true in production mode needs a key for callers \
                 (set BOT__QNA__SERVE_KEY), or turn serve mode off",
            ));
        }
        if raw.health.interval_ms < 10 {
            return Err(invalid(
                "health.interval_ms",
                &raw.health.interval_ms.to_string(),
                "must be at least 10",
            ));
        }
        if raw.health.check_timeout_ms < 10 {
            return Err(invalid(
                "health.check_timeout_ms",
                &raw.health.check_timeout_ms.to_string(),
                "must be at least 10",
            ));
        }
        if !matches!(raw.log.format.as_str(), "text" | "json") {
            return Err(invalid(
                "log.format",
                &raw.log.format,
                "expected text or json",
            ));
        }
        let mut auth = raw.auth;
        for (key, url) in [
            (
                "auth.channel_openid_metadata_url",
                &auth.channel_openid_metadata_url,
            ),
            (
                "auth.emulator_openid_metadata_url",
                &auth.emulator_openid_metadata_url,
            ),
            ("auth.login_authority", &auth.login_authority),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid(key, url, "expected an http(s) URL"));
            }
        }
        auth.token_endpoint = auth.token_endpoint.filter(|t| !t.is_empty());
        if let Err(e) = bot_auth::ServiceUrlPolicy::new(&auth.allowed_service_hosts, true) {
            return Err(invalid(
                "auth.allowed_service_hosts",
                &auth.allowed_service_hosts.join(","),
                &e.to_string(),
            ));
        }
        if auth.key_max_age_secs == 0 {
            return Err(invalid("auth.key_max_age_secs", "0", "must be at least 1"));
        }
        if let Some(k) = &auth.admin_key {
            use secrecy::ExposeSecret;
            match k.expose_secret().len() {
                0 => auth.admin_key = None,
                1..=15 => {
                    return Err(invalid(
                        "auth.admin_key",
                        "[REDACTED]",
                        "an admin key needs at least 16 characters",
                    ))
                }
                _ => {}
            }
        }
        let mut telemetry = raw.telemetry;
        let endpoint = telemetry.otlp_endpoint.as_str();
        let is_url = endpoint.starts_with("http://") || endpoint.starts_with("https://");
        if !endpoint.is_empty() && !is_url {
            return Err(invalid(
                "telemetry.otlp_endpoint",
                &telemetry.otlp_endpoint,
                "expected an http(s) URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318",
            ));
        }
        for (key, value, min) in [
            (
                "telemetry.export_interval_ms",
                telemetry.export_interval_ms,
                10,
            ),
            ("telemetry.export_flush_ms", telemetry.export_flush_ms, 10),
            (
                "telemetry.export_batch_max",
                telemetry.export_batch_max as u64,
                1,
            ),
            (
                "telemetry.export_queue_max",
                telemetry.export_queue_max as u64,
                1,
            ),
        ] {
            if value < min {
                return Err(invalid(
                    key,
                    &value.to_string(),
                    &format!("must be at least {min}"),
                ));
            }
        }
        telemetry.export = match telemetry.export_kind.as_str() {
            "off" => ExportTarget::Off,
            "dir" if telemetry.export_dir.is_empty() => ExportTarget::Off,
            "dir" => ExportTarget::Dir(PathBuf::from(&telemetry.export_dir)),
            "blob" => {
                if telemetry.export_blob.is_none() {
                    return Err(invalid(
                        "telemetry.export_kind",
                        "blob",
                        "needs a [telemetry.export_blob] section (account_url, container, auth)",
                    ));
                }
                ExportTarget::Blob(blob_config(
                    telemetry.export_blob.as_ref(),
                    "telemetry.export_blob",
                    &invalid,
                )?)
            }
            other => {
                return Err(invalid(
                    "telemetry.export_kind",
                    other,
                    "expected off, dir or blob",
                ))
            }
        };
        telemetry.app_insights_connection_string =
            var("APPLICATIONINSIGHTS_CONNECTION_STRING").map(SecretString::from);
        let lu = crate::lu_settings::validate(raw.lu, &config_dir, &invalid)?;
        let webchat = crate::webchat_settings::validate(raw.webchat, &invalid)?;
        let app = AppCredentials {
            app_id: var("MicrosoftAppId"),
            app_password: var("MicrosoftAppPassword").map(SecretString::from),
            app_type: var("MicrosoftAppType"),
            tenant_id: var("MicrosoftAppTenantId"),
            identity_endpoint: var("IDENTITY_ENDPOINT"),
            identity_header: var("IDENTITY_HEADER").map(SecretString::from),
        };
        if let Some(t) = app.app_type.as_deref() {
            if !matches!(t, "MultiTenant" | "SingleTenant" | "UserAssignedMSI") {
                return Err(SettingsError::Invalid {
                    key: "MicrosoftAppType".into(),
                    value: t.into(),
                    origin: "the environment".into(),
                    reason: "expected MultiTenant, SingleTenant or UserAssignedMSI".into(),
                });
            }
        }
        if app.app_id.is_some() {
            // Replies need the bot's own token: say what is missing now, not
            // at the first reply.
            let missing = |key: &str, reason: &str| SettingsError::Invalid {
                key: key.into(),
                value: String::new(),
                origin: "the environment".into(),
                reason: format!("MicrosoftAppType {} needs it: {reason}", app.app_type()),
            };
            match app.app_type() {
                "UserAssignedMSI" => {
                    if app.identity_endpoint.is_none() || app.identity_header.is_none() {
                        return Err(missing(
                            "IDENTITY_ENDPOINT/IDENTITY_HEADER",
                            "App Service sets them when a managed identity is assigned",
                        ));
                    }
                }
                t => {
                    if app.app_password.is_none() {
                        return Err(missing("MicrosoftAppPassword", "the client secret"));
                    }
                    if t == "SingleTenant" && app.tenant_id.is_none() {
                        return Err(missing("MicrosoftAppTenantId", "the bot's tenant"));
                    }
                }
            }
        }
        Ok(Settings {
            region,
            listen,
            server: raw.server,
            bot: raw.bot,
            replies: raw.replies,
            storage,
            storage_cache_entries: raw.storage.cache_entries,
            transcripts,
            qna_serve: raw.qna.serve,
            qna_serve_key,
            qna,
            health: raw.health,
            log: raw.log,
            auth,
            app,
            telemetry,
            lu,
            webchat,
        })
    }
}

type Invalid<'a> = dyn Fn(&str, &str, &str) -> SettingsError + 'a;

/// App Service passes a `@Microsoft.KeyVault(...)` app setting through
/// as literal text when it cannot resolve it. Caught first, by name, so the
/// start does not fail later with a message about something else.
fn unresolved_key_vault_reference(env: &[(String, String)]) -> Result<(), SettingsError> {
    const REFERENCE: &str = "@microsoft.keyvault(";
    let read_by_us = |name: &str| {
        name.starts_with("BOT_")
            || name.starts_with("MicrosoftApp")
            || matches!(
                name,
                "APPLICATIONINSIGHTS_CONNECTION_STRING" | "IDENTITY_ENDPOINT" | "IDENTITY_HEADER"
            )
    };
    let found = env.iter().find(|(name, value)| {
        read_by_us(name)
            && value
                .trim_start()
                .get(..REFERENCE.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(REFERENCE))
    });
    let Some((name, value)) = found else {
        return Ok(());
    };
    let key = match name.strip_prefix("BOT__") {
        Some(rest) => format!(
            "{name} ({})",
            rest.split("__")
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(".")
        ),
        None => name.clone(),
    };
    Err(SettingsError::Invalid {
        key,
        // The reference names a vault and a secret, not the secret itself.
        value: value.trim().chars().take(200).collect(),
        origin: "the environment".into(),
        reason: "this Key Vault reference was not resolved: the secret is missing \
                 from the vault, or the app's managed identity lacks permission to \
                 get it (see the app setting's Key Vault reference status)"
            .into(),
    })
}

fn http_url(value: &str) -> bool {
    (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() > "https://".len()
        && !value.contains(char::is_whitespace)
        && !value.contains('?')
}

fn secret(s: &Option<SecretString>) -> Option<SecretString> {
    s.as_ref()
        .filter(|v| !v.expose_secret().trim().is_empty())
        .cloned()
}

fn client_id(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|v| !v.trim().is_empty()).cloned()
}

fn cosmos_config(
    raw: Option<&CosmosSettings>,
    local_mode: bool,
    invalid: &Invalid<'_>,
) -> Result<CosmosConfig, SettingsError> {
    let raw = raw.ok_or_else(|| {
        invalid(
            "storage.cosmos",
            "",
            "cosmos storage needs a [storage.cosmos] section",
        )
    })?;
    if !http_url(&raw.endpoint) {
        return Err(invalid(
            "storage.cosmos.endpoint",
            &raw.endpoint,
            "expected the account URL, e.g. https://myaccount.documents.azure.com:443/",
        ));
    }
    for (key, value) in [
        ("storage.cosmos.database", &raw.database),
        ("storage.cosmos.container", &raw.container),
    ] {
        if value.is_empty() || value.contains(['/', '\\', '?', '#']) {
            return Err(invalid(key, value, "a name without / \\ ? or #"));
        }
    }
    let auth = match raw.auth.as_str() {
        "key" => CosmosAuth::Key(secret(&raw.key).ok_or_else(|| {
            invalid(
                "storage.cosmos.key",
                "",
                "auth = \"key\" needs the account key (set BOT__STORAGE__COSMOS__KEY)",
            )
        })?),
        "managed_identity" => CosmosAuth::ManagedIdentity {
            client_id: client_id(&raw.managed_identity_client_id),
        },
        other => {
            return Err(invalid(
                "storage.cosmos.auth",
                other,
                "expected key or managed_identity",
            ))
        }
    };
    if raw.preferred_regions.is_empty() || raw.preferred_regions.iter().any(|r| r.trim().is_empty())
    {
        return Err(invalid(
            "storage.cosmos.preferred_regions",
            &raw.preferred_regions.join(","),
            "list the regions this deployment prefers, its own region first",
        ));
    }
    Ok(CosmosConfig {
        endpoint: raw.endpoint.clone(),
        database: raw.database.clone(),
        container: raw.container.clone(),
        auth,
        preferred_regions: raw.preferred_regions.clone(),
        // The database and container belong to infra in Azure; a laptop
        // creates its own for a one-command start.
        create_if_missing: local_mode,
    })
}

fn blob_config(
    raw: Option<&BlobSettings>,
    section: &str,
    invalid: &Invalid<'_>,
) -> Result<BlobConfig, SettingsError> {
    let key = |name: &str| format!("{section}.{name}");
    let raw = raw.ok_or_else(|| {
        invalid(
            section,
            "",
            &format!("kind = \"blob\" needs a [{section}] section"),
        )
    })?;
    if !http_url(&raw.account_url) || raw.account_url.ends_with('/') {
        return Err(invalid(
            &key("account_url"),
            &raw.account_url,
            "expected the blob service URL without a trailing / or a SAS, e.g. https://myaccount.blob.core.windows.net",
        ));
    }
    let secondary_url = raw.secondary_url.clone().filter(|s| !s.is_empty());
    if let Some(s) = &secondary_url {
        if !http_url(s) || s.ends_with('/') {
            return Err(invalid(
                &key("secondary_url"),
                s,
                "expected the RA-GRS read URL without a trailing /, e.g. https://myaccount-secondary.blob.core.windows.net",
            ));
        }
    }
    // Container naming rules: 3-63 of lowercase letters, digits and '-'.
    let c = &raw.container;
    if !(3..=63).contains(&c.len())
        || !c
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        || c.starts_with('-')
        || c.ends_with('-')
        || c.contains("--")
    {
        return Err(invalid(
            &key("container"),
            c,
            "3-63 lowercase letters, digits and single hyphens",
        ));
    }
    let auth = match raw.auth.as_str() {
        "sas" => BlobAuth::Sas(secret(&raw.sas).ok_or_else(|| {
            invalid(
                &key("sas"),
                "",
                &format!(
                    "auth = \"sas\" needs a SAS token (set BOT__{}__SAS)",
                    section.to_uppercase().replace('.', "__")
                ),
            )
        })?),
        "managed_identity" => {
            if raw.account_url.starts_with("http://") {
                return Err(invalid(
                    &key("account_url"),
                    &raw.account_url,
                    "managed identity needs an https:// account URL",
                ));
            }
            BlobAuth::ManagedIdentity {
                client_id: client_id(&raw.managed_identity_client_id),
            }
        }
        other => {
            return Err(invalid(
                &key("auth"),
                other,
                "expected sas or managed_identity",
            ))
        }
    };
    if raw.request_timeout_ms < 50 {
        return Err(invalid(
            &key("request_timeout_ms"),
            &raw.request_timeout_ms.to_string(),
            "must be at least 50",
        ));
    }
    Ok(BlobConfig {
        account_url: raw.account_url.clone(),
        secondary_url,
        container: raw.container.clone(),
        auth,
        request_timeout: std::time::Duration::from_millis(raw.request_timeout_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, val) in [
            ("BOT_CONFIG_DIR", format!("{root}/config")),
            ("BOT__QNA__KB_PATH", format!("{root}/kb/sample.tsv")),
        ] {
            if !v.iter().any(|(n, _)| n == k) {
                v.push((k.to_string(), val));
            }
        }
        v
    }

    #[test]
    fn an_unresolved_key_vault_reference_is_named() {
        let reference =
            "@Microsoft.KeyVault(SecretUri=https://kv-bot.vault.azure.net/secrets/qna-keys/)";
        for (name, shown) in [
            (
                "BOT__QNA__ENDPOINT_KEYS",
                "BOT__QNA__ENDPOINT_KEYS (qna.endpoint_keys)",
            ),
            ("MicrosoftAppPassword", "MicrosoftAppPassword"),
            (
                "BOT__HEALTH__PROBE_KEY",
                "BOT__HEALTH__PROBE_KEY (health.probe_key)",
            ),
        ] {
            let e = Settings::load_from(&env(&[(name, reference)]))
                .err()
                .unwrap_or_else(|| panic!("{name}: an unresolved reference loaded"))
                .to_string();
            assert!(e.contains(shown), "{e}");
            assert!(e.contains("Key Vault reference was not resolved"), "{e}");
            assert!(e.contains("permission"), "{e}");
        }
        // A variable the binary does not read is not its business.
        assert!(Settings::load_from(&env(&[("OTHER_SETTING", reference)])).is_ok());
    }

    #[test]
    fn defaults_are_the_local_bot() {
        let s = Settings::load_from(&env(&[])).unwrap();
        assert_eq!(s.region, "local");
        assert_eq!(s.listen.port(), 3978);
        assert!(s.is_local_mode());
        assert!(matches!(s.storage, StorageKind::Sqlite { .. }));
        assert_eq!(s.server.max_body_bytes, 256 * 1024);
    }

    #[test]
    fn env_overrides_and_bot_framework_names() {
        let s = Settings::load_from(&env(&[
            ("BOT__SERVER__LISTEN", "127.0.0.1:0"),
            ("BOT__STORAGE__KIND", "memory"),
            ("MicrosoftAppId", "app-1"),
            ("MicrosoftAppPassword", "hunter2"),
        ]))
        .unwrap();
        assert_eq!(s.listen.port(), 0);
        assert!(matches!(s.storage, StorageKind::Memory));
        assert_eq!(s.app.app_id.as_deref(), Some("app-1"));
        assert!(!format!("{:?}", s.app).contains("hunter2"));
    }

    #[test]
    fn errors_name_key_and_origin() {
        let e = Settings::load_from(&env(&[("BOT__STORAGE__KIND", "floppy")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("storage.kind") && e.contains("floppy") && e.contains("environment"),
            "{e}"
        );
        let e = Settings::load_from(&env(&[("BOT__SERVER__LISTEN", "127.0.0.1:99999")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.listen"), "{e}");
        let e = Settings::load_from(&env(&[("BOT__QNA__KB_PATH", "/nonexistent/kb.tsv")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("qna.kb_path") && e.contains("not found"), "{e}");
        let e = Settings::load_from(&env(&[("BOT_REGION", "atlantis")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("BOT_REGION") && e.contains("atlantis"), "{e}");
    }

    #[test]
    fn auth_settings_and_secrets_stay_out_of_dumps() {
        let s = Settings::load_from(&env(&[
            (
                "BOT__AUTH__ALLOWED_SERVICE_HOSTS",
                "a.example.com,*.b.example.com",
            ),
            ("BOT__AUTH__ADMIN_KEY", "admin-key-0123456789"),
            ("MicrosoftAppId", "app-1"),
            ("MicrosoftAppPassword", "hunter2-password"),
        ]))
        .unwrap();
        assert_eq!(
            s.auth.allowed_service_hosts,
            vec!["a.example.com", "*.b.example.com"]
        );
        assert_eq!(s.auth.key_refresh_min_secs, 60);
        let dump = s.redacted().to_string();
        assert!(
            dump.contains("[REDACTED]") && dump.contains("a.example.com"),
            "{dump}"
        );
        assert!(
            !dump.contains("hunter2") && !dump.contains("admin-key-0123"),
            "{dump}"
        );
        assert!(!format!("{s:?}").contains("admin-key-0123"));

        let e = Settings::load_from(&env(&[("BOT__AUTH__ADMIN_KEY", "short")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.admin_key") && !e.contains("short"), "{e}");
        let e = Settings::load_from(&env(&[("BOT__AUTH__ALLOWED_SERVICE_HOSTS", "a.*.com")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.allowed_service_hosts"), "{e}");
    }

    #[test]
    fn an_app_id_needs_the_credentials_of_its_app_type() {
        let e = Settings::load_from(&env(&[("MicrosoftAppId", "app-1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("MicrosoftAppPassword"), "{e}");
        let e = Settings::load_from(&env(&[
            ("MicrosoftAppId", "app-1"),
            ("MicrosoftAppPassword", "pw"),
            ("MicrosoftAppType", "SingleTenant"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("MicrosoftAppTenantId"), "{e}");
        let e = Settings::load_from(&env(&[
            ("MicrosoftAppId", "app-1"),
            ("MicrosoftAppType", "UserAssignedMSI"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("IDENTITY_ENDPOINT"), "{e}");
        Settings::load_from(&env(&[
            ("MicrosoftAppId", "app-1"),
            ("MicrosoftAppType", "UserAssignedMSI"),
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
            ("IDENTITY_HEADER", "h"),
        ]))
        .unwrap();
    }

    #[test]
    fn cosmos_and_blob_storage_from_config_alone() {
        let s = Settings::load_from(&env(&[
            ("BOT__STORAGE__KIND", "cosmos"),
            ("BOT__STORAGE__COSMOS__ENDPOINT", "http://127.0.0.1:8081/"),
            ("BOT__STORAGE__COSMOS__DATABASE", "bot"),
            ("BOT__STORAGE__COSMOS__CONTAINER", "state"),
            ("BOT__STORAGE__COSMOS__AUTH", "key"),
            ("BOT__STORAGE__COSMOS__KEY", "c2VjcmV0LWtleQ=="),
            (
                "BOT__STORAGE__COSMOS__PREFERRED_REGIONS",
                "East US 2,Central US",
            ),
        ]))
        .unwrap();
        match &s.storage {
            StorageKind::Cosmos(c) => {
                assert_eq!(c.preferred_regions, ["East US 2", "Central US"]);
                assert!(matches!(c.auth, CosmosAuth::Key(_)));
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{s:?}").contains("c2VjcmV0LWtleQ"));
        let e = Settings::load_from(&env(&[
            ("BOT__STORAGE__KIND", "cosmos"),
            ("BOT__STORAGE__COSMOS__ENDPOINT", "http://127.0.0.1:8081/"),
            ("BOT__STORAGE__COSMOS__DATABASE", "bot"),
            ("BOT__STORAGE__COSMOS__CONTAINER", "state"),
            ("BOT__STORAGE__COSMOS__AUTH", "key"),
            ("BOT__STORAGE__COSMOS__PREFERRED_REGIONS", "East US 2"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("storage.cosmos.key"), "{e}");

        let s = Settings::load_from(&env(&[
            ("BOT__STORAGE__KIND", "blob"),
            (
                "BOT__STORAGE__BLOB__ACCOUNT_URL",
                "https://acct.blob.core.windows.net",
            ),
            (
                "BOT__STORAGE__BLOB__SECONDARY_URL",
                "https://acct-secondary.blob.core.windows.net",
            ),
            ("BOT__STORAGE__BLOB__CONTAINER", "bot-state"),
            ("BOT__STORAGE__BLOB__AUTH", "managed_identity"),
        ]))
        .unwrap();
        assert!(matches!(
            &s.storage,
            StorageKind::Blob(b) if b.secondary_url.is_some()
                && matches!(b.auth, BlobAuth::ManagedIdentity { client_id: None })
        ));
        let e = Settings::load_from(&env(&[
            ("BOT__STORAGE__KIND", "blob"),
            (
                "BOT__STORAGE__BLOB__ACCOUNT_URL",
                "https://acct.blob.core.windows.net/",
            ),
            ("BOT__STORAGE__BLOB__CONTAINER", "bot-state"),
            ("BOT__STORAGE__BLOB__AUTH", "sas"),
            ("BOT__STORAGE__BLOB__SAS", "sv=1&sig=x"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("storage.blob.account_url") && e.contains("environment"),
            "{e}"
        );
    }

    #[test]
    fn region_files_configure_cosmos_with_their_own_region_first() {
        for (region, first) in [("eastus2", "East US 2"), ("centralus", "Central US")] {
            let s = Settings::load_from(&env(&[
                ("BOT_REGION", region),
                ("BOT__QNA__ENDPOINT_KEYS", "key-own,key-pair"),
            ]))
            .unwrap();
            match &s.qna {
                QnaKind::Cqa { remote, .. } => {
                    assert!(remote.endpoints[0].contains(region), "{region}: {remote:?}");
                    assert_eq!(remote.endpoints.len(), 2);
                    assert!(remote.fallback_kb.is_some());
                }
                other => panic!("{region}: {other:?}"),
            }
            match &s.storage {
                StorageKind::Cosmos(c) => {
                    assert_eq!(c.preferred_regions[0], first);
                    assert!(matches!(c.auth, CosmosAuth::ManagedIdentity { .. }));
                }
                other => panic!("{region}: {other:?}"),
            }
        }
    }

    #[test]
    fn remote_qna_kinds_validate_and_keep_keys_secret() {
        let s = Settings::load_from(&env(&[
            ("BOT__QNA__KIND", "cqa"),
            (
                "BOT__QNA__ENDPOINTS",
                "https://east.example.test,https://west.example.test",
            ),
            ("BOT__QNA__KEY", "sekrit-key"),
            ("BOT__QNA__PROJECT_NAME", "faq"),
            ("BOT__QNA__FALLBACK", "true"),
        ]))
        .unwrap();
        match &s.qna {
            QnaKind::Cqa {
                remote,
                project,
                deployment,
            } => {
                assert_eq!(remote.endpoints.len(), 2);
                assert_eq!(project, "faq");
                assert_eq!(deployment, "production");
                assert!(remote.fallback_kb.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{s:?}").contains("sekrit-key"));
        let e = Settings::load_from(&env(&[
            ("BOT__QNA__KIND", "qnamaker"),
            ("BOT__QNA__ENDPOINTS", "https://east.example.test"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("qna.key"), "{e}");
        let e = Settings::load_from(&env(&[
            ("BOT__QNA__KIND", "cqa"),
            ("BOT__QNA__ENDPOINTS", "ftp://nope"),
            ("BOT__QNA__KEY", "k"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("qna.endpoints") && e.contains("ftp://nope"),
            "{e}"
        );
        let e = Settings::load_from(&env(&[("BOT__QNA__KIND", "oracle")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("qna.kind") && e.contains("environment"), "{e}");
    }

    #[test]
    fn region_file_is_layered_and_named_as_origin() {
        let s = Settings::load_from(&env(&[
            ("BOT_REGION", "eastus2"),
            ("BOT__QNA__ENDPOINT_KEYS", "key-own,key-pair"),
        ]))
        .unwrap();
        assert_eq!(s.region, "eastus2");
        assert_eq!(s.bot.mode, "production");
        let e = Settings::load_from(&env(&[
            ("BOT_REGION", "eastus2"),
            ("BOT__BOT__MODE", "chaos"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("bot.mode"), "{e}");
    }

    #[test]
    fn region_files_send_transcripts_and_telemetry_to_their_own_account() {
        for region in ["eastus2", "centralus"] {
            let s = Settings::load_from(&env(&[
                ("BOT_REGION", region),
                ("BOT__QNA__ENDPOINT_KEYS", "key-own,key-pair"),
            ]))
            .unwrap();
            let TranscriptKind::Blob(t) = &s.transcripts else {
                panic!("{region}: {:?}", s.transcripts)
            };
            let ExportTarget::Blob(e) = &s.telemetry.export else {
                panic!("{region}: {:?}", s.telemetry.export)
            };
            assert!(e.account_url.contains(region), "{region}: {e:?}");
            assert_eq!(e.account_url, t.account_url);
            assert_eq!(
                (t.container.as_str(), e.container.as_str()),
                ("transcripts", "telemetry")
            );
            assert!(matches!(
                e.auth,
                BlobAuth::ManagedIdentity { client_id: None }
            ));
        }
    }

    #[test]
    fn telemetry_export_to_blob_is_validated_and_its_sas_redacted() {
        let blob = |extra: &[(&'static str, &'static str)]| {
            let mut v = vec![
                ("BOT__TELEMETRY__EXPORT_KIND", "blob"),
                (
                    "BOT__TELEMETRY__EXPORT_BLOB__ACCOUNT_URL",
                    "http://127.0.0.1:10000/devstoreaccount1",
                ),
                ("BOT__TELEMETRY__EXPORT_BLOB__CONTAINER", "telemetry"),
                ("BOT__TELEMETRY__EXPORT_BLOB__AUTH", "sas"),
            ];
            v.extend_from_slice(extra);
            Settings::load_from(&env(&v))
        };
        let s = blob(&[("BOT__TELEMETRY__EXPORT_BLOB__SAS", "sv=1&sig=sekrit-sig")]).unwrap();
        assert!(matches!(
            &s.telemetry.export,
            ExportTarget::Blob(b) if b.container == "telemetry" && matches!(b.auth, BlobAuth::Sas(_))
        ));
        let dump = s.redacted().to_string();
        assert!(
            dump.contains("\"export_kind\":\"blob\"") && dump.contains("[REDACTED]"),
            "{dump}"
        );
        assert!(!dump.contains("sekrit-sig") && !format!("{s:?}").contains("sekrit-sig"));

        let e = blob(&[]).unwrap_err().to_string();
        assert!(
            e.contains("telemetry.export_blob.sas")
                && e.contains("BOT__TELEMETRY__EXPORT_BLOB__SAS"),
            "{e}"
        );
        let e = blob(&[
            ("BOT__TELEMETRY__EXPORT_BLOB__SAS", "sv=1&sig=x"),
            ("BOT__TELEMETRY__EXPORT_BLOB__CONTAINER", "Telemetry_Export"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("telemetry.export_blob.container") && e.contains("environment"),
            "{e}"
        );
        let e = Settings::load_from(&env(&[("BOT__TELEMETRY__EXPORT_KIND", "blob")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("telemetry.export_kind") && e.contains("[telemetry.export_blob]"),
            "{e}"
        );
        let e = Settings::load_from(&env(&[("BOT__TELEMETRY__EXPORT_KIND", "s3")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("telemetry.export_kind") && e.contains("environment"),
            "{e}"
        );
        let s =
            Settings::load_from(&env(&[("BOT__TELEMETRY__EXPORT_DIR", "data/telemetry")])).unwrap();
        assert!(matches!(&s.telemetry.export, ExportTarget::Dir(d) if d.ends_with("telemetry")));
        let s = Settings::load_from(&env(&[
            ("BOT__TELEMETRY__EXPORT_DIR", "data/telemetry"),
            ("BOT__TELEMETRY__EXPORT_KIND", "off"),
        ]))
        .unwrap();
        assert!(matches!(s.telemetry.export, ExportTarget::Off));
    }

    #[test]
    fn telemetry_is_off_by_default_and_validated() {
        let s = Settings::load_from(&env(&[])).unwrap();
        assert!(s.telemetry.otlp_endpoint.is_empty());
        assert!(s.telemetry.export_dir.is_empty());
        assert!(matches!(s.telemetry.export, ExportTarget::Off));
        assert!(!s.telemetry.log_personal_information);
        let e = Settings::load_from(&env(&[("BOT__TELEMETRY__OTLP_ENDPOINT", "collector:4318")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("telemetry.otlp_endpoint") && e.contains("environment"),
            "{e}"
        );
        let s = Settings::load_from(&env(&[(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=secret-key-1;IngestionEndpoint=https://example.invalid/",
        )]))
        .unwrap();
        assert!(s.telemetry.app_insights_connection_string.is_some());
        assert!(!format!("{s:?}").contains("secret-key-1"));
        assert!(!s.redacted().to_string().contains("secret-key-1"));
    }
}
