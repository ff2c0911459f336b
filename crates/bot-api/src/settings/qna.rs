//! `[qna]`: where answers come from (an embedded KB, CQA or QnA Maker),
//! how remote endpoints fail over, and serve mode.

use std::path::PathBuf;

use qna::EncoderSpec;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::bot::Mode;
use super::parse::{http_urls, optional_path, required, secret, text};
use super::problems::{Checked, Problems};

#[derive(Debug, Clone, Deserialize)]
pub struct RawQnaSettings {
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
    pub timeout_ms: u64,
    pub retries: u32,
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
    /// Remote kinds: answer from `kb_path` when every endpoint is down.
    pub fallback: bool,
    /// Serve mode: mounts /language/:query-knowledgebases.
    pub serve: bool,
    /// Serve mode's `Ocp-Apim-Subscription-Key` (required in production).
    #[serde(default)]
    pub serve_key: Option<SecretString>,
    /// Embedded: how often the KB file is checked for changes (0: never).
    pub reload_interval_ms: u64,
    /// Embedded KBs: where the trained re-ranker's snapshot is kept.
    #[serde(default)]
    pub cache_dir: Option<String>,
    /// Embedded KBs: a sentence encoder's directory, whose vectors the
    /// re-ranker weighs next to the words ("": none).
    #[serde(default)]
    pub encoder_dir: Option<String>,
    /// How many of the encoder's layers run (at least 1; past the model's
    /// count, all).
    #[serde(default = "one_layer")]
    pub encoder_layers: usize,
}

fn one_layer() -> usize {
    qna::DEFAULT_ENCODER_LAYERS
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
    /// Its sentence encoder (`qna.encoder_dir`, `qna.encoder_layers`).
    pub kb_encoder: Option<EncoderSpec>,
}

