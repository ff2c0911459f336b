//! Recent recognitions of the embedded recogniser, keyed by the exact text
//! (entities carry offsets into it). The model never changes once built, so
//! a repeated utterance ("hi", "thanks", "help") is a lookup instead of a
//! search and a scoring. Sharded so two cores rarely wait for each other.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashlink::LruCache;

use crate::recognizer::Recognition;

/// Utterances kept at most, over all shards.
pub const ENTRIES: usize = 8_192;
const SHARDS: usize = 8;
/// Longer utterances are rare repeats and would make the cache costly.
const MAX_TEXT: usize = 256;

pub struct Recent {
    shards: Vec<Mutex<LruCache<Box<str>, Arc<Recognition>>>>,
    hashes: RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for Recent {
    fn default() -> Self {
        Self::new(ENTRIES)
    }
}

impl Recent {
    pub fn new(entries: usize) -> Self {
        let per_shard = entries.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hashes: RandomState::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, text: &str) -> MutexGuard<'_, LruCache<Box<str>, Arc<Recognition>>> {
        let i = self.hashes.hash_one(text) as usize % SHARDS;
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The recognition kept for `text`, or `recognize()`'s, kept for next
    /// time. Errors are not kept.
    pub fn get_or<E>(
        &self,
        text: &str,
        recognize: impl FnOnce() -> Result<Recognition, E>,
    ) -> Result<Recognition, E> {
        if text.len() > MAX_TEXT {
            return recognize();
        }
        if let Some(hit) = self.shard(text).get(text).cloned() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Recognition::clone(&hit));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let r = recognize()?;
        self.shard(text).insert(text.into(), Arc::new(r.clone()));
        Ok(r)
    }

    /// (hits, misses) since the recogniser was built.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}
