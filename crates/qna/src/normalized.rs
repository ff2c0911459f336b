//! A first, simple embedded backend: exact match on normalised question text,
//! then the best word overlap (Jaccard). Real ranking replaces it.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use crate::answerer::{Answerer, QnaAnswer, QnaQuery};
use crate::error::QnaError;
use crate::kb::KnowledgeBase;

const BACKEND: &str = "embedded-normalized";

/// Lower-case, letters and digits only, single spaces: words as written,
/// which is all this backend compares.
pub use text::plain as normalize;

pub struct NormalizedMatchAnswerer {
    kb: KnowledgeBase,
    exact: HashMap<String, usize>,
    words: Vec<(usize, HashSet<String>)>,
}

impl NormalizedMatchAnswerer {
    pub fn new(kb: KnowledgeBase) -> Self {
        let mut exact = HashMap::new();
        let mut words = Vec::new();
        for (i, q) in kb.qnas.iter().enumerate() {
            for question in &q.questions {
                let n = normalize(question);
                words.push((i, n.split(' ').map(str::to_string).collect()));
                exact.entry(n).or_insert(i);
            }
        }
        Self { kb, exact, words }
    }

    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }
}

#[async_trait]
impl Answerer for NormalizedMatchAnswerer {
    async fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError> {
        let n = normalize(&query.question);
        if n.is_empty() {
            return Ok(Vec::new());
        }
        let allowed = |i: usize| {
            let q = &self.kb.qnas[i];
            let prompt_ids: Option<Vec<u64>> = query
                .context
                .as_ref()
                .and_then(|c| c.previous_qna_id)
                .and_then(|id| self.kb.get(id))
                .map(|p| p.prompts.iter().map(|p| p.qna_id).collect());
            let in_context = match &prompt_ids {
                Some(ids) if !ids.is_empty() => ids.contains(&q.id),
                _ => !q.is_context_only,
            };
            in_context && query.filter.as_ref().is_none_or(|f| f.matches(&q.metadata))
        };
        let mut scores: HashMap<usize, f32> = HashMap::new();
        if let Some(&i) = self.exact.get(&n) {
            scores.insert(i, 1.0);
        }
        let qwords: HashSet<&str> = n.split(' ').collect();
        for (i, words) in &self.words {
            let inter = words.iter().filter(|w| qwords.contains(w.as_str())).count();
            let union = words.len() + qwords.len() - inter;
            let s = inter as f32 / union.max(1) as f32;
            let e = scores.entry(*i).or_insert(0.0);
            *e = e.max(s);
        }
        let mut ranked: Vec<_> = scores
            .into_iter()
            .filter(|(i, s)| *s > 0.0 && *s >= query.score_threshold && allowed(*i))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(ranked
            .into_iter()
            .take(query.top.max(1))
            .map(|(i, s)| self.kb.qnas[i].to_answer(s, BACKEND))
            .collect())
    }

    async fn ready(&self) -> Result<(), QnaError> {
        if self.kb.qnas.is_empty() {
            Err(QnaError::Unavailable("the knowledge base is empty".into()))
        } else {
            Ok(())
        }
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::parse_tsv;

    #[tokio::test]
    async fn exact_then_overlap() {
        let kb = parse_tsv(
            "Question\tAnswer\nWhat's your name?\tI'm a bot.\nHow old are you?\tAgeless.\n",
            "t",
        )
        .unwrap();
        let a = NormalizedMatchAnswerer::new(kb);
        let r = a
            .answer(&QnaQuery::new("  what's YOUR name "))
            .await
            .unwrap();
        assert_eq!(r[0].answer, "I'm a bot.");
        assert_eq!(r[0].confidence, 1.0);
        let r = a.answer(&QnaQuery::new("how old")).await.unwrap();
        assert_eq!(r[0].answer, "Ageless.");
        assert!(r[0].confidence < 1.0);
        assert!(a.answer(&QnaQuery::new("?!")).await.unwrap().is_empty());
    }
}
