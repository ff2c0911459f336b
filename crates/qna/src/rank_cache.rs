//! Recent rankings of the embedded KB, keyed by everything a ranking reads:
//! the question's normalised words, the answer it follows (multi-turn), the
//! threshold and how many answers are wanted. Chat traffic repeats itself
//! ("hi", "thanks", "who are you"): a repeated question costs a lookup
//! instead of the classifier and BM25. The index never changes once built,
//! and a reload builds a new index with an empty cache, so an entry is never
//! stale. Questions with a metadata filter are not cached.

pub use recent::Counts as CacheCounts;

/// Rankings kept at most: about 150 bytes each, 1.2 MB in all. As many as
/// the intent recogniser keeps: both see the same utterances, and one that
/// recurs at all recurs within eight thousand others.
pub const ENTRIES: usize = 8_192;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RankKey {
    /// `features::phrase_key` of the question's tokens.
    pub phrase: u64,
    pub previous_qna_id: Option<u64>,
    /// The threshold's bits: equal thresholds, equal keys.
    pub threshold: u32,
    pub top: usize,
}

/// A ranking as kept: `(position in kb.qnas, confidence)`, best first.
pub type RankCache = recent::Recent<RankKey, Box<[(u32, f32)]>>;
