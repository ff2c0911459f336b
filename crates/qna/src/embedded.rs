//! The embedded knowledge base: a tantivy BM25 index over the questions and
//! answers, re-ranked per answer by a classifier trained on the KB's own
//! phrasings (see `classifier`).
//!
//! BM25 alone confuses answers whose phrasings share words; the classifier
//! weighs every phrasing of an answer at once, and its softmax gives a
//! confidence where 0.5 separates right from wrong. BM25 still decides which
//! answers are in the running when the classifier knows none of the words
//! (answer text matches, tiny KBs) and breaks near ties.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, FAST, INDEXED, TEXT};
use tantivy::{doc, Index, IndexReader, Term};

use crate::answerer::{QnaAnswer, QnaQuery};
use crate::classifier::Classifier;
use crate::error::QnaError;
use crate::kb::KnowledgeBase;
use crate::text;

pub const BACKEND: &str = "embedded";

/// Knobs of the ranking, public so the evaluation command can sweep them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// BM25 hits considered per query.
    pub bm25_candidates: usize,
    /// Weight of the answer text next to the questions in BM25.
    pub answer_boost: f32,
    /// How much the best BM25 score (relative to the query's best) adds to
    /// the classifier's log-probability when ranking.
    pub bm25_weight: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            bm25_candidates: 20,
            answer_boost: 0.3,
            bm25_weight: 0.3,
        }
    }
}

pub struct EmbeddedIndex {
    kb: KnowledgeBase,
    index_reader: IndexReader,
    question: Field,
    answer: Field,
    /// Per segment: doc id -> position in `kb.qnas`.
    doc_qna: Vec<Vec<u32>>,
    classifier: Classifier,
    /// Normalised phrasing -> the one answer it belongs to.
    exact: HashMap<String, usize>,
    tuning: Tuning,
    build_time: Duration,
}

fn index_err(e: tantivy::TantivyError) -> QnaError {
    QnaError::Index(e.to_string())
}

impl EmbeddedIndex {
    pub fn build(kb: KnowledgeBase) -> Result<Self, QnaError> {
        Self::build_with(kb, Tuning::default())
    }

