//! The embedded recogniser: BM25 (tantivy) over the example utterances,
//! aggregated per intent, re-ranked by how much of the utterance the
//! intent's examples explain.
//!
//! BM25 alone always finds *some* intent: "what is your refund policy"
//! shares "what is your" with Help. The coverage factor (the IDF-weighted
//! share of the utterance's words that the intent's best example contains)
//! is what sends such questions to `None`, and thus to the knowledge base.

use std::collections::HashMap;

use async_trait::async_trait;
use regex::Regex;
use tantivy::collector::TopDocs;
use tantivy::directory::RamDirectory;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::{doc, Index, ReloadPolicy, Searcher, Term};

use crate::error::LuError;
use crate::intents::{IntentsFile, REGEX_SIZE_LIMIT};
use crate::recognizer::{
    check_utterance, Entity, IntentScore, Recognition, Recognizer, NONE_INTENT,
};

pub const KIND: &str = "embedded";

/// Ranking knobs, public so the accuracy test can report what it measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// BM25 hits considered per utterance.
    pub candidates: usize,
    /// Softmax temperature over the per-intent BM25 scores.
    pub temperature: f32,
    /// Confidence under which the top intent becomes `None`.
    pub threshold: f32,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            candidates: 50,
            temperature: 1.0,
            threshold: 0.5,
        }
    }
}

struct Example {
    intent: usize,
    /// Ids of its tokens (see `token_ids`), in order.
    tokens: Vec<u32>,
}

pub struct EmbeddedRecognizer {
    intents: Vec<String>,
    /// Every token of each intent's examples, as sorted ids.
    vocab: Vec<Vec<u32>>,
    examples: Vec<Example>,
    entities: Vec<(String, Regex)>,
    /// The index never changes after the build: one searcher serves all.
    searcher: Searcher,
    field: Field,
    /// Per segment: doc id -> example position.
    doc_example: Vec<Vec<u32>>,
    /// Every token of the examples -> its id. An utterance's tokens are
    /// looked up once, and coverage then compares integers.
    token_ids: HashMap<String, u32>,
    /// IDF by token id.
    idf: Vec<f32>,
    /// IDF of a token no example has.
    unknown_idf: f32,
    /// Normalised example -> its intent, when only one intent has it.
    exact: HashMap<String, Option<usize>>,
    tuning: Tuning,
    /// Recent recognitions by exact text (entities carry offsets into it):
    /// built with the model, so never stale.
    recent: recent::Recent<String, Kept>,
}

/// A recognition as the recent ones keep it: intents by their position in
/// the model, and no strings but the entities' (the text is the key, the
/// names are the model's). A whole `Recognition` took about 500 bytes in
/// eight allocations; 8,192 of them were 4 MB of a 40 MB process when no
/// utterance repeats. A hit builds the `Recognition` again, which costs
/// what copying a kept one did.
struct Kept {
    /// The intents that scored, best first.
    scored: Box<[(u32, f32)]>,
    entities: Box<[Entity]>,
}

/// Recognitions kept at most.
const RECENT_ENTRIES: usize = 8_192;
/// Longer utterances are rare repeats and would make the memo costly.
const RECENT_MAX_TEXT: usize = 256;

fn index_err(e: tantivy::TantivyError) -> LuError {
    LuError::Index(e.to_string())
}

impl EmbeddedRecognizer {
    pub fn new(file: &IntentsFile, threshold: f32) -> Result<Self, LuError> {
        Self::with_tuning(
            file,
            Tuning {
                threshold,
                ..Tuning::default()
            },
        )
    }

