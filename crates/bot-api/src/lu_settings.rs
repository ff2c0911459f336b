//! The `[lu]` section: which recogniser decides the intent of a message
//! (off, embedded or CLU with the embedded one as fallback), its threshold,
//! and the bot's own replies to Cancel, Help and Escalate.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use crate::settings::SettingsError;

#[derive(Debug, Clone, Deserialize)]
pub struct RawLuSettings {
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub intents_path: Option<String>,
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    #[serde(default = "default_locale")]
    pub locale: String,
    #[serde(default = "default_true")]
    pub fallback_to_embedded: bool,
    #[serde(default)]
    pub clu_endpoints: Vec<String>,
    #[serde(default)]
    pub clu_keys: Vec<SecretString>,
    #[serde(default)]
    pub clu_project: String,
    #[serde(default)]
    pub clu_deployment: String,
    #[serde(default = "default_timeout")]
    pub clu_timeout_ms: u64,
    #[serde(default)]
    pub help_message: String,
    #[serde(default)]
    pub cancel_message: String,
    #[serde(default)]
    pub escalate_message: String,
}

impl Default for RawLuSettings {
    fn default() -> Self {
        Self {
            kind: "off".into(),
            intents_path: None,
            threshold: default_threshold(),
            locale: default_locale(),
            fallback_to_embedded: true,
            clu_endpoints: Vec::new(),
            clu_keys: Vec::new(),
            clu_project: String::new(),
            clu_deployment: String::new(),
            clu_timeout_ms: default_timeout(),
            help_message: String::new(),
            cancel_message: String::new(),
            escalate_message: String::new(),
        }
    }
}

fn default_kind() -> String {
    "off".into()
}
fn default_threshold() -> f32 {
    0.5
}
fn default_locale() -> String {
    "en-us".into()
}
fn default_true() -> bool {
    true
}
fn default_timeout() -> u64 {
    2000
}

#[derive(Debug, Clone)]
pub struct CluSettings {
    pub endpoints: Vec<String>,
    /// One per endpoint (a single key serves them all).
    pub keys: Vec<SecretString>,
    pub project: String,
    pub deployment: String,
    pub timeout_ms: u64,
    /// The intents file used when every CLU region fails.
    pub fallback_intents: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum LuKind {
    /// No recognition: every message goes to the knowledge base.
    Off,
    Embedded {
        intents_path: PathBuf,
    },
    Clu(CluSettings),
}

impl LuSettings {
    /// What the settings dump shows: never the CLU keys.
    pub fn summary(&self) -> serde_json::Value {
        let kind = match &self.kind {
            LuKind::Off => serde_json::json!({"kind": "off"}),
            LuKind::Embedded { intents_path } => serde_json::json!({
                "kind": "embedded", "intentsPath": intents_path.display().to_string(),
            }),
            LuKind::Clu(c) => serde_json::json!({
                "kind": "clu", "endpoints": c.endpoints, "project": c.project,
                "deployment": c.deployment, "timeoutMs": c.timeout_ms,
                "keys": format!("[{} REDACTED]", c.keys.len()),
                "fallbackIntents": c.fallback_intents.as_ref().map(|p| p.display().to_string()),
            }),
        };
        serde_json::json!({
            "recognizer": kind, "threshold": self.threshold, "locale": self.locale,
        })
    }
}

#[derive(Debug, Clone)]
pub struct LuSettings {
    pub kind: LuKind,
    pub threshold: f32,
    pub locale: String,
    pub help_message: String,
    pub cancel_message: String,
    pub escalate_message: String,
}

/// A relative path is taken from the working directory, or else from the
/// directory above the config directory (the repository root), so the
/// defaults work wherever the binary or a test starts.
fn resolve(path: &str, config_dir: &Path) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.is_file() {
        return Some(p);
    }
    let alt = config_dir.parent()?.join(&p);
    (p.is_relative() && alt.is_file()).then_some(alt)
}

/// Validates the section; `invalid(key, value, reason)` builds the error
/// that names the key and where its value came from.
pub fn validate(
    raw: RawLuSettings,
    config_dir: &Path,
    invalid: &dyn Fn(&str, &str, &str) -> SettingsError,
) -> Result<LuSettings, SettingsError> {
    if !(0.0..=1.0).contains(&raw.threshold) {
        return Err(invalid(
            "lu.threshold",
            &raw.threshold.to_string(),
            "must be between 0 and 1",
        ));
    }
    let intents = |required: bool| -> Result<Option<PathBuf>, SettingsError> {
        let p = raw.intents_path.clone().unwrap_or_default();
        if p.is_empty() && !required {
            return Ok(None);
        }
        resolve(&p, config_dir)
            .map(Some)
            .ok_or_else(|| invalid("lu.intents_path", &p, "intents file not found"))
    };
    let kind = match raw.kind.as_str() {
        "off" => LuKind::Off,
        "embedded" => LuKind::Embedded {
            intents_path: intents(true)?.unwrap_or_default(),
        },
        "clu" => {
            if raw.clu_endpoints.is_empty() {
                return Err(invalid(
                    "lu.clu_endpoints",
                    "",
                    "clu needs at least one endpoint",
                ));
            }
            for e in &raw.clu_endpoints {
                if !(e.starts_with("https://") || e.starts_with("http://")) {
                    return Err(invalid("lu.clu_endpoints", e, "expected an http(s) URL"));
                }
            }
            if raw.clu_keys.is_empty()
                || (raw.clu_keys.len() != 1 && raw.clu_keys.len() != raw.clu_endpoints.len())
            {
                return Err(invalid(
                    "lu.clu_keys",
                    &format!("{} key(s)", raw.clu_keys.len()),
                    "give one key for all endpoints or one per endpoint",
                ));
            }
            if raw.clu_project.trim().is_empty() {
                return Err(invalid("lu.clu_project", "", "clu needs a project name"));
            }
            if raw.clu_deployment.trim().is_empty() {
                return Err(invalid(
                    "lu.clu_deployment",
                    "",
                    "clu needs a deployment name",
                ));
            }
            if raw.clu_timeout_ms < 50 {
                return Err(invalid(
                    "lu.clu_timeout_ms",
                    &raw.clu_timeout_ms.to_string(),
                    "must be at least 50",
                ));
            }
            let keys = if raw.clu_keys.len() == 1 {
                vec![raw.clu_keys[0].clone(); raw.clu_endpoints.len()]
            } else {
                raw.clu_keys.clone()
            };
            LuKind::Clu(CluSettings {
                endpoints: raw.clu_endpoints.clone(),
                keys,
                project: raw.clu_project.clone(),
                deployment: raw.clu_deployment.clone(),
                timeout_ms: raw.clu_timeout_ms,
                fallback_intents: if raw.fallback_to_embedded {
                    intents(true)?
                } else {
                    None
                },
            })
        }
        other => {
            return Err(invalid(
                "lu.kind",
                other,
                "unknown recogniser; expected off, embedded or clu",
            ))
        }
    };
    Ok(LuSettings {
        kind,
        threshold: raw.threshold,
        locale: raw.locale,
        help_message: raw.help_message,
        cancel_message: raw.cancel_message,
        escalate_message: raw.escalate_message,
    })
}