#[derive(Debug, Clone)]
pub enum QnaKind {
    Embedded {
        kb_path: PathBuf,
        reload_interval_ms: u64,
        /// Where the KB's trained snapshot is kept, if anywhere.
        cache_dir: Option<PathBuf>,
        /// The sentence encoder the re-ranker weighs, if any.
        encoder: Option<EncoderSpec>,
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

/// The validated section.
#[derive(Debug, Clone)]
pub struct QnaSettings {
    pub kind: QnaKind,
    /// Serve mode (`qna.serve`): whether /language/:query-knowledgebases
    /// is mounted at all.
    pub serve: bool,
    /// Serve mode's expected `Ocp-Apim-Subscription-Key`, when set.
    pub serve_key: Option<SecretString>,
}

#[derive(Clone, Copy)]
enum Kind {
    Embedded,
    Cqa,
    QnaMaker,
}

fn kb_path(q: &RawQnaSettings, p: &mut Problems<'_>) -> Checked<PathBuf> {
    let shown = q.kb_path.clone().unwrap_or_default();
    optional_path(&q.kb_path)
        .filter(|path| path.is_file())
        .ok_or_else(|| p.invalid("qna.kb_path", shown, "knowledge-base file not found"))
}

fn encoder(q: &RawQnaSettings, p: &mut Problems<'_>) -> Checked<Option<EncoderSpec>> {
    let Some(dir) = optional_path(&q.encoder_dir) else {
        return Ok(None);
    };
    let layers = p.at_least("qna.encoder_layers", q.encoder_layers as u64, 1);
    let missing: Vec<&str> = qna::ENCODER_FILES
        .into_iter()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if missing.is_empty() {
        layers?;
        Ok(Some(EncoderSpec {
            dir,
            layers: q.encoder_layers,
        }))
    } else {
        Err(p.invalid(
            "qna.encoder_dir",
            dir.display().to_string(),
            format!(
                "no sentence encoder there: {} missing (scripts/fetch-encoder fetches one), \
                 or set it to \"\" for none",
                missing.join(", ")
            ),
        ))
    }
}

fn remote(q: &RawQnaSettings, p: &mut Problems<'_>) -> Checked<RemoteQna> {
    let endpoints = if q.endpoints.is_empty() {
        Err(p.invalid(
            "qna.endpoints",
            "",
            "list this region's endpoint first, then the paired region's",
        ))
    } else {
        http_urls(
            p,
            "qna.endpoints",
            &q.endpoints,
            "https://my-language.cognitiveservices.azure.com",
        )
    };
    let key_count = p.require(
        q.endpoint_keys.is_empty() || q.endpoint_keys.len() == q.endpoints.len(),
        "qna.endpoint_keys",
        format!("{} keys", q.endpoint_keys.len()),
        &format!(
            "give one key per endpoint ({}), in the same order, or none",
            q.endpoints.len()
        ),
    );
    let key = secret(&q.key)
        .or_else(|| {
            q.endpoint_keys
                .first()
                .filter(|k| !k.expose_secret().is_empty())
                .cloned()
        })
        .ok_or_else(|| {
            p.invalid(
                "qna.key",
                "",
                "the service key is required (BOT__QNA__KEY, or one per endpoint in BOT__QNA__ENDPOINT_KEYS)",
            )
        });
    let timeout = p.millis("qna.timeout_ms", q.timeout_ms, 50);
    let retries = p.require(q.retries <= 5, "qna.retries", q.retries, "must be 0 to 5");
    let breaker = p.at_least("qna.breaker_failures", q.breaker_failures.into(), 1);
    let fallback_kb = if q.fallback {
        kb_path(q, p).map(Some)
    } else {
        Ok(None)
    };
    let kb_encoder = if q.fallback { encoder(q, p) } else { Ok(None) };
    let (endpoints, key) = (endpoints?, key?);
    key_count?;
    retries?;
    breaker?;
    Ok(RemoteQna {
        endpoints,
        key,
        endpoint_keys: q.endpoint_keys.clone(),
        policy: failover::Policy {
            per_try_timeout: timeout?,
            retries: q.retries,
            breaker_failures: q.breaker_failures,
            breaker_cooldown: std::time::Duration::from_millis(q.breaker_cooldown_ms),
            ..failover::Policy::default()
        },
        fallback_kb: fallback_kb?,
        kb_cache_dir: optional_path(&q.cache_dir),
        kb_encoder: kb_encoder?,
    })
}

pub fn validate(
    q: &RawQnaSettings,
    mode: Option<Mode>,
    p: &mut Problems<'_>,
) -> Checked<QnaSettings> {
    let kind = p
        .choice(
            "qna.kind",
            &q.kind,
            &[
                ("embedded", Kind::Embedded),
                ("cqa", Kind::Cqa),
                ("qnamaker", Kind::QnaMaker),
            ],
        )
        .and_then(|kind| {
            let why = format!("required when qna.kind = {:?}", q.kind);
            Ok(match kind {
                Kind::Embedded => {
                    let kb = kb_path(q, p);
                    let encoder = encoder(q, p);
                    QnaKind::Embedded {
                        kb_path: kb?,
                        reload_interval_ms: q.reload_interval_ms,
                        cache_dir: optional_path(&q.cache_dir),
                        encoder: encoder?,
                    }
                }
                Kind::Cqa => {
                    let project = required(p, "qna.project_name", &q.project_name, &why);
                    QnaKind::Cqa {
                        remote: remote(q, p)?,
                        project: project?,
                        deployment: text(&q.deployment_name).unwrap_or_else(|| "production".into()),
                    }
                }
                Kind::QnaMaker => {
                    let kb_id = required(p, "qna.kb_id", &q.kb_id, &why);
                    QnaKind::QnaMaker {
                        remote: remote(q, p)?,
                        kb_id: kb_id?,
                    }
                }
            })
        });
    let serve_key = secret(&q.serve_key);
    let keyed = p.require(
        !q.serve || serve_key.is_some() || mode != Some(Mode::Production),
        "qna.serve_key",
        "",
        "qna.serve = true in production mode needs a key for callers \
         (set BOT__QNA__SERVE_KEY), or turn serve mode off",
    );
    let kind = kind?;
    keyed?;
    Ok(QnaSettings {
        kind,
        serve: q.serve,
        serve_key,
    })
}

impl QnaKind {
    /// What the settings dump shows: the backend and its endpoints, never
    /// the service key.
    pub fn summary(&self) -> serde_json::Value {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        match self {
            QnaKind::Embedded {
                kb_path,
                reload_interval_ms,
                cache_dir,
                encoder,
            } => serde_json::json!({
                "kind": "embedded", "kbPath": kb_path.display().to_string(),
                "reloadIntervalMs": reload_interval_ms,
                "cacheDir": path(cache_dir),
                "encoderDir": encoder.as_ref().map(|e| e.dir.display().to_string()),
                "encoderLayers": encoder.as_ref().map(|e| e.layers),
            }),
            QnaKind::Cqa {
                remote,
                project,
                deployment,
            } => serde_json::json!({
                "kind": "cqa", "endpoints": remote.endpoints, "projectName": project,
                "deploymentName": deployment, "fallbackKb": path(&remote.fallback_kb),
            }),
            QnaKind::QnaMaker { remote, kb_id } => serde_json::json!({
                "kind": "qnamaker", "endpoints": remote.endpoints, "kbId": kb_id,
                "fallbackKb": path(&remote.fallback_kb),
            }),
        }
    }
}