    pub fn with_tuning(file: &IntentsFile, tuning: Tuning) -> Result<Self, LuError> {
        file.validate("intents")?;
        let mut schema = Schema::builder();
        // BM25 needs term frequencies only; the example position is read
        // from a fast field, never searched.
        let field = schema.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("default")
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        );
        let example_field = schema.add_u64_field("example", FAST);
        // One segment, built on this thread, with a small budget: tantivy's
        // IndexWriter (15 MB at least, and a thread) took 14 MB at every
        // start for an intents file of a few KB (see qna's build_tantivy).
        let mut writer = Index::builder()
            .schema(schema.build())
            .single_segment_index_writer::<tantivy::TantivyDocument>(
                RamDirectory::create(),
                1 << 20,
            )
            .map_err(index_err)?;
        let mut examples: Vec<(usize, Vec<String>)> = Vec::with_capacity(file.example_count());
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut exact: HashMap<String, Option<usize>> = HashMap::new();
        for (intent, def) in file.intents.iter().enumerate() {
            for e in &def.examples {
                let tokens = text::Rules::CORE.tokens(e);
                if tokens.is_empty() {
                    continue;
                }
                let mut distinct = tokens.clone();
                distinct.sort();
                distinct.dedup();
                for t in distinct {
                    *df.entry(t).or_default() += 1;
                }
                let norm = tokens.join(" ");
                writer
                    .add_document(
                        doc!(field => norm.clone(), example_field => examples.len() as u64),
                    )
                    .map_err(index_err)?;
                exact
                    .entry(norm)
                    .and_modify(|v| {
                        if *v != Some(intent) {
                            *v = None
                        }
                    })
                    .or_insert(Some(intent));
                examples.push((intent, tokens));
            }
        }
        let index = writer.finalize().map_err(index_err)?;
        let searcher = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_err)?
            .searcher();
        let mut doc_example = Vec::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("example").map_err(index_err)?;
            doc_example.push(
                (0..segment.max_doc())
                    .map(|d| column.first(d).unwrap_or(0) as u32)
                    .collect(),
            );
        }
        let entities = file
            .entities
            .iter()
            .map(|e| {
                regex::RegexBuilder::new(&e.regex)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map(|r| (e.name.clone(), r))
                    .map_err(|x| LuError::Format {
                        path: "intents".into(),
                        message: format!("entity {:?}: bad regex: {x}", e.name),
                    })
            })
            .collect::<Result<_, _>>()?;
        // Token ids in a fixed (sorted) order, and each one's IDF.
        let mut words: Vec<(String, u32)> = df.into_iter().collect();
        words.sort();
        let n = examples.len() as f32;
        let idf = words
            .iter()
            .map(|(_, df)| (1.0 + (n - *df as f32 + 0.5) / (*df as f32 + 0.5)).ln())
            .collect();
        // A word no example has says little about which intent is meant
        // (typos, names, filler), but still weighs against a match; never
        // more than the rarest known word, or a small app's "please" would
        // outweigh its own vocabulary.
        let unknown_idf = 2.5f32.min((1.0 + (n - 0.5) / 1.5).ln());
        let token_ids: HashMap<String, u32> = words
            .into_iter()
            .enumerate()
            .map(|(id, (w, _))| (w, id as u32))
            .collect();
        let examples: Vec<Example> = examples
            .into_iter()
            .map(|(intent, tokens)| Example {
                intent,
                tokens: tokens
                    .iter()
                    .filter_map(|t| token_ids.get(t).copied())
                    .collect(),
            })
            .collect();
        let mut vocab = vec![Vec::new(); file.intents.len()];
        for e in &examples {
            vocab[e.intent].extend_from_slice(&e.tokens);
        }
        for v in &mut vocab {
            v.sort_unstable();
            v.dedup();
        }
        heap::release_free_memory();
        Ok(Self {
            vocab,
            intents: file.intents.iter().map(|i| i.name.clone()).collect(),
            examples,
            entities,
            searcher,
            field,
            doc_example,
            token_ids,
            idf,
            unknown_idf,
            exact,
            tuning,
            recent: recent::Recent::new(RECENT_ENTRIES),
        })
    }

    pub fn intent_names(&self) -> &[String] {
        &self.intents
    }

    /// Best BM25 score and best example per intent (`None`: no hit).
    fn bm25(&self, tokens: &[String]) -> Result<Vec<Option<(f32, usize)>>, LuError> {
        let mut distinct: Vec<&String> = tokens.iter().collect();
        distinct.sort();
        distinct.dedup();
        let clauses: Vec<(Occur, Box<dyn Query>)> = distinct
            .into_iter()
            .map(|t| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(self.field, t),
                    IndexRecordOption::WithFreqs,
                ));
                (Occur::Should, q)
            })
            .collect();
        let hits = self
            .searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(self.tuning.candidates).order_by_score(),
            )
            .map_err(index_err)?;
        let mut best: Vec<Option<(f32, usize)>> = vec![None; self.intents.len()];
        for (score, addr) in hits {
            let Some(&ex) = self
                .doc_example
                .get(addr.segment_ord as usize)
                .and_then(|s| s.get(addr.doc_id as usize))
            else {
                continue;
            };
            let ex = ex as usize;
            let Some(slot) = self.examples.get(ex).and_then(|e| best.get_mut(e.intent)) else {
                continue;
            };
            let e = slot.get_or_insert((0.0, ex));
            if score > e.0 {
                *e = (score, ex);
            }
        }
        Ok(best)
    }

    /// IDF-weighted share of the utterance's tokens (ids and IDF weights,
    /// `all` their sum) found by `has`.
    fn coverage(ids: &[Option<u32>], weights: &[f32], all: f32, has: impl Fn(u32) -> bool) -> f32 {
        let mut hit = 0.0f32;
        for (id, w) in ids.iter().zip(weights) {
            if id.is_some_and(&has) {
                hit += w;
            }
        }
        if all > 0.0 {
            hit / all
        } else {
            0.0
        }
    }

    /// Intents with their confidences, best first, before the threshold.
    pub fn score(&self, text: &str) -> Result<Vec<IntentScore>, LuError> {
        Ok(self.named(&self.score_ids(text)?))
    }

    /// The intents that scored, by position in the model, best first.
    fn score_ids(&self, text: &str) -> Result<Vec<(u32, f32)>, LuError> {
        let text = check_utterance(text)?;
        // Entity values (ticket numbers, codes) are not intent words.
        let masked = self.mask_entities(text);
        let tokens = text::Rules::CORE.tokens(&masked);
        let mut scored: Vec<(usize, f32)> = Vec::new();
        if let Some(Some(i)) = self.exact.get(&tokens.join(" ")) {
            scored.push((*i, 1.0));
        } else if !tokens.is_empty() {
            let best = self.bm25(&tokens)?;
            let hits = || {
                best.iter()
                    .enumerate()
                    .filter_map(|(i, b)| b.map(|b| (i, b)))
            };
            let top = hits().map(|(_, v)| v.0).fold(0.0f32, f32::max);
            let t = self.tuning.temperature.max(1e-3);
            let z: f32 = hits().map(|(_, v)| ((v.0 - top) / t).exp()).sum();
            // Each token's id and weight once, not once per intent.
            let ids: Vec<Option<u32>> = tokens
                .iter()
                .map(|t| self.token_ids.get(t).copied())
                .collect();
            let weights: Vec<f32> = ids
                .iter()
                .map(|id| id.map_or(self.unknown_idf, |id| self.idf[id as usize]))
                .collect();
            let all: f32 = weights.iter().sum();
            for (intent, (score, ex)) in hits() {
                let p = ((score - top) / t).exp() / z;
                // The best example's share, softened by the intent's whole
                // vocabulary: a held-out phrasing mixes words of several examples.
                let example = &self.examples[ex].tokens;
                let vocab = &self.vocab[intent];
                let c = 0.5 * Self::coverage(&ids, &weights, all, |id| example.contains(&id))
                    + 0.5
                        * Self::coverage(&ids, &weights, all, |id| {
                            vocab.binary_search(&id).is_ok()
                        });
                scored.push((intent, p * c));
            }
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(scored
            .iter()
            .map(|&(i, c)| (i as u32, c.clamp(0.0, 1.0)))
            .collect())
    }

    /// `scored` with the intents' names, and every intent without a hit
    /// after them at zero, so callers see all.
    fn named(&self, scored: &[(u32, f32)]) -> Vec<IntentScore> {
        let mut out = Vec::with_capacity(self.intents.len());
        out.extend(scored.iter().map(|&(i, c)| IntentScore {
            name: self.intents[i as usize].clone(),
            confidence: c,
        }));
        for (i, name) in self.intents.iter().enumerate() {
            if !scored.iter().any(|s| s.0 as usize == i) {
                out.push(IntentScore {
                    name: name.clone(),
                    confidence: 0.0,
                });
            }
        }
        out
    }

    fn mask_entities<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for (_, re) in &self.entities {
            if re.is_match(&out) {
                out = std::borrow::Cow::Owned(re.replace_all(&out, " ").into_owned());
            }
        }
        out
    }

    fn entities(&self, text: &str) -> Vec<Entity> {
        let mut out = Vec::new();
        for (name, re) in &self.entities {
            for m in re.find_iter(text) {
                out.push(Entity {
                    category: name.clone(),
                    text: m.as_str().to_string(),
                    offset: text[..m.start()].chars().count(),
                    length: m.as_str().chars().count(),
                    confidence: 1.0,
                });
            }
        }
        out.sort_by_key(|e| e.offset);
        out
    }

    /// Synchronous recognition, for tests and tools; a repeated utterance
    /// comes from the recent ones.
    pub fn recognize_now(&self, text: &str) -> Result<Recognition, LuError> {
        if text.len() > RECENT_MAX_TEXT {
            return self.recognize_uncached(text);
        }
        let kept = self.recent.get_or(text, || self.keep(text))?;
        Ok(self.recognition(check_utterance(text)?, &kept))
    }

    fn keep(&self, text: &str) -> Result<Kept, LuError> {
        let scored = self.score_ids(text)?;
        Ok(Kept {
            scored: scored.into_boxed_slice(),
            entities: self.entities(check_utterance(text)?).into_boxed_slice(),
        })
    }

    /// The `Recognition` of `text` (checked) from what was kept of it.
    fn recognition(&self, text: &str, kept: &Kept) -> Recognition {
        let intents = self.named(&kept.scored);
        let top_intent = match intents.first() {
            Some(top) if top.confidence >= self.tuning.threshold && top.name != NONE_INTENT => {
                top.clone()
            }
            // Under the threshold, None carries what is left of the belief.
            _ => IntentScore {
                name: NONE_INTENT.into(),
                confidence: 1.0 - intents.first().map_or(0.0, |t| t.confidence),
            },
        };
        Recognition {
            text: text.to_string(),
            top_intent,
            intents,
            entities: kept.entities.to_vec(),
            recognizer: KIND.into(),
            endpoint: None,
        }
    }

    /// (hits, misses) of the recent recognitions.
    pub fn recent_counts(&self) -> (u64, u64) {
        let c = self.recent.counts();
        (c.hits, c.misses)
    }

    /// Recognition without the recent ones: what a new utterance costs.
    pub fn recognize_uncached(&self, text: &str) -> Result<Recognition, LuError> {
        let kept = self.keep(text)?;
        Ok(self.recognition(check_utterance(text)?, &kept))
    }
}

