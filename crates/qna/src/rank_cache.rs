//! Recent rankings of the embedded KB, keyed by everything a ranking reads:
//! the question's normalised words, the answer it follows (multi-turn), the
//! threshold and how many answers are wanted. Chat traffic repeats itself
//! ("hi", "thanks", "who are you"): a repeated question costs a lookup
//! instead of the classifier and BM25. The index never changes once built,
//! and a reload builds a new index with an empty cache, so an entry is never
//! stale. Questions with a metadata filter are not cached.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hashlink::LruCache;

/// Rankings kept at most, over all shards: a few hundred kilobytes.
pub const ENTRIES: usize = 16_384;
const SHARDS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RankKey {
    /// `features::phrase_key` of the question's tokens.
    pub phrase: u64,
    pub previous_qna_id: Option<u64>,
    /// The threshold's bits: equal thresholds, equal keys.
    pub threshold: u32,
    pub top: usize,
}

pub type Ranking = Arc<[(usize, f32)]>;

pub struct RankCache {
    /// Sharded so turns on two cores rarely wait for each other.
    shards: Vec<Mutex<LruCache<RankKey, Ranking>>>,
    hashes: std::collections::hash_map::RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
}

impl Default for RankCache {
    fn default() -> Self {
        Self::new(ENTRIES)
    }
}

impl RankCache {
    pub fn new(entries: usize) -> Self {
        let per_shard = entries.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hashes: Default::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &RankKey) -> &Mutex<LruCache<RankKey, Ranking>> {
        let h = self.hashes.hash_one(key.phrase) as usize;
        &self.shards[h % SHARDS]
    }

    /// The cached ranking, or `rank()`'s, kept for next time.
    pub fn get_or<E>(
        &self,
        key: RankKey,
        rank: impl FnOnce() -> Result<Vec<(usize, f32)>, E>,
    ) -> Result<Ranking, E> {
        let shard = self.shard(&key);
        if let Some(hit) = lock(shard).get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        // Ranked outside the lock: two threads may rank the same question
        // at once, and both get the same answer.
        let ranking: Ranking = rank()?.into();
        lock(shard).insert(key, ranking.clone());
        Ok(ranking)
    }

    pub fn counts(&self) -> CacheCounts {
        CacheCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a shard leaves a consistent cache: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(phrase: u64) -> RankKey {
        RankKey {
            phrase,
            previous_qna_id: None,
            threshold: 0.5f32.to_bits(),
            top: 3,
        }
    }

    #[test]
    fn a_repeat_is_a_hit_and_the_bound_holds() {
        let cache = RankCache::new(SHARDS);
        let mut ranked = 0;
        for _ in 0..3 {
            let r = cache
                .get_or(key(7), || {
                    ranked += 1;
                    Ok::<_, ()>(vec![(1, 0.9)])
                })
                .unwrap();
            assert_eq!(&*r, &[(1, 0.9)]);
        }
        assert_eq!(ranked, 1);
        assert_eq!(cache.counts(), CacheCounts { hits: 2, misses: 1 });
        // Other keys push it out: one entry per shard.
        for p in 100..200 {
            cache.get_or(key(p), || Ok::<_, ()>(vec![])).unwrap();
        }
        let total: usize = cache.shards.iter().map(|s| lock(s).len()).sum();
        assert!(total <= SHARDS, "{total}");
    }

    #[test]
    fn an_error_is_not_kept() {
        let cache = RankCache::new(64);
        assert!(cache.get_or(key(1), || Err::<Vec<_>, _>("down")).is_err());
        let r = cache
            .get_or(key(1), || Ok::<_, ()>(vec![(2, 0.7)]))
            .unwrap();
        assert_eq!(&*r, &[(2, 0.7)]);
    }
}
