//! The embedded knowledge base: a tantivy BM25 index over the questions and
//! answers, re-ranked per answer by a classifier trained on the KB's own
//! phrasings (see `classifier`).
//!
//! BM25 alone confuses answers whose phrasings share words; the classifier
//! weighs every phrasing of an answer at once. Its softmax orders the
//! answers; the confidence comes from a calibration fitted on the KB's own
//! phrasings (see `calibration`), so that 0.5 separates right from wrong.
//! BM25 still decides which answers are in the running when the classifier
//! knows none of the words (answer text matches, tiny KBs) and breaks near
//! ties.
//!
//! Training is most of the build; with a cache path the trained model is
//! kept in a snapshot (see `snapshot`) and trained again only when the
//! questions change.

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encoder::SentenceEncoder;
use tantivy::collector::TopDocs;
use tantivy::directory::RamDirectory;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::{doc, Index, ReloadPolicy, Searcher, Term};

use crate::answerer::{Phrasings, QnaAnswer, QnaQuery};
use crate::calibration::{self, Calibration, Evidence};
use crate::classifier::{Classifier, Example, IdMap, Scratch};
use crate::error::QnaError;
use crate::features;
use crate::kb::KnowledgeBase;
use crate::rank_cache::{self, CacheCounts, RankCache, RankKey};
use crate::snapshot::{self, Lookup};

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

/// Where the re-ranker of a built index came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// Trained now (no cache, or no usable snapshot in it).
    Trained,
    /// Loaded from the cache's snapshot.
    Snapshot,
}

/// How long the parts of a build took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuildTimes {
    /// Tokenising the phrasings and the exact-match table.
    pub prepare: Duration,
    /// The tantivy index.
    pub index: Duration,
    /// Training (calibration included), or loading the snapshot.
    pub model: Duration,
    /// Writing the snapshot after training.
    pub store: Duration,
    pub source: ModelSource,
}

pub struct EmbeddedIndex {
    kb: KnowledgeBase,
    /// The index never changes after the build: one searcher serves all.
    searcher: Searcher,
    question: Field,
    answer: Field,
    /// Per segment: doc id -> position in `kb.qnas`.
    doc_qna: Vec<Vec<u32>>,
    classifier: Classifier,
    calibration: Calibration,
    /// The sentence encoder the classifier was trained with, if any.
    encoder: Option<Arc<SentenceEncoder>>,
    /// Key of a normalised phrasing (`features::phrase_key`) -> the one answer
    /// it belongs to.
    exact: IdMap<u32>,
    /// Each answer's phrasings, shared by every answer handed out.
    phrasings: Vec<Phrasings>,
    tuning: Tuning,
    build_time: Duration,
    times: BuildTimes,
    /// Recent rankings: built with the index, so a reload starts empty.
    cache: RankCache,
    /// Rankings that asked BM25 (see `bm25_queries`).
    bm25_queries: AtomicU64,
}

fn index_err(e: tantivy::TantivyError) -> QnaError {
    QnaError::Index(e.to_string())
}

/// Per-thread buffers of `rank`, so a question allocates little.
#[derive(Default)]
struct RankScratch {
    model: Scratch,
    probs: Vec<f32>,
    bm25: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<RankScratch> = RefCell::new(RankScratch::default());
}

/// The tantivy part of the index.
struct Bm25Index {
    searcher: Searcher,
    question: Field,
    answer: Field,
    doc_qna: Vec<Vec<u32>>,
}

/// The indexing budget of the single-segment writer: it sizes the initial
/// term table (a third of it) and nothing else.
const WRITER_BUDGET: usize = 1 << 20;