#[async_trait]
impl Recognizer for EmbeddedRecognizer {
    async fn recognize(&self, text: &str, _locale: &str) -> Result<Recognition, LuError> {
        self.recognize_now(text)
    }

    fn kind(&self) -> &'static str {
        KIND
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intents::{IntentDef, RegexEntity};

    fn file() -> IntentsFile {
        let def = |n: &str, ex: &[&str]| IntentDef {
            name: n.into(),
            examples: ex.iter().map(|s| s.to_string()).collect(),
        };
        IntentsFile {
            locale: "en-us".into(),
            intents: vec![
                def(
                    "Cancel",
                    &["cancel", "stop that", "never mind", "forget it"],
                ),
                def(
                    "Help",
                    &["help", "what can you do", "how do i use this bot"],
                ),
            ],
            entities: vec![RegexEntity {
                name: "ticket".into(),
                regex: r"\bINC\d{4}\b".into(),
            }],
        }
    }

    #[test]
    fn examples_unrelated_text_and_entities() {
        let r = EmbeddedRecognizer::new(&file(), 0.5).unwrap();
        assert_eq!(
            r.recognize_now("Cancel!").unwrap().top_intent.name,
            "Cancel"
        );
        assert_eq!(
            r.recognize_now("please stop that").unwrap().top_intent.name,
            "Cancel"
        );
        assert_eq!(
            r.recognize_now("what can you do for me")
                .unwrap()
                .top_intent
                .name,
            "Help"
        );
        let none = r
            .recognize_now("what is the refund policy for shoes")
            .unwrap();
        assert_eq!(none.top_intent.name, NONE_INTENT);
        assert_eq!(none.intents.len(), 2, "every intent is listed");
        let e = r
            .recognize_now("ça va? cancel INC1234 now")
            .unwrap()
            .entities;
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].offset, e[0].length, e[0].text.as_str()),
            (14, 7, "INC1234")
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let r = EmbeddedRecognizer::new(&file(), 0.5).unwrap();
        assert!(matches!(
            r.recognize_now(""),
            Err(LuError::InvalidUtterance(_))
        ));
        let huge = "cancel ".repeat(1000);
        assert!(matches!(
            r.recognize_now(&huge),
            Err(LuError::InvalidUtterance(_))
        ));
        // Punctuation only: valid input, nothing to match.
        assert_eq!(r.recognize_now("?!").unwrap().top_intent.name, NONE_INTENT);
    }

    #[test]
    fn a_repeated_utterance_is_recognised_once_and_the_same() {
        let r = EmbeddedRecognizer::new(&file(), 0.5).unwrap();
        for text in ["Cancel!", "cancel INC1234 now", "what can you do for me"] {
            let first = r.recognize_now(text).unwrap();
            assert_eq!(r.recognize_now(text).unwrap(), first);
            assert_eq!(r.recognize_uncached(text).unwrap(), first);
        }
        assert_eq!(r.recent_counts(), (3, 3));
        // Errors are not kept: asked again, it is recognised again.
        assert!(r.recognize_now("").is_err());
        assert!(r.recognize_now("").is_err());
        assert_eq!(r.recent_counts(), (3, 5));
    }
}
