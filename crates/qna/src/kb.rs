//! The knowledge-base model shared by the importers and the embedded backends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::answerer::{Phrasings, Prompt, QnaAnswer, ServedBy};

/// One answer with all the question phrasings that lead to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QnaPair {
    pub id: u64,
    pub answer: String,
    pub questions: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub source: String,
    pub prompts: Vec<Prompt>,
    /// Reachable only as a follow-up prompt of another answer.
    pub is_context_only: bool,
}

impl QnaPair {
    pub fn to_answer(&self, confidence: f32, backend: &str) -> QnaAnswer {
        self.to_answer_with(self.questions.clone().into(), confidence, backend)
    }

    /// `to_answer` with phrasings the caller already shares.
    pub fn to_answer_with(
        &self,
        questions: Phrasings,
        confidence: f32,
        backend: &str,
    ) -> QnaAnswer {
        QnaAnswer {
            id: self.id,
            answer: self.answer.clone(),
            questions,
            confidence,
            metadata: self.metadata.clone(),
            prompts: self.prompts.clone(),
            source: self.source.clone(),
            served_by: ServedBy {
                backend: backend.to_string(),
                endpoint: None,
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeBase {
    pub qnas: Vec<QnaPair>,
}

impl KnowledgeBase {
    pub fn get(&self, id: u64) -> Option<&QnaPair> {
        self.qnas.iter().find(|q| q.id == id)
    }

    pub fn question_count(&self) -> usize {
        self.qnas.iter().map(|q| q.questions.len()).sum()
    }
}
