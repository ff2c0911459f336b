//! The `Answerer` trait: a question (plus multi-turn context) in, ranked
//! answers with a 0..1 confidence out.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::QnaError;

/// A follow-up prompt shown with an answer (QnA Maker / CQA "prompts").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    #[serde(default)]
    pub display_order: i32,
    pub qna_id: u64,
    pub display_text: String,
}

/// Multi-turn context: the answer the user is following up on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QnaContext {
    pub previous_qna_id: Option<u64>,
    pub previous_user_query: Option<String>,
}

/// Metadata filter: `(key, value)` pairs combined with AND or OR.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataFilter {
    pub pairs: Vec<(String, String)>,
    /// true: every pair must match; false: any pair.
    pub all: bool,
}

impl MetadataFilter {
    pub fn matches(&self, metadata: &BTreeMap<String, String>) -> bool {
        if self.pairs.is_empty() {
            return true;
        }
        let hit = |(k, v): &(String, String)| {
            metadata
                .get(&k.to_lowercase())
                .is_some_and(|m| m.eq_ignore_ascii_case(v))
        };
        if self.all {
            self.pairs.iter().all(hit)
        } else {
            self.pairs.iter().any(hit)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QnaQuery {
    pub question: String,
    pub top: usize,
    /// Answers below this confidence (0..1) are not returned.
    pub score_threshold: f32,
    pub context: Option<QnaContext>,
    pub filter: Option<MetadataFilter>,
}

impl QnaQuery {
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            top: 3,
            score_threshold: 0.0,
            context: None,
            filter: None,
        }
    }
}

/// Which backend, and which of its endpoints, produced an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedBy {
    pub backend: String,
    pub endpoint: Option<String>,
}

/// An answer's question phrasings, shared with the knowledge base that
/// holds them: a turn asks for three answers, and copying ~90 phrasings for
/// each cost more than ranking them. Serialised as a plain array.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Phrasings(Arc<[String]>);

impl Deref for Phrasings {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl From<Vec<String>> for Phrasings {
    fn from(v: Vec<String>) -> Self {
        Self(v.into())
    }
}

impl Serialize for Phrasings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for Phrasings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Self::from)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QnaAnswer {
    pub id: u64,
    pub answer: String,
    pub questions: Phrasings,
    /// 0..1; comparable across backends.
    pub confidence: f32,
    pub metadata: BTreeMap<String, String>,
    pub prompts: Vec<Prompt>,
    pub source: String,
    pub served_by: ServedBy,
}

/// What a reloaded knowledge base holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KbSummary {
    pub answers: usize,
    pub questions: usize,
    pub build_ms: u64,
}

#[async_trait]
pub trait Answerer: Send + Sync {
    /// Ranked answers, best first, at most `query.top`, none below the threshold.
    async fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError>;
    /// Whether the backend can answer now (KB loaded, endpoint reachable).
    async fn ready(&self) -> Result<(), QnaError>;
    fn kind(&self) -> &'static str;
    /// Re-reads the local knowledge base (the admin call) and says what it
    /// holds now. A remote service is managed where it runs.
    async fn reload(&self) -> Result<KbSummary, QnaError> {
        Err(QnaError::NotSupported(format!(
            "the {} backend has no local knowledge base to reload",
            self.kind()
        )))
    }
}
