//! Azure AI Language conversational language understanding (CLU), the
//! successor of LUIS: `POST {endpoint}/language/:analyze-conversations`,
//! over the regional endpoints in order, with the retries and breakers of
//! the `failover` crate.

use std::time::Duration;

use async_trait::async_trait;
use failover::{parse_retry_after, Failover, FailoverError, Policy, TryError};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::error::LuError;
use crate::recognizer::{check_utterance, Entity, IntentScore, Recognition, Recognizer};

pub const KIND: &str = "clu";
pub const API_VERSION: &str = "2023-04-01";

/// One regional Language resource.
#[derive(Clone)]
pub struct CluEndpoint {
    /// `https://<resource>.cognitiveservices.azure.com`, no trailing path.
    pub url: String,
    pub key: SecretString,
}

impl std::fmt::Debug for CluEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CluEndpoint")
            .field("url", &self.url)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct CluConfig {
    /// This region's resource first, the paired region's next.
    pub endpoints: Vec<CluEndpoint>,
    pub project: String,
    pub deployment: String,
    pub policy: Policy,
}

pub struct CluRecognizer {
    http: reqwest::Client,
    failover: Failover,
    keys: Vec<(String, SecretString)>,
    project: String,
    deployment: String,
}

// The documented response, only the members used.
#[derive(Deserialize)]
struct Response {
    result: ResultBody,
}

#[derive(Deserialize)]
struct ResultBody {
    prediction: Prediction,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Prediction {
    top_intent: String,
    #[serde(default)]
    intents: Vec<CluIntent>,
    #[serde(default)]
    entities: Vec<CluEntity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CluIntent {
    category: String,
    confidence_score: f32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CluEntity {
    category: String,
    text: String,
    offset: usize,
    length: usize,
    #[serde(default)]
    confidence_score: f32,
}

impl CluRecognizer {
    pub fn new(config: CluConfig, http: reqwest::Client) -> Result<Self, LuError> {
        if config.project.trim().is_empty() || config.deployment.trim().is_empty() {
            return Err(LuError::Config(
                "CLU needs a project name and a deployment name".into(),
            ));
        }
        let urls: Vec<String> = config
            .endpoints
            .iter()
            .map(|e| e.url.trim_end_matches('/').to_string())
            .collect();
        let failover = Failover::new(urls.clone(), config.policy)
            .map_err(|e| LuError::Config(format!("CLU endpoints: {e}")))?;
        Ok(Self {
            http,
            failover,
            keys: urls
                .into_iter()
                .zip(config.endpoints.into_iter().map(|e| e.key))
                .collect(),
            project: config.project,
            deployment: config.deployment,
        })
    }

    /// Each endpoint's breaker, for readiness and operators.
    pub fn status(&self) -> Vec<failover::EndpointStatus> {
        self.failover.status()
    }

    async fn try_once(
        &self,
        endpoint: &str,
        body: &serde_json::Value,
    ) -> Result<Prediction, TryError<String>> {
        let key = self
            .keys
            .iter()
            .find(|(u, _)| u == endpoint)
            .map(|(_, k)| k.expose_secret())
            .unwrap_or_default();
        let url = format!("{endpoint}/language/:analyze-conversations?api-version={API_VERSION}");
        let response = self
            .http
            .post(&url)
            .header("Ocp-Apim-Subscription-Key", key)
            .json(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    TryError::Retryable {
                        error: format!("timed out: {e}"),
                        retry_after: None,
                    }
                } else {
                    TryError::Unreachable(format!("{e}"))
                }
            })?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = ["retry-after-ms", "x-ms-retry-after-ms", "retry-after"]
                .iter()
                .find_map(|h| {
                    let v = response.headers().get(*h)?.to_str().ok()?;
                    parse_retry_after(h, v)
                });
            return Err(TryError::Retryable {
                error: format!("HTTP {}", status.as_u16()),
                retry_after,
            });
        }
        if !status.is_success() {
            // 400/401/403/404: a wrong key, project or deployment is wrong
            // in every region alike. The body says which; the key is not in it.
            let text = response.text().await.unwrap_or_default();
            let text: String = text.chars().take(300).collect();
            return Err(TryError::Fatal(format!("HTTP {}: {text}", status.as_u16())));
        }
        let parsed: Response = response.json().await.map_err(|e| TryError::Retryable {
            error: format!("unreadable response: {e}"),
            retry_after: None,
        })?;
        Ok(parsed.result.prediction)
    }
}

/// The request body, as documented for `kind: Conversation`.
fn request_body(text: &str, locale: &str, project: &str, deployment: &str) -> serde_json::Value {
    json!({
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {
                "id": "1",
                "participantId": "user",
                "text": text,
                "language": locale,
            }
        },
        "parameters": {
            "projectName": project,
            "deploymentName": deployment,
            // Offsets in code points, what `Entity` promises.
            "stringIndexType": "UnicodeCodePoint",
        }
    })
}

#[async_trait]
impl Recognizer for CluRecognizer {
    async fn recognize(&self, text: &str, locale: &str) -> Result<Recognition, LuError> {
        let text = check_utterance(text)?;
        let locale = if locale.trim().is_empty() {
            "en-us"
        } else {
            locale
        };
        let body = request_body(text, locale, &self.project, &self.deployment);
        let served = self
            .failover
            .call(|endpoint: &str| {
                let endpoint = endpoint.to_string();
                let body = &body;
                async move { self.try_once(&endpoint, body).await }
            })
            .await
            .map_err(|e| match e {
                FailoverError::Fatal { endpoint, source } => {
                    LuError::Rejected(format!("{endpoint}: {source}"))
                }
                other => LuError::Unavailable(other.to_string()),
            })?;
        let p = served.value;
        let mut intents: Vec<IntentScore> = p
            .intents
            .into_iter()
            .map(|i| IntentScore {
                name: i.category,
                confidence: i.confidence_score.clamp(0.0, 1.0),
            })
            .collect();
        intents.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        let top_intent = intents
            .iter()
            .find(|i| i.name == p.top_intent)
            .cloned()
            .unwrap_or(IntentScore {
                name: p.top_intent,
                confidence: 0.0,
            });
        Ok(Recognition {
            text: text.to_string(),
            top_intent,
            intents,
            entities: p
                .entities
                .into_iter()
                .map(|e| Entity {
                    category: e.category,
                    text: e.text,
                    offset: e.offset,
                    length: e.length,
                    confidence: e.confidence_score.clamp(0.0, 1.0),
                })
                .collect(),
            recognizer: KIND.into(),
            endpoint: Some(served.endpoint),
        })
    }

    fn kind(&self) -> &'static str {
        KIND
    }
}

/// A policy suited to an intent call in the middle of a turn: short tries,
/// one retry, breakers that stop paying a dead region's timeout quickly.
pub fn default_policy() -> Policy {
    Policy {
        per_try_timeout: Duration::from_secs(2),
        ..Policy::default()
    }
}
