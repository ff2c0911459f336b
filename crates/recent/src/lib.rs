//! A bounded memo of recent results: least recently used first out, in
//! shards so that turns on two cores rarely wait for each other, with hit
//! and miss counts. For results that never go stale (a model that does not
//! change once built); errors are never kept.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashlink::LruCache;

const SHARDS: usize = 8;

pub struct Recent<K, V> {
    shards: Vec<Mutex<LruCache<K, Arc<V>>>>,
    hashes: RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub hits: u64,
    pub misses: u64,
}

impl<K: Hash + Eq, V> Recent<K, V> {
    /// Keeps up to `entries` results over all shards.
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

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, LruCache<K, Arc<V>>> {
        let i = self.hashes.hash_one(key) as usize % SHARDS;
        // A panic while holding a shard leaves it consistent: keep going.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The result kept for `key`, or `make()`'s, kept for next time. Made
    /// outside the lock: two threads may make the same result at once, and
    /// both get the same.
    pub fn get_or<Q, E>(&self, key: &Q, make: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(hit) = self.shard(key).get(key).cloned() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let made = Arc::new(make()?);
        self.shard(key).insert(key.to_owned(), made.clone());
        Ok(made)
    }

    pub fn counts(&self) -> Counts {
        Counts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Results kept now, over all shards.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_a_hit_and_the_bound_holds() {
        let recent: Recent<u64, Vec<u32>> = Recent::new(SHARDS);
        let mut made = 0;
        for _ in 0..3 {
            let r = recent
                .get_or(&7, || {
                    made += 1;
                    Ok::<_, ()>(vec![1])
                })
                .unwrap();
            assert_eq!(*r, vec![1]);
        }
        assert_eq!(made, 1);
        assert_eq!(recent.counts(), Counts { hits: 2, misses: 1 });
        // Other keys push it out: one entry per shard.
        for k in 100..200 {
            recent.get_or(&k, || Ok::<_, ()>(vec![])).unwrap();
        }
        assert!(recent.len() <= SHARDS, "{}", recent.len());
    }

    #[test]
    fn an_error_is_not_kept() {
        let recent: Recent<String, u32> = Recent::new(64);
        assert!(recent.get_or("k", || Err("down")).is_err());
        assert_eq!(*recent.get_or("k", || Ok::<_, ()>(2)).unwrap(), 2);
        assert!(!recent.is_empty());
    }
}
