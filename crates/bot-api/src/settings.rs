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
    /// Remote kinds: this region's endpoint first, the paired region's next.
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub key: Option<SecretString>,
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
    /// Serve mode: callers of /language/:query-knowledgebases must send
    /// this as Ocp-Apim-Subscription-Key when it is set.
    #[serde(default)]
    pub serve_key: Option<SecretString>,
    /// Embedded: how often the KB file is checked for changes (0: never).
    #[serde(default = "default_reload_ms")]
    pub reload_interval_ms: u64,
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKind {
    Memory,
    Sqlite { path: PathBuf },
}

/// A remote question-answering service and how to fail over between its
/// regional endpoints.
#[derive(Debug, Clone)]
pub struct RemoteQna {
    pub endpoints: Vec<String>,
    pub key: SecretString,
    pub policy: failover::Policy,
    /// The embedded KB answering when every endpoint is down.
    pub fallback_kb: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum QnaKind {
    Embedded {
        kb_path: PathBuf,
        reload_interval_ms: u64,
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

#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub listen: SocketAddr,
    pub server: ServerSettings,
    pub bot: BotSettings,
    pub storage: StorageKind,
    pub qna: QnaKind,
    /// Serve mode's expected `Ocp-Apim-Subscription-Key`, when set.
    pub qna_serve_key: Option<SecretString>,
    pub health: HealthSettings,
    pub log: LogSettings,
    pub app: AppCredentials,
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
            .with_list_parse_key("qna.endpoints")
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
        let q = &raw.qna;
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
            let key = q
                .key
                .clone()
                .filter(|k| !secrecy::ExposeSecret::expose_secret(k).is_empty())
                .ok_or_else(|| {
                    invalid("qna.key", "", "the service key is required (BOT__QNA__KEY)")
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
                policy: failover::Policy {
                    per_try_timeout: std::time::Duration::from_millis(q.timeout_ms),
                    retries: q.retries,
                    breaker_failures: q.breaker_failures,
                    breaker_cooldown: std::time::Duration::from_millis(q.breaker_cooldown_ms),
                    ..failover::Policy::default()
                },
                fallback_kb: if q.fallback { Some(kb_path()?) } else { None },
            })
        };
        let qna = match q.kind.as_str() {
            "embedded" => QnaKind::Embedded {
                kb_path: kb_path()?,
                reload_interval_ms: q.reload_interval_ms,
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
            qna_serve_key: raw
                .qna
                .serve_key
                .clone()
                .filter(|k| !secrecy::ExposeSecret::expose_secret(k).is_empty()),
            qna,
            health: raw.health,
            log: raw.log,
            app,
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
        assert!(
            e.contains("qna.key") && e.contains("environment") || e.contains("qna.key"),
            "{e}"
        );
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
