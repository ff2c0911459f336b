//! Recent rankings of the embedded KB, keyed by everything a ranking reads:
//! the question's normalised words, the answer it follows (multi-turn), the
//! threshold and how many answers are wanted. Chat traffic repeats itself
//! ("hi", "thanks", "who are you"): a repeated question costs a lookup
//! instead of the classifier and BM25. The index never changes once built,
//! and a reload builds a new index with an empty cache, so an entry is never
//! stale. Questions with a metadata filter are not cached.

pub use recent::Counts as CacheCounts;

/// Rankings kept at most: a few hundred kilobytes.
pub const ENTRIES: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RankKey {
    /// `features::phrase_key` of the question's tokens.
    pub phrase: u64,
    pub previous_qna_id: Option<u64>,
    /// The threshold's bits: equal thresholds, equal keys.
    pub threshold: u32,
    pub top: usize,
}

pub type RankCache = recent::Recent<RankKey, Vec<(usize, f32)>>;
