//! Typed settings, layered: built-in `config/default.toml` ->
//! `config/regions/$BOT_REGION.toml` -> environment (`BOT__SECTION__KEY`),
//! plus the Bot Framework names (`MicrosoftAppId`, ...) from the environment.
//!
//! Validation happens here, before the server binds, and every error names
//! the key and where its value came from.

use std::net::SocketAddr;
use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;

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

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub listen: String,
    pub max_body_bytes: usize,
    pub drain_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
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
}

#[derive(Debug, Clone, Deserialize)]
pub struct QnaSettings {
    pub kind: String,
    #[serde(default)]
    pub kb_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HealthSettings {
    pub interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

/// The Bot Framework app registration, from the environment.
#[derive(Debug, Clone, Default)]
pub struct AppCredentials {
    pub app_id: Option<String>,
    pub app_password: Option<SecretString>,
    pub app_type: Option<String>,
    pub tenant_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Raw {
    server: ServerSettings,
    bot: BotSettings,
    storage: StorageSettings,
    qna: QnaSettings,
    health: HealthSettings,
    log: LogSettings,
    #[serde(default)]
    lu: RawLuSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKind {
    Memory,
    Sqlite { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QnaKind {
    Embedded { kb_path: PathBuf },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub listen: SocketAddr,
    pub server: ServerSettings,
    pub bot: BotSettings,
    pub storage: StorageKind,
    pub qna: QnaKind,
    pub health: HealthSettings,
    pub log: LogSettings,
    pub app: AppCredentials,
    pub lu: LuSettings,
}

impl Settings {
    pub fn is_local_mode(&self) -> bool {
        self.bot.mode == "local"
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
            other => {
                return Err(invalid(
                    "storage.kind",
                    other,
                    "unknown storage kind; expected memory or sqlite",
                ))
            }
        };
        let qna = match raw.qna.kind.as_str() {
            "embedded" => {
                let p = raw.qna.kb_path.clone().unwrap_or_default();
                let path = PathBuf::from(&p);
                if !path.is_file() {
                    return Err(invalid("qna.kb_path", &p, "knowledge-base file not found"));
                }
                QnaKind::Embedded { kb_path: path }
            }
            other => {
                return Err(invalid(
                    "qna.kind",
                    other,
                    "unknown QnA kind; expected embedded",
                ))
            }
        };
        if raw.health.interval_ms < 10 {
            return Err(invalid(
                "health.interval_ms",
                &raw.health.interval_ms.to_string(),
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
        let lu = crate::lu_settings::validate(raw.lu, &config_dir, &invalid)?;
        let app = AppCredentials {
            app_id: var("MicrosoftAppId"),
            app_password: var("MicrosoftAppPassword").map(SecretString::from),
            app_type: var("MicrosoftAppType"),
            tenant_id: var("MicrosoftAppTenantId"),
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
        Ok(Settings {
            region,
            listen,
            server: raw.server,
            bot: raw.bot,
            storage,
            qna,
            health: raw.health,
            log: raw.log,
            app,
            lu,
        })
    }
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
        assert_eq!(s.storage, StorageKind::Memory);
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
    fn region_file_is_layered_and_named_as_origin() {
        let s = Settings::load_from(&env(&[("BOT_REGION", "eastus2")])).unwrap();
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
}