/// BM25 needs term frequencies only, no positions, and the answer position
/// is a fast field only.
fn build_tantivy(
    kb: &KnowledgeBase,
    phrasings: &[(Vec<String>, usize)],
) -> Result<Bm25Index, QnaError> {
    let mut schema = Schema::builder();
    let text_options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let question = schema.add_text_field("question", text_options.clone());
    let answer = schema.add_text_field("answer", text_options);
    let qna = schema.add_u64_field("qna", FAST);
    // One segment, built on this thread. tantivy's IndexWriter sizes its
    // term table from its budget (15 MB at least) and queues documents for
    // a thread of its own: 14-17 MB that came and went at every start, and
    // the start's peak RSS. The single-segment writer is tantivy's for
    // exactly this (a small index, no thread) and takes a budget this small;
    // its table grows if a KB needs more.
    let mut writer = Index::builder()
        .schema(schema.build())
        .single_segment_index_writer::<tantivy::TantivyDocument>(
            RamDirectory::create(),
            WRITER_BUDGET,
        )
        .map_err(index_err)?;
    for (i, q) in kb.qnas.iter().enumerate() {
        // The answer text is its own document, so a question that quotes
        // the answer finds it.
        writer
            .add_document(doc!(answer => text::normalize(&q.answer), qna => i as u64))
            .map_err(index_err)?;
    }
    for (tokens, i) in phrasings {
        writer
            .add_document(doc!(question => tokens.join(" "), qna => *i as u64))
            .map_err(index_err)?;
    }
    let index = writer.finalize().map_err(index_err)?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(index_err)?;
    let searcher = reader.searcher();
    let mut doc_qna = Vec::new();
    for segment in searcher.segment_readers() {
        let column = segment.fast_fields().u64("qna").map_err(index_err)?;
        doc_qna.push(
            (0..segment.max_doc())
                .map(|d| column.first(d).unwrap_or(0) as u32)
                .collect(),
        );
    }
    Ok(Bm25Index {
        searcher,
        question,
        answer,
        doc_qna,
    })
}

impl EmbeddedIndex {
    pub fn build(kb: KnowledgeBase) -> Result<Self, QnaError> {
        Self::build_with(kb, Tuning::default())
    }

    pub fn build_with(kb: KnowledgeBase, tuning: Tuning) -> Result<Self, QnaError> {
        Self::build_cached(kb, tuning, None)
    }

    /// Builds the index; with `snapshot`, the re-ranker is loaded from that
    /// file when it holds the model of these questions, and otherwise
    /// trained and written there (a failed write is logged, not fatal: the
    /// index serves either way).
    pub fn build_cached(
        kb: KnowledgeBase,
        tuning: Tuning,
        snapshot: Option<&Path>,
    ) -> Result<Self, QnaError> {
        Self::build_encoded(kb, tuning, snapshot, None)
    }

