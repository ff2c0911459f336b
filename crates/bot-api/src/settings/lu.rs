//! `[lu]`: which recogniser decides the intent of a message (off, embedded
//! or CLU with the embedded one as fallback), its threshold, and the bot's
//! own replies to Cancel, Help and Escalate.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use super::parse::{existing_file, http_urls, redact_all};
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize)]
pub struct RawLuSettings {
    pub kind: String,
    #[serde(default)]
    pub intents_path: Option<String>,
    pub threshold: f32,
    pub locale: String,
    pub fallback_to_embedded: bool,
    pub clu_endpoints: Vec<String>,
    #[serde(default)]
    pub clu_keys: Vec<SecretString>,
    pub clu_project: String,
    pub clu_deployment: String,
    pub clu_timeout_ms: u64,
    pub help_message: String,
    pub cancel_message: String,
    pub escalate_message: String,
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

#[derive(Debug, Clone)]
pub struct LuSettings {
    pub kind: LuKind,
    pub threshold: f32,
    pub locale: String,
    pub help_message: String,
    pub cancel_message: String,
    pub escalate_message: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Off,
    Embedded,
    Clu,
}

fn intents(raw: &RawLuSettings, config_dir: &Path, p: &mut Problems<'_>) -> Checked<PathBuf> {
    let path = raw.intents_path.clone().unwrap_or_default();
    existing_file(&path, config_dir)
        .ok_or_else(|| p.invalid("lu.intents_path", &path, "intents file not found"))
}

fn clu(raw: &RawLuSettings, config_dir: &Path, p: &mut Problems<'_>) -> Checked<CluSettings> {
    let endpoints = if raw.clu_endpoints.is_empty() {
        Err(p.invalid("lu.clu_endpoints", "", "clu needs at least one endpoint"))
    } else {
        http_urls(
            p,
            "lu.clu_endpoints",
            &raw.clu_endpoints,
            "https://my-language.cognitiveservices.azure.com",
        )
    };
    let n = raw.clu_keys.len();
    let keys = p.require(
        n == 1 || (n > 1 && n == raw.clu_endpoints.len()),
        "lu.clu_keys",
        format!("{n} key(s)"),
        "give one key for all endpoints or one per endpoint",
    );
    let project = p.require(
        !raw.clu_project.trim().is_empty(),
        "lu.clu_project",
        "",
        "clu needs a project name",
    );
    let deployment = p.require(
        !raw.clu_deployment.trim().is_empty(),
        "lu.clu_deployment",
        "",
        "clu needs a deployment name",
    );
    let timeout = p.at_least("lu.clu_timeout_ms", raw.clu_timeout_ms, 50);
    let fallback_intents = if raw.fallback_to_embedded {
        intents(raw, config_dir, p).map(Some)
    } else {
        Ok(None)
    };
    let endpoints = endpoints?;
    keys?;
    project?;
    deployment?;
    timeout?;
    let keys = if n == 1 {
        vec![raw.clu_keys[0].clone(); endpoints.len()]
    } else {
        raw.clu_keys.clone()
    };
    Ok(CluSettings {
        endpoints,
        keys,
        project: raw.clu_project.clone(),
        deployment: raw.clu_deployment.clone(),
        timeout_ms: raw.clu_timeout_ms,
        fallback_intents: fallback_intents?,
    })
}

pub fn validate(
    raw: RawLuSettings,
    config_dir: &Path,
    p: &mut Problems<'_>,
) -> Checked<LuSettings> {
    let threshold = p.unit_interval("lu.threshold", raw.threshold);
    let kind = p
        .choice(
            "lu.kind",
            &raw.kind,
            &[
                ("off", Kind::Off),
                ("embedded", Kind::Embedded),
                ("clu", Kind::Clu),
            ],
        )
        .and_then(|k| match k {
            Kind::Off => Ok(LuKind::Off),
            Kind::Embedded => Ok(LuKind::Embedded {
                intents_path: intents(&raw, config_dir, p)?,
            }),
            Kind::Clu => clu(&raw, config_dir, p).map(LuKind::Clu),
        });
    let (threshold, kind) = (threshold?, kind?);
    Ok(LuSettings {
        kind,
        threshold,
        locale: raw.locale,
        help_message: raw.help_message,
        cancel_message: raw.cancel_message,
        escalate_message: raw.escalate_message,
    })
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
                "keys": redact_all(&c.keys),
                "fallbackIntents": c.fallback_intents.as_ref().map(|p| p.display().to_string()),
            }),
        };
        serde_json::json!({
            "recognizer": kind, "threshold": self.threshold, "locale": self.locale,
        })
    }
}