    pub fn build_with(kb: KnowledgeBase, tuning: Tuning) -> Result<Self, QnaError> {
        let start = Instant::now();
        let mut schema = Schema::builder();
        let question = schema.add_text_field("question", TEXT);
        let answer = schema.add_text_field("answer", TEXT);
        let qna = schema.add_u64_field("qna", INDEXED | FAST);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index
            .writer_with_num_threads::<tantivy::TantivyDocument>(1, 20_000_000)
            .map_err(index_err)?;
        let mut exact: HashMap<String, Option<usize>> = HashMap::new();
        let mut examples = Vec::with_capacity(kb.question_count());
        for (i, q) in kb.qnas.iter().enumerate() {
            let answer_text = text::normalize(&q.answer);
            // The answer text is its own document, so a question that
            // quotes the answer finds it.
            writer
                .add_document(doc!(answer => answer_text, qna => i as u64))
                .map_err(index_err)?;
            for phrasing in &q.questions {
                let tokens = text::tokens(phrasing);
                let norm = tokens.join(" ");
                writer
                    .add_document(doc!(question => norm.clone(), qna => i as u64))
                    .map_err(index_err)?;
                exact
                    .entry(norm)
                    .and_modify(|e| {
                        if *e != Some(i) {
                            *e = None
                        }
                    })
                    .or_insert(Some(i));
                examples.push((tokens, i));
            }
        }
        writer.commit().map_err(index_err)?;
        let index_reader = index.reader().map_err(index_err)?;
        let searcher = index_reader.searcher();
        let mut doc_qna = Vec::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("qna").map_err(index_err)?;
            doc_qna.push(
                (0..segment.max_doc())
                    .map(|d| column.first(d).unwrap_or(0) as u32)
                    .collect(),
            );
        }
        let classifier = Classifier::train(&examples, kb.qnas.len());
        Ok(Self {
            exact: exact
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect(),
            kb,
            index_reader,
            question,
            answer,
            doc_qna,
            classifier,
            tuning,
            build_time: start.elapsed(),
        })
    }

    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    pub fn build_time(&self) -> Duration {
        self.build_time
    }

    pub fn feature_count(&self) -> usize {
        self.classifier.feature_count()
    }

    /// Best BM25 score per answer among the top hits.
    fn bm25(&self, tokens: &[String]) -> Result<HashMap<usize, f32>, QnaError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(tokens.len() * 2);
        let mut seen: Vec<&str> = Vec::new();
        for t in tokens {
            if seen.contains(&t.as_str()) {
                continue;
            }
            seen.push(t);
            clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.question, t),
                    IndexRecordOption::WithFreqs,
                )),
            ));
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.answer, t),
                        IndexRecordOption::WithFreqs,
                    )),
                    self.tuning.answer_boost,
                )),
            ));
        }
        let searcher = self.index_reader.searcher();
        let hits = searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(self.tuning.bm25_candidates).order_by_score(),
            )
            .map_err(index_err)?;
        let mut best: HashMap<usize, f32> = HashMap::new();
        for (score, addr) in hits {
            let Some(&i) = self
                .doc_qna
                .get(addr.segment_ord as usize)
                .and_then(|s| s.get(addr.doc_id as usize))
            else {
                continue;
            };
            let e = best.entry(i as usize).or_insert(0.0);
            *e = e.max(score);
        }
        Ok(best)
    }

    /// Ranked `(position in kb.qnas, confidence)`, best first, after
    /// context, filters, threshold and top.
    pub fn rank(&self, query: &QnaQuery) -> Result<Vec<(usize, f32)>, QnaError> {
        let tokens = text::tokens(&query.question);
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        // Multi-turn: a follow-up to an answer with prompts is looked for
        // among those prompts only; otherwise context-only answers are out.
        let prompts = query
            .context
            .as_ref()
            .and_then(|c| c.previous_qna_id)
            .and_then(|id| self.kb.get(id))
            .map(|p| p.prompts.as_slice())
            .filter(|p| !p.is_empty());
        let allowed = |i: usize| {
            let q = &self.kb.qnas[i];
            let in_context = match prompts {
                Some(p) => p.iter().any(|p| p.qna_id == q.id),
                None => !q.is_context_only,
            };
            in_context && query.filter.as_ref().is_none_or(|f| f.matches(&q.metadata))
        };
        let norm = tokens.join(" ");
        let (probs, known) = self.classifier.predict(&tokens);
        let bm25 = self.bm25(&tokens)?;
        let top_bm25 = bm25.values().copied().fold(0.0f32, f32::max);
        let mut scored: Vec<(usize, f32, f32)> = Vec::new();
        for (i, p) in probs.iter().enumerate() {
            let b = bm25.get(&i).copied().unwrap_or(0.0);
            if (known == 0 && b == 0.0) || !allowed(i) {
                continue;
            }
            let mut confidence = *p;
            if known == 0 {
                // Only the answer text matched: BM25 is all the evidence.
                confidence = 0.5 * b / (b + 5.0);
            }
            let rel = if top_bm25 > 0.0 { b / top_bm25 } else { 0.0 };
            let rank = confidence.max(1e-9).ln() + self.tuning.bm25_weight * rel;
            scored.push((i, rank, confidence));
        }
        // The words of a prompt button, or a known phrasing, are certain.
        if let Some(p) = prompts {
            for prompt in p {
                if text::normalize(&prompt.display_text) == norm {
                    if let Some(i) = self.kb.qnas.iter().position(|q| q.id == prompt.qna_id) {
                        lift(&mut scored, i);
                    }
                }
            }
        }
        if let Some(&i) = self.exact.get(&norm) {
            if allowed(i) {
                lift(&mut scored, i);
            }
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(scored
            .into_iter()
            .filter(|(_, _, c)| *c >= query.score_threshold && *c > 0.0)
            .take(query.top.max(1))
            .map(|(i, _, c)| (i, c.clamp(0.0, 1.0)))
            .collect())
    }

    pub fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError> {
        Ok(self
            .rank(query)?
            .into_iter()
            .map(|(i, c)| self.kb.qnas[i].to_answer(c, BACKEND))
            .collect())
    }
}

fn lift(scored: &mut Vec<(usize, f32, f32)>, i: usize) {
    match scored.iter_mut().find(|s| s.0 == i) {
        Some(s) => {
            s.1 = f32::MAX;
            s.2 = 1.0;
        }
        None => scored.push((i, f32::MAX, 1.0)),
    }
}