    /// `build_cached`, with a sentence encoder whose vectors the re-ranker
    /// weighs next to the words: each phrasing is embedded to train (only
    /// when no snapshot holds the model), and each new question to rank.
    pub fn build_encoded(
        kb: KnowledgeBase,
        tuning: Tuning,
        snapshot: Option<&Path>,
        encoder: Option<Arc<SentenceEncoder>>,
    ) -> Result<Self, QnaError> {
        let start = Instant::now();
        let mut phrasings = Vec::with_capacity(kb.question_count());
        let mut exact: IdMap<Option<u32>> = IdMap::default();
        for (i, q) in kb.qnas.iter().enumerate() {
            for phrasing in &q.questions {
                let tokens = text::tokens(phrasing);
                exact
                    .entry(features::phrase_key(&tokens))
                    .and_modify(|e| {
                        if *e != Some(i as u32) {
                            *e = None
                        }
                    })
                    .or_insert(Some(i as u32));
                phrasings.push((tokens, i));
            }
        }
        let exact: IdMap<u32> = exact
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let prepare = start.elapsed();

        let model_start = Instant::now();
        // From the tokens just made, in the KB's order: not tokenised again.
        let fingerprint = encoder.as_ref().map(|e| e.fingerprint());
        let key = snapshot.map(|_| {
            snapshot::key_of(
                &kb,
                phrasings.iter().map(|(t, _)| t.as_slice()),
                fingerprint,
            )
        });
        let loaded = match (snapshot, key) {
            (Some(path), Some(key)) => match snapshot::load(path, key, kb.qnas.len()) {
                Lookup::Found(model, _)
                    if model.dense_dims() != encoder.as_ref().map_or(0, |e| e.dims()) =>
                {
                    tracing::warn!(path = %path.display(), "the knowledge-base snapshot was made with another sentence encoder; training");
                    None
                }
                Lookup::Found(model, calibration) => Some((*model, calibration)),
                Lookup::Missing => {
                    tracing::info!(path = %path.display(), "no knowledge-base snapshot yet; training");
                    None
                }
                Lookup::Rejected(why) => {
                    tracing::warn!(path = %path.display(), reason = %why, "ignoring the knowledge-base snapshot; training");
                    None
                }
            },
            _ => None,
        };
        let (source, tantivy, (classifier, calibration), model_time, index_time) = match loaded {
            Some(model) => {
                let model_time = model_start.elapsed();
                let index_start = Instant::now();
                let t = build_tantivy(&kb, &phrasings);
                (
                    ModelSource::Snapshot,
                    t,
                    model,
                    model_time,
                    index_start.elapsed(),
                )
            }
            None => {
                // One after the other, not side by side: training's buffers
                // and tantivy's writer at once would raise the peak RSS by
                // more than the overlap saves (tens of ms, once per change).
                let model_start = Instant::now();
                let vectors = match &encoder {
                    Some(e) => embed_all(e, kb.qnas.iter().flat_map(|q| q.questions.iter()))?,
                    None => Vec::new(),
                };
                let examples: Vec<Example> = phrasings
                    .iter()
                    .enumerate()
                    .map(|(n, (tokens, class))| Example {
                        tokens,
                        class: *class,
                        dense: vectors.get(n).map(Vec::as_slice),
                    })
                    .collect();
                // The calibration trains a classifier of its own on part of
                // the phrasings, first, so its buffers are gone before the
                // real one's.
                let calibration = Calibration::fit_out_of_fold(&examples, kb.qnas.len());
                let model = (Classifier::train(&examples, kb.qnas.len()), calibration);
                drop(examples);
                drop(vectors);
                let model_time = model_start.elapsed();
                heap::release_free_memory();
                let index_start = Instant::now();
                let t = build_tantivy(&kb, &phrasings);
                (
                    ModelSource::Trained,
                    t,
                    model,
                    model_time,
                    index_start.elapsed(),
                )
            }
        };
        let Bm25Index {
            searcher,
            question,
            answer,
            doc_qna,
        } = tantivy?;
        drop(phrasings);
        let store_start = Instant::now();
        if let (ModelSource::Trained, Some(path), Some(key)) = (source, snapshot, key) {
            match snapshot::store(path, &classifier, calibration, key) {
                Ok(()) => tracing::info!(path = %path.display(), "knowledge-base snapshot written"),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot write the knowledge-base snapshot; the next start trains again")
                }
            }
        }
        let store = store_start.elapsed();
        heap::release_free_memory();
        Ok(Self {
            exact,
            phrasings: kb.qnas.iter().map(|q| q.questions.clone().into()).collect(),
            kb,
            searcher,
            question,
            answer,
            doc_qna,
            classifier,
            calibration,
            encoder,
            tuning,
            cache: RankCache::new(rank_cache::ENTRIES),
            bm25_queries: AtomicU64::new(0),
            build_time: start.elapsed(),
            times: BuildTimes {
                prepare,
                index: index_time,
                model: model_time,
                store,
                source,
            },
        })
    }

    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    pub fn build_time(&self) -> Duration {
        self.build_time
    }

    pub fn build_times(&self) -> BuildTimes {
        self.times
    }

    pub fn feature_count(&self) -> usize {
        self.classifier.feature_count()
    }

    /// The confidence calibration in words (for the eval command).
    pub fn calibration_summary(&self) -> String {
        self.calibration.to_string()
    }

    /// Bytes of the re-ranker's tables.
    pub fn model_bytes(&self) -> usize {
        self.classifier.weight_bytes()
    }

    /// Writes the re-ranker's snapshot to `path` (what `botctl kb compile`
    /// ships), whether it was trained or loaded.
    pub fn write_snapshot(&self, path: &Path) -> Result<(), QnaError> {
        snapshot::store(
            path,
            &self.classifier,
            self.calibration,
            snapshot::key(&self.kb, self.encoder.as_ref().map(|e| e.fingerprint())),
        )
    }

    /// Best BM25 score per answer among the top hits, into `best` (one slot
    /// per answer); returns the best of them all.
    fn bm25(&self, tokens: &[String], best: &mut Vec<f32>) -> Result<f32, QnaError> {
        self.bm25_queries.fetch_add(1, Ordering::Relaxed);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(tokens.len() * 2);
        for (n, t) in tokens.iter().enumerate() {
            if tokens[..n].contains(t) {
                continue;
            }
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
        let hits = self
            .searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(self.tuning.bm25_candidates).order_by_score(),
            )
            .map_err(index_err)?;
        best.clear();
        best.resize(self.kb.qnas.len(), 0.0);
        for (score, addr) in hits {
            let Some(&i) = self
                .doc_qna
                .get(addr.segment_ord as usize)
                .and_then(|s| s.get(addr.doc_id as usize))
            else {
                continue;
            };
            if let Some(e) = best.get_mut(i as usize) {
                *e = e.max(score);
            }
        }
        Ok(best.iter().copied().fold(0.0f32, f32::max))
    }

    /// Ranked `(position in kb.qnas, confidence)`, best first, after
    /// context, filters, threshold and top.
    pub fn rank(&self, query: &QnaQuery) -> Result<Vec<(usize, f32)>, QnaError> {
        let tokens = text::tokens(&query.question);
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        if query.filter.is_some() {
            return self.rank_tokens(query, &tokens);
        }
        let key = RankKey {
            phrase: features::phrase_key(&tokens),
            previous_qna_id: query.context.as_ref().and_then(|c| c.previous_qna_id),
            threshold: query.score_threshold.to_bits(),
            top: query.top,
        };
        let kept = self.cache.get_or(&key, || {
            self.rank_tokens(query, &tokens)
                .map(|r| r.iter().map(|&(i, c)| (i as u32, c)).collect::<Box<[_]>>())
        })?;
        Ok(kept.iter().map(|&(i, c)| (i as usize, c)).collect())
    }

    /// How many rankings have asked BM25 since the build: the part of a new
    /// question's cost that the ranking skips when it cannot change the
    /// answers returned.
    pub fn bm25_queries(&self) -> u64 {
        self.bm25_queries.load(Ordering::Relaxed)
    }

    /// How often `rank` found a question's ranking already made.
    pub fn cache_counts(&self) -> CacheCounts {
        self.cache.counts()
    }

    /// `rank` without the cache: what a question never asked before costs
    /// (the `eval` example times this).
    pub fn rank_uncached(&self, query: &QnaQuery) -> Result<Vec<(usize, f32)>, QnaError> {
        let tokens = text::tokens(&query.question);
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        self.rank_tokens(query, &tokens)
    }

    /// `rank_uncached` that always asks BM25, even when it cannot change
    /// the result: for the test that holds the two equal.
    #[doc(hidden)]
    pub fn rank_uncached_with_bm25(&self, query: &QnaQuery) -> Result<Vec<(usize, f32)>, QnaError> {
        let tokens = text::tokens(&query.question);
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        self.rank_tokens_with(query, &tokens, Bm25::Always)
    }

    fn rank_tokens(
        &self,
        query: &QnaQuery,
        tokens: &[String],
    ) -> Result<Vec<(usize, f32)>, QnaError> {
        self.rank_tokens_with(query, tokens, Bm25::WhenItOrders)
    }

    fn rank_tokens_with(
        &self,
        query: &QnaQuery,
        tokens: &[String],
        bm25: Bm25,
    ) -> Result<Vec<(usize, f32)>, QnaError> {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.rank_with(query, tokens, &mut s, bm25),
            // Only reached if ranking ever re-entered itself on one thread.
            Err(_) => self.rank_with(query, tokens, &mut RankScratch::default(), bm25),
        })
    }

    fn rank_with(
        &self,
        query: &QnaQuery,
        tokens: &[String],
        s: &mut RankScratch,
        bm25: Bm25,
    ) -> Result<Vec<(usize, f32)>, QnaError> {
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
        // A KB phrasing asked for one answer gets its own answer, certain
        // (`lift` below), whatever the rest score: the sentence vector, most
        // of a new question's cost, would change nothing returned.
        let settled_by_phrasing = query.top <= 1
            && prompts.is_none()
            && self
                .exact
                .get(&features::phrase_key(tokens))
                .is_some_and(|&i| allowed(i as usize));
        // The vector is of the question as asked, while the rank cache keys
        // on its tokens: two spellings with the same tokens share the first
        // one's ranking.
        let vector = match &self.encoder {
            // A pass of a layer or two (under a millisecond) runs here:
            // `block_in_place` hands the worker's other tasks to a thread
            // it may have to start, which cost more CPU than the pass and,
            // with every question new, 60 MB of threads (measured with
            // `bot-bench --unique-questions`, docs/performance.md).
            Some(e) if !settled_by_phrasing => Some(if e.layers() <= INLINE_LAYERS {
                e.embed(&query.question)?
            } else {
                off_the_runtime(|| e.embed(&query.question))?
            }),
            _ => None,
        };
        let known = self
            .classifier
            .predict(tokens, vector.as_deref(), &mut s.model, &mut s.probs);
        self.calibration.temper(&mut s.probs);
        let known_words = self.classifier.known_words(tokens) as f32 / tokens.len() as f32;
        // Each answer's rival is the best of the others: the runner-up for
        // the top answer, the top answer for the rest.
        let (best, p1, p2) = calibration::top_two(&s.probs).unwrap_or((0, 0.0, 0.0));
        // When the classifier knows a word, an answer's confidence, and so
        // whether it passes the threshold, owes nothing to BM25: BM25 only
        // adds up to `bm25_weight` to the order of the answers that pass.
        // When the top few are further apart than that (see `settled`),
        // BM25, a sixth of a new question's cost, is not asked at all
        // (`rank_uncached_with_bm25` is the test that the result is the
        // same).
        let bm25_first = known == 0 || bm25 == Bm25::Always;
        let top_bm25 = if bm25_first {
            self.bm25(tokens, &mut s.bm25)?
        } else {
            0.0
        };
        let mut scored: Vec<(usize, f32, f32)> = Vec::with_capacity(s.probs.len());
        for (i, &p) in s.probs.iter().enumerate() {
            let b = if bm25_first {
                s.bm25.get(i).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            if (known == 0 && b == 0.0) || !allowed(i) {
                continue;
            }
            let (p, confidence) = if known == 0 {
                // Only the answer text matched: BM25 is all the evidence.
                let c = 0.5 * b / (b + 5.0);
                (c, c)
            } else {
                let evidence = Evidence {
                    p,
                    rival: if i == best { p2 } else { p1 },
                    known: known_words,
                    words: tokens.len(),
                    similarity: self.classifier.similarity(i, &s.model),
                };
                (p, self.calibration.confidence(&evidence))
            };
            // Without BM25 yet, `relative` is 0 and the rank is the ln p.
            let rank = p.max(1e-9).ln() + self.tuning.bm25_weight * relative(b, top_bm25);
            scored.push((i, rank, confidence));
        }
        // The words of a prompt button, or a known phrasing, are certain.
        if let Some(p) = prompts {
            for prompt in p {
                if text::tokens(&prompt.display_text) == tokens {
                    if let Some(i) = self.kb.qnas.iter().position(|q| q.id == prompt.qna_id) {
                        lift(&mut scored, i);
                    }
                }
            }
        }
        if let Some(&i) = self.exact.get(&features::phrase_key(tokens)) {
            if allowed(i as usize) {
                lift(&mut scored, i as usize);
            }
        }
        scored.retain(|(_, _, c)| *c >= query.score_threshold && *c > 0.0);
        if !bm25_first && !settled(&mut scored, query.top.max(1), self.tuning.bm25_weight) {
            let top_bm25 = self.bm25(tokens, &mut s.bm25)?;
            for (i, rank, _) in &mut scored {
                // A lifted answer's f32::MAX stays f32::MAX.
                *rank += self.tuning.bm25_weight
                    * relative(s.bm25.get(*i).copied().unwrap_or(0.0), top_bm25);
            }
        }
        // Only the top few are returned: select them, then sort those.
        let top = query.top.max(1);
        if scored.len() > top {
            scored.select_nth_unstable_by(top - 1, order);
            scored.truncate(top);
        }
        scored.sort_unstable_by(order);
        // Collected from a borrow, not `into_iter`: that reuses `scored`'s
        // buffer (one slot per answer, 2 KB with this KB) for the few
        // answers returned, and the rank cache kept every such buffer: 25 MB
        // at 16,384 rankings, the whole difference between a run of
        // repeated questions and one where no question repeats.
        Ok(scored
            .iter()
            .map(|&(i, _, c)| (i, c.clamp(0.0, 1.0)))
            .collect())
    }

    pub fn answer(&self, query: &QnaQuery) -> Result<Vec<QnaAnswer>, QnaError> {
        Ok(self
            .rank(query)?
            .into_iter()
            .map(|(i, c)| self.kb.qnas[i].to_answer_with(self.phrasings[i].clone(), c, BACKEND))
            .collect())
    }
}

