//! QnA Maker generateAnswer v4:
//! `POST {host}/qnamaker/knowledgebases/{kbId}/generateAnswer` with
//! `Authorization: EndpointKey …`, over `failover`. Scores are 0-100 and
//! are normalised to 0..1; prompts come in `context.prompts`.

use async_trait::async_trait;
use failover::Failover;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::answerer::{Answerer, Prompt, QnaAnswer, QnaQuery, ServedBy};
use crate::error::QnaError;
use crate::remote::{self, http_client, join, map_failover, try_json, RemoteSettings};

pub const BACKEND: &str = "qnamaker";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    question: &'a str,
    top: usize,
    score_threshold: f32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    strict_filters: Vec<NameValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict_filters_compound_operation_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<RequestContext>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    #[serde(rename = "previousQnAId", skip_serializing_if = "Option::is_none")]
    previous_qna_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_user_query: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    answers: Vec<Answer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    score: f32,
    id: i64,
    #[serde(default)]
    source: String,
    #[serde(default)]
    metadata: Vec<NameValue>,
    #[serde(default)]
    context: Option<AnswerContext>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerContext {
    #[serde(default)]
    prompts: Vec<Prompt>,
}

pub struct QnaMakerClient {
    http: reqwest::Client,
    failover: Failover,
    keys: std::collections::HashMap<String, secrecy::SecretString>,
    kb_id: String,
}

impl QnaMakerClient {
    pub fn new(settings: RemoteSettings, kb_id: String) -> Result<Self, QnaError> {
        let keys = settings.keys_by_endpoint()?;
        Ok(Self {
            http: http_client()?,
            failover: Failover::new(settings.endpoints, settings.policy)
                .map_err(|e| QnaError::Unavailable(e.to_string()))?,
            keys,
            kb_id,
        })
    }

    pub fn failover(&self) -> &Failover {
        &self.failover
    }
}

#[async_trait]
impl Answerer for QnaMakerClient {
    async fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError> {
        let filter = query.filter.as_ref().filter(|f| !f.pairs.is_empty());
        let body = Request {
            question: &query.question,
            top: query.top.max(1),
            // 0-100 on this API; rounded so 0.3 goes out as 30, not 30.000002.
            score_threshold: (query.score_threshold * 10_000.0).round() / 100.0,
            strict_filters: filter
                .map(|f| {
                    f.pairs
                        .iter()
                        .map(|(k, v)| NameValue {
                            name: k.clone(),
                            value: v.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            strict_filters_compound_operation_type: filter
                .map(|f| if f.all { "AND" } else { "OR" }),
            context: query.context.as_ref().map(|c| RequestContext {
                previous_qna_id: c.previous_qna_id,
                previous_user_query: c.previous_user_query.clone(),
            }),
        };
        let path = format!("/qnamaker/knowledgebases/{}/generateAnswer", self.kb_id);
        let served = self
            .failover
            .call(|endpoint| {
                let request = self
                    .http
                    .post(join(endpoint, &path))
                    .header(
                        "Authorization",
                        format!(
                            "EndpointKey {}",
                            self.keys.get(endpoint).map_or("", |k| k.expose_secret())
                        ),
                    )
                    .json(&body);
                try_json::<Response>(request)
            })
            .await
            .map_err(map_failover)?;
        let by = ServedBy {
            backend: BACKEND.into(),
            endpoint: Some(served.endpoint.clone()),
        };
        let answers = served
            .value
            .answers
            .into_iter()
            // id -1 is QnA Maker's "No good match found in KB."
            .filter_map(|a| {
                let id = u64::try_from(a.id).ok()?;
                Some(QnaAnswer {
                    id,
                    answer: a.answer,
                    questions: a.questions.into(),
                    confidence: (a.score / 100.0).clamp(0.0, 1.0),
                    metadata: a
                        .metadata
                        .into_iter()
                        .map(|nv| (nv.name.to_lowercase(), nv.value))
                        .collect(),
                    prompts: a.context.unwrap_or_default().prompts,
                    source: a.source,
                    served_by: by.clone(),
                })
            });
        Ok(remote::limit(answers, query))
    }

    async fn ready(&self) -> Result<(), QnaError> {
        remote::ready(&self.failover, "QnA Maker")
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}
