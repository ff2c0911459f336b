//! Typed settings, layered: built-in `config/default.toml` ->
//! `config/regions/$BOT_REGION.toml` -> environment (`BOT__SECTION__KEY`),
//! plus the Bot Framework names (`MicrosoftAppId`, ...) from the environment.
//!
//! `config/default.toml` is the only source of defaults: every key a section
//! reads is there, or is optional (a secret, a region's endpoint). Each
//! section has its own module with its raw type, its validated type and its
//! `validate`. A load reports every problem at once, each naming its key and
//! the layer its value came from; a key no section reads is one of them.

mod app;
mod auth;
mod blob;
mod bot;
#[cfg(test)]
mod cloud_tests;
mod health;
mod key_vault;
mod keys;
mod log;
mod lu;
mod parse;
mod problems;
mod qna;
mod replies;
mod server;
mod storage;
mod telemetry;
#[cfg(test)]
mod tests;
mod transcripts;
mod webchat;

use std::net::SocketAddr;
use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;

pub use app::{AppCredentials, AppType};
pub use auth::{AuthSettings, Cloud};
pub use blob::BlobSettings;
pub use bot::{BotSettings, Mode};
pub use health::HealthSettings;
pub use log::{LogFormat, LogSettings};
pub use lu::{CluSettings, LuKind, LuSettings};
pub use problems::{Problem, SettingsError};
pub use qna::{QnaKind, QnaSettings, RemoteQna};
pub use replies::RepliesSettings;
pub use server::ServerSettings;
pub use storage::StorageKind;
pub use telemetry::{ExportTarget, TelemetrySettings};
pub use transcripts::TranscriptKind;
pub use webchat::WebchatSettings;

use problems::Problems;

const DEFAULTS: &str = include_str!("../../../../config/default.toml");

/// Every section as the layers give it, before validation.
#[derive(Debug, Clone, Deserialize)]
struct Raw {
    server: ServerSettings,
    bot: bot::RawBotSettings,
    replies: RepliesSettings,
    storage: storage::RawStorageSettings,
    transcripts: transcripts::RawTranscriptSettings,
    qna: qna::RawQnaSettings,
    health: HealthSettings,
    log: log::RawLogSettings,
    auth: AuthSettings,
    telemetry: telemetry::RawTelemetrySettings,
    lu: lu::RawLuSettings,
    webchat: WebchatSettings,
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
    pub webchat: WebchatSettings,
}

impl Settings {
    pub fn is_local_mode(&self) -> bool {
        self.bot.mode == Mode::Local
    }

    /// The effective settings as JSON, secrets shown only as "[REDACTED]".
    pub fn redacted(&self) -> serde_json::Value {
        let mut storage = self.storage.summary();
        storage["cacheEntries"] = self.storage_cache_entries.into();
        serde_json::json!({
            "region": self.region,
            "listen": self.listen.to_string(),
            "server": self.server,
            "bot": self.bot,
            "replies": self.replies,
            "storage": storage,
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
        key_vault::check_resolved(env)?;
        let region = var("BOT_REGION").unwrap_or_else(|| "local".to_string());
        if !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SettingsError::from_env(
                "BOT_REGION",
                &region,
                "a region name is letters, digits, '-' and '_'",
            ));
        }
        let config_dir = PathBuf::from(var("BOT_CONFIG_DIR").unwrap_or_else(|| "config".into()));
        let cfg = layers(env, &region, &config_dir)?;
        let mut p = Problems::new(|key| keys::origin(&cfg, key));
        let raw: Raw = keys::read(&cfg, &mut p)?;

        let server = server::validate(raw.server, &mut p);
        let bot = bot::validate(raw.bot, &mut p);
        let mode = bot.as_ref().ok().map(|b| b.mode);
        let replies = replies::validate(raw.replies, &mut p);
        let storage = storage::validate(&raw.storage, mode == Some(Mode::Local), &mut p);
        let transcripts = transcripts::validate(&raw.transcripts, &mut p);
        let qna = qna::validate(&raw.qna, mode, &mut p);
        let health = health::validate(raw.health, &mut p);
        let log = log::validate(raw.log, &mut p);
        let auth = auth::validate(raw.auth, var("ChannelService").as_deref(), &mut p);
        let app_insights = var("APPLICATIONINSIGHTS_CONNECTION_STRING").map(SecretString::from);
        let telemetry = telemetry::validate(raw.telemetry, app_insights, &mut p);
        let lu = lu::validate(raw.lu, &config_dir, &mut p);
        let webchat = webchat::validate(raw.webchat, &mut p);
        let app = app::validate(&var, &mut p);
        p.finish()?;

        let (server, listen) = server?;
        let qna = qna?;
        Ok(Settings {
            region,
            listen,
            server,
            bot: bot?,
            replies: replies?,
            storage: storage?,
            storage_cache_entries: raw.storage.cache_entries,
            transcripts: transcripts?,
            qna: qna.kind,
            qna_serve: qna.serve,
            qna_serve_key: qna.serve_key,
            health: health?,
            log: log?,
            auth: auth?,
            app: app?,
            telemetry: telemetry?,
            lu: lu?,
            webchat: webchat?,
        })
    }
}

/// The built-in defaults, the region's file and the environment, merged.
fn layers(
    env: &[(String, String)],
    region: &str,
    config_dir: &std::path::Path,
) -> Result<Config, SettingsError> {
    let region_file = config_dir.join("regions").join(format!("{region}.toml"));
    let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
    if region != "local" || region_file.exists() {
        if !region_file.exists() {
            return Err(SettingsError::from_env(
                "BOT_REGION",
                region,
                &format!("no region file {}", region_file.display()),
            ));
        }
        builder = builder.add_source(File::from(region_file).format(FileFormat::Toml));
    }
    let env_source = Environment::with_prefix("BOT")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("bot.welcome_suggestions")
        .with_list_parse_key("auth.allowed_service_hosts")
        .with_list_parse_key("auth.allowed_callers")
        .with_list_parse_key("auth.allowed_teams_tenants")
        .with_list_parse_key("storage.cosmos.preferred_regions")
        .with_list_parse_key("qna.endpoints")
        .with_list_parse_key("qna.endpoint_keys")
        .with_list_parse_key("lu.clu_endpoints")
        .with_list_parse_key("lu.clu_keys")
        .source(Some(env.iter().cloned().collect()));
    builder
        .add_source(env_source)
        .build()
        .map_err(|e| SettingsError::Load(e.to_string()))
}