/// The deepest encoder whose pass runs on the runtime's worker itself.
const INLINE_LAYERS: usize = 2;

/// Runs `work`, milliseconds of CPU (a question's sentence vector, a KB's
/// build). On a multi-threaded Tokio runtime, other tasks move off this
/// worker meanwhile; elsewhere (a current-thread runtime, where
/// `block_in_place` would panic, or none) it just runs. Only a ranking that
/// is computed pays this, not one the rank cache holds.
pub(crate) fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// The sentence vectors of `texts`, in order, computed on every core: a
/// first start with an encoder embeds each of the KB's phrasings once.
fn embed_all<'a>(
    encoder: &SentenceEncoder,
    texts: impl Iterator<Item = &'a String>,
) -> Result<Vec<Vec<f32>>, QnaError> {
    let texts: Vec<&String> = texts.collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = texts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = texts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|t| encoder.embed(t))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(texts.len());
        for part in parts {
            let part = part
                .join()
                .map_err(|_| QnaError::Index("a thread embedding the KB panicked".into()))??;
            out.extend(part);
        }
        Ok(out)
    })
}

/// Whether a ranking asks BM25 when it cannot change the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bm25 {
    /// Only when it decides who is in the running (the classifier knows no
    /// word) or could change the order of the answers returned.
    WhenItOrders,
    Always,
}

/// Whether the order is settled: adding between 0 and `weight` to each
/// rank cannot change which `top` answers come first, nor their order,
/// when each of the first `top` ranks is more than `weight` above the
/// next. Leaves the first `top + 1` in order, the rest after them.
fn settled(scored: &mut [(usize, f32, f32)], top: usize, weight: f32) -> bool {
    let n = (top + 1).min(scored.len());
    if n < scored.len() {
        scored.select_nth_unstable_by(n - 1, order);
    }
    scored[..n].sort_unstable_by(order);
    // A margin over the weight for f32 rounding of the sums.
    scored[..n]
        .windows(2)
        .all(|w| w[0].1 - w[1].1 > weight.abs() + 1e-3)
}

/// Ranking order of `(answer, rank, confidence)`: higher rank first, ties
/// by position in the KB.
fn order(a: &(usize, f32, f32), b: &(usize, f32, f32)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// A BM25 score relative to the question's best.
fn relative(b: f32, top: f32) -> f32 {
    if top > 0.0 {
        b / top
    } else {
        0.0
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
