//! Azure AI Language custom question answering:
//! `POST {endpoint}/language/:query-knowledgebases?projectName=&deploymentName=&api-version=2021-10-01`
//! with `Ocp-Apim-Subscription-Key`, over `failover`.
//!
//! `wire` holds the request and response bodies as the REST reference
//! documents them; bot-api's serve mode speaks the same types.

use async_trait::async_trait;
use failover::Failover;
use secrecy::ExposeSecret;

use crate::answerer::{Answerer, QnaAnswer, QnaQuery, ServedBy};
use crate::error::QnaError;
use crate::remote::{self, http_client, join, map_failover, try_json, RemoteSettings};

pub const BACKEND: &str = "cqa";
pub const API_VERSION: &str = "2021-10-01";

pub mod wire {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use crate::answerer::{MetadataFilter, Prompt, QnaAnswer, QnaContext, QnaQuery, ServedBy};

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct QueryRequest {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub qna_id: Option<u64>,
        #[serde(default)]
        pub question: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub top: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub confidence_score_threshold: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub context: Option<Context>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ranker_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub filters: Option<Filters>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub answer_span_request: Option<AnswerSpanRequest>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub include_unstructured_sources: Option<bool>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Context {
        // botbuilder-ai sends its own spelling, previousQnAId; the service
        // reads JSON names case-insensitively.
        #[serde(
            default,
            alias = "previousQnAId",
            skip_serializing_if = "Option::is_none"
        )]
        pub previous_qna_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub previous_user_query: Option<String>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Filters {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata_filter: Option<MetadataFilterWire>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub logical_operation: Option<String>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MetadataFilterWire {
        #[serde(default)]
        pub metadata: Vec<KeyValue>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub logical_operation: Option<String>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct KeyValue {
        pub key: String,
        pub value: String,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AnswerSpanRequest {
        #[serde(default)]
        pub enable: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub confidence_score_threshold: Option<f32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub top_answers_with_span: Option<u32>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    pub struct QueryResponse {
        #[serde(default)]
        pub answers: Vec<Answer>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Answer {
        #[serde(default)]
        pub questions: Vec<String>,
        #[serde(default)]
        pub answer: String,
        #[serde(default)]
        pub confidence_score: f32,
        pub id: i64,
        #[serde(default)]
        pub source: String,
        #[serde(default)]
        pub metadata: BTreeMap<String, String>,
        #[serde(default)]
        pub dialog: Dialog,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub answer_span: Option<AnswerSpan>,
    }

    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Dialog {
        #[serde(default)]
        pub is_context_only: bool,
        #[serde(default)]
        pub prompts: Vec<Prompt>,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AnswerSpan {
        pub text: String,
        pub confidence_score: f32,
        pub offset: usize,
        pub length: usize,
    }

    impl QueryRequest {
        pub fn from_query(q: &QnaQuery) -> Self {
            Self {
                qna_id: None,
                question: Some(q.question.clone()),
                top: Some(q.top),
                user_id: None,
                confidence_score_threshold: Some(q.score_threshold),
                context: q.context.as_ref().map(|c| Context {
                    previous_qna_id: c.previous_qna_id.map(|i| i as i64),
                    previous_user_query: c.previous_user_query.clone(),
                }),
                ranker_type: Some("Default".into()),
                filters: q
                    .filter
                    .as_ref()
                    .filter(|f| !f.pairs.is_empty())
                    .map(|f| Filters {
                        metadata_filter: Some(MetadataFilterWire {
                            metadata: f
                                .pairs
                                .iter()
                                .map(|(k, v)| KeyValue {
                                    key: k.clone(),
                                    value: v.clone(),
                                })
                                .collect(),
                            logical_operation: Some(if f.all { "AND" } else { "OR" }.into()),
                        }),
                        logical_operation: None,
                    }),
                answer_span_request: None,
                include_unstructured_sources: None,
            }
        }

        /// The query this request asks, or why it cannot be asked.
        pub fn to_query(&self) -> Result<QnaQuery, String> {
            let question = self.question.clone().unwrap_or_default();
            if question.trim().is_empty() && self.qna_id.is_none() {
                return Err("question is required (or qnaId)".into());
            }
            if question.chars().count() > 1000 {
                return Err("question is longer than 1000 characters".into());
            }
            let top = self.top.unwrap_or(3);
            if !(1..=50).contains(&top) {
                return Err(format!("top must be between 1 and 50, got {top}"));
            }
            let threshold = self.confidence_score_threshold.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&threshold) {
                return Err(format!(
                    "confidenceScoreThreshold must be between 0 and 1, got {threshold}"
                ));
            }
            let filter = match self
                .filters
                .as_ref()
                .and_then(|f| f.metadata_filter.as_ref())
            {
                None => None,
                Some(m) => {
                    let all = match m
                        .logical_operation
                        .as_deref()
                        .map(str::to_ascii_uppercase)
                        .as_deref()
                    {
                        None | Some("AND") => true,
                        Some("OR") => false,
                        Some(other) => {
                            return Err(format!(
                                "metadataFilter.logicalOperation must be AND or OR, got {other:?}"
                            ))
                        }
                    };
                    Some(MetadataFilter {
                        pairs: m
                            .metadata
                            .iter()
                            .map(|kv| (kv.key.clone(), kv.value.clone()))
                            .collect(),
                        all,
                    })
                }
            };
            Ok(QnaQuery {
                question,
                top,
                score_threshold: threshold,
                context: self.context.as_ref().map(|c| QnaContext {
                    previous_qna_id: c.previous_qna_id.and_then(|i| u64::try_from(i).ok()),
                    previous_user_query: c.previous_user_query.clone(),
                }),
                filter,
            })
        }
    }

    impl Answer {
        pub fn from_answer(a: &QnaAnswer) -> Self {
            Self {
                questions: a.questions.to_vec(),
                answer: a.answer.clone(),
                confidence_score: a.confidence,
                id: a.id as i64,
                source: a.source.clone(),
                metadata: a.metadata.clone(),
                dialog: Dialog {
                    is_context_only: false,
                    prompts: a.prompts.clone(),
                },
                answer_span: None,
            }
        }

        /// `None` for the service's "no answer" entry (id -1).
        pub fn into_answer(self, served_by: ServedBy) -> Option<QnaAnswer> {
            let id = u64::try_from(self.id).ok()?;
            Some(QnaAnswer {
                id,
                answer: self.answer,
                questions: self.questions.into(),
                confidence: self.confidence_score.clamp(0.0, 1.0),
                metadata: self
                    .metadata
                    .into_iter()
                    .map(|(k, v)| (k.to_lowercase(), v))
                    .collect(),
                prompts: self.dialog.prompts,
                source: self.source,
                served_by,
            })
        }
    }
}

/// The CQA client. One per project/deployment.
pub struct CqaClient {
    http: reqwest::Client,
    failover: Failover,
    keys: std::collections::HashMap<String, secrecy::SecretString>,
    project: String,
    deployment: String,
}

impl CqaClient {
    pub fn new(
        settings: RemoteSettings,
        project: String,
        deployment: String,
    ) -> Result<Self, QnaError> {
        let keys = settings.keys_by_endpoint()?;
        Ok(Self {
            http: http_client()?,
            failover: Failover::new(settings.endpoints, settings.policy)
                .map_err(|e| QnaError::Unavailable(e.to_string()))?,
            keys,
            project,
            deployment,
        })
    }

    pub fn failover(&self) -> &Failover {
        &self.failover
    }
}

#[async_trait]
impl Answerer for CqaClient {
    async fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError> {
        let body = wire::QueryRequest::from_query(query);
        let served = self
            .failover
            .call(|endpoint| {
                let request = self
                    .http
                    .post(join(endpoint, "/language/:query-knowledgebases"))
                    .query(&[
                        ("projectName", self.project.as_str()),
                        ("deploymentName", self.deployment.as_str()),
                        ("api-version", API_VERSION),
                    ])
                    .header(
                        "Ocp-Apim-Subscription-Key",
                        self.keys.get(endpoint).map_or("", |k| k.expose_secret()),
                    )
                    .json(&body);
                try_json::<wire::QueryResponse>(request)
            })
            .await
            .map_err(map_failover)?;
        let by = ServedBy {
            backend: BACKEND.into(),
            endpoint: Some(served.endpoint.clone()),
        };
        let answers = served.value.answers.into_iter();
        Ok(remote::limit(
            answers.filter_map(|a| a.into_answer(by.clone())),
            query,
        ))
    }

    async fn ready(&self) -> Result<(), QnaError> {
        remote::ready(&self.failover, "CQA")
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}
