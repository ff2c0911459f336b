//! A read cache in front of any backend, filled by this process's own reads
//! and writes.
//!
//! Every turn reads its conversation and user documents and writes the
//! conversation back. With the cache, the read of what this process wrote
//! last comes from memory: on SQLite it skipped re-reading pages that every
//! commit evicts from the readers' page cache (the largest single cost of a
//! turn in the profile), on Cosmos DB and Blob it saves a round trip.
//!
//! Why a stale entry is safe: the turn pipeline writes only with
//! preconditions (`IfMatch` the eTag it read, or `IfNotExists`). If another
//! process or region changed a document since this one cached it, the write
//! fails with a conflict, the entry is dropped, and the turn is re-run from
//! the backend. Nothing is ever saved on top of a stale read, and no reply
//! is sent for a turn that was not saved. A read that never leads to a write
//! can be stale (as an eventually consistent read would be).
//!
//! Documents are kept as the JSON text the backend stored, not parsed: a
//! parsed conversation document (2.2 KB of text) took 9.2 KB, mostly the
//! 640-byte node of every small map, so 1,000 active conversations held
//! 12 MB, a third of the process under load. Parsing a hit back costs a
//! few microseconds a turn; SQLite hands over the text it wrote, so
//! nothing is serialised twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hashlink::LruCache;

use crate::error::StorageError;
use crate::storage::{Change, Storage, StoreItem};

/// A document as stored: its JSON text and eTag.
struct Stored {
    text: Arc<str>,
    etag: String,
}

impl Stored {
    fn of(item: &StoreItem) -> Result<Self, StorageError> {
        let text = serde_json::to_string(&item.document).map_err(|e| StorageError::Backend {
            backend: "cache",
            message: e.to_string(),
        })?;
        Ok(Self {
            text: text.into(),
            etag: item.etag.clone(),
        })
    }

    fn parse(&self, key: &str) -> Result<StoreItem, StorageError> {
        Ok(StoreItem {
            document: serde_json::from_str(&self.text).map_err(|e| StorageError::Corrupt {
                key: key.to_string(),
                message: e.to_string(),
            })?,
            etag: self.etag.clone(),
        })
    }
}

/// What the cache knows of a key: its document, or that it does not exist.
#[derive(Clone)]
enum Entry {
    Present(Arc<Stored>),
    Absent,
}

pub struct CachedStorage {
    inner: Arc<dyn Storage>,
    entries: Mutex<LruCache<String, Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Hit and miss counts since start, for the health report and the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
}

impl CachedStorage {
    /// Caches up to `capacity` keys (least recently used go first).
    pub fn new(inner: Arc<dyn Storage>, capacity: usize) -> Self {
        Self {
            inner,
            entries: Mutex::new(LruCache::new(capacity.max(1))),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn counts(&self) -> CacheCounts {
        CacheCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget<'a>(&self, keys: impl IntoIterator<Item = &'a String>) {
        let mut entries = self.entries();
        for k in keys {
            entries.remove(k);
        }
    }
}

#[async_trait]
impl Storage for CachedStorage {
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, StoreItem>, StorageError> {
        let mut out = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        let mut found = Vec::with_capacity(keys.len());
        {
            let mut entries = self.entries();
            for k in keys {
                match entries.get(k) {
                    Some(e) => found.push((k, e.clone())),
                    None => missing.push(k.clone()),
                }
            }
        }
        self.hits.fetch_add(found.len() as u64, Ordering::Relaxed);
        // Parsed outside the lock: the caller owns and mutates its copy.
        for (k, e) in found {
            if let Entry::Present(stored) = e {
                out.insert(k.clone(), stored.parse(k)?);
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        self.misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        let mut fresh = self.inner.read(&missing).await?;
        let mut entries = self.entries();
        for k in missing {
            match fresh.remove(&k) {
                Some(item) => {
                    // Not cached if it will not serialise; the read still
                    // answers.
                    if let Ok(stored) = Stored::of(&item) {
                        entries.insert(k.clone(), Entry::Present(Arc::new(stored)));
                    }
                    out.insert(k, item);
                }
                None => {
                    entries.insert(k, Entry::Absent);
                }
            }
        }
        Ok(out)
    }

    async fn read_to_update(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, StoreItem>, StorageError> {
        let mut taken = Vec::with_capacity(keys.len());
        let mut rest = Vec::new();
        {
            let mut entries = self.entries();
            for k in keys {
                match entries.remove(k) {
                    // The caller's write puts it back; until then a read
                    // of it goes to the backend.
                    Some(Entry::Present(stored)) => taken.push((k, stored)),
                    absent => {
                        if let Some(absent) = absent {
                            entries.insert(k.clone(), absent);
                        }
                        rest.push(k.clone());
                    }
                }
            }
        }
        self.hits.fetch_add(taken.len() as u64, Ordering::Relaxed);
        let mut out = HashMap::with_capacity(keys.len());
        for (k, stored) in taken {
            out.insert(k.clone(), stored.parse(k)?);
        }
        if !rest.is_empty() {
            out.extend(self.read(&rest).await?);
        }
        Ok(out)
    }

    async fn write(&self, changes: Vec<Change>) -> Result<Vec<String>, StorageError> {
        // The documents are freed here, after the cache's lock is let go.
        self.write_ref(&changes).await
    }

    /// Leaves the documents with the caller: the turn keeps the one it
    /// committed for its outbox's progress write, instead of parsing it
    /// back from the text kept here.
    async fn write_ref(&self, changes: &[Change]) -> Result<Vec<String>, StorageError> {
        // The backend hands back the text it stored, which the cache keeps.
        match self.inner.write_text(changes).await {
            Ok(written) => {
                let mut etags = Vec::with_capacity(written.len());
                let mut entries = self.entries();
                for (change, w) in changes.iter().zip(written) {
                    etags.push(w.etag.clone());
                    let stored = Stored {
                        text: w.text,
                        etag: w.etag,
                    };
                    entries.insert(change.key.clone(), Entry::Present(Arc::new(stored)));
                }
                Ok(etags)
            }
            Err(e) => {
                // A conflict means our copy is stale; any other failure
                // leaves the outcome unknown. Either way, read afresh.
                self.forget(changes.iter().map(|c| &c.key));
                Err(e)
            }
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StorageError> {
        self.forget(keys);
        let result = self.inner.delete(keys).await;
        // A read racing the delete may have cached the old document.
        self.forget(keys);
        result
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.inner.ping().await
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStorage;
    use crate::storage::Precondition;
    use serde_json::json;

    fn change(key: &str, doc: serde_json::Value, p: Precondition) -> Change {
        Change {
            key: key.into(),
            document: doc,
            precondition: p,
        }
    }

    /// A read to update hands the document over; the write gives it back.
    /// Without the write the next read goes to the backend, so nothing is
    /// served that the backend does not hold.
    #[tokio::test]
    async fn a_read_to_update_is_given_back_by_the_write() {
        let backend: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let cached = CachedStorage::new(backend.clone(), 16);
        let k = vec!["k".to_string()];
        let e1 = cached
            .write(vec![change(
                "k",
                json!({"n": 1}),
                Precondition::IfNotExists,
            )])
            .await
            .unwrap();
        let mut taken = cached.read_to_update(&k).await.unwrap();
        let item = taken.remove("k").unwrap();
        assert_eq!(
            (item.document.clone(), &item.etag),
            (json!({"n": 1}), &e1[0])
        );
        assert_eq!(cached.counts(), CacheCounts { hits: 1, misses: 0 });
        let e2 = cached
            .write(vec![change(
                "k",
                json!({"n": 2}),
                Precondition::IfMatch(item.etag),
            )])
            .await
            .unwrap();
        let again = cached
            .read_to_update(&k)
            .await
            .unwrap()
            .remove("k")
            .unwrap();
        assert_eq!((again.document, &again.etag), (json!({"n": 2}), &e2[0]));
        assert_eq!(cached.counts(), CacheCounts { hits: 2, misses: 0 });
        // Not written back: the next read is the backend's.
        let read = cached.read(&k).await.unwrap().remove("k").unwrap();
        assert_eq!((read.document, &read.etag), (json!({"n": 2}), &e2[0]));
        assert_eq!(cached.counts(), CacheCounts { hits: 2, misses: 1 });
        // An absent key stays known as absent.
        let none = vec!["none".to_string()];
        assert!(cached.read_to_update(&none).await.unwrap().is_empty());
        assert!(cached.read_to_update(&none).await.unwrap().is_empty());
        assert_eq!(cached.counts(), CacheCounts { hits: 3, misses: 2 });
    }

    #[tokio::test]
    async fn serves_own_writes_and_refreshes_after_a_conflict() {
        let backend: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let cached = CachedStorage::new(backend.clone(), 16);
        let k = vec!["k".to_string()];
        assert!(cached.read(&k).await.unwrap().is_empty());
        let e1 = cached
            .write(vec![change(
                "k",
                json!({"n": 1}),
                Precondition::IfNotExists,
            )])
            .await
            .unwrap();
        let item = cached.read(&k).await.unwrap().remove("k").unwrap();
        assert_eq!((item.document, item.etag), (json!({"n": 1}), e1[0].clone()));
        assert_eq!(cached.counts(), CacheCounts { hits: 1, misses: 1 });

        // Another process writes behind the cache's back: the cached read is
        // stale, and the write made from it must fail, not overwrite.
        backend
            .write(vec![change("k", json!({"n": 2}), Precondition::None)])
            .await
            .unwrap();
        let stale = cached.read(&k).await.unwrap().remove("k").unwrap();
        assert_eq!(stale.document, json!({"n": 1}));
        let err = cached
            .write(vec![change(
                "k",
                json!({"n": 3}),
                Precondition::IfMatch(stale.etag),
            )])
            .await
            .unwrap_err();
        assert!(err.is_conflict());
        // The retry reads the backend's document.
        let fresh = cached.read(&k).await.unwrap().remove("k").unwrap();
        assert_eq!(fresh.document, json!({"n": 2}));
    }

    #[tokio::test]
    async fn a_cached_absence_cannot_hide_a_document_from_a_write() {
        let backend: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let cached = CachedStorage::new(backend.clone(), 16);
        let k = vec!["u".to_string()];
        assert!(cached.read(&k).await.unwrap().is_empty());
        backend
            .write(vec![change("u", json!({"x": 1}), Precondition::None)])
            .await
            .unwrap();
        // Still absent from the cache's point of view...
        assert!(cached.read(&k).await.unwrap().is_empty());
        // ...but creating it conflicts, and the next read sees it.
        let err = cached
            .write(vec![change("u", json!({}), Precondition::IfNotExists)])
            .await
            .unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(
            cached.read(&k).await.unwrap()["u"].document,
            json!({"x": 1})
        );
    }

    #[tokio::test]
    async fn deletes_and_capacity() {
        let backend: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let cached = CachedStorage::new(backend.clone(), 2);
        for k in ["a", "b", "c"] {
            cached
                .write(vec![change(k, json!({"k": k}), Precondition::None)])
                .await
                .unwrap();
        }
        // "a" was evicted: reading it goes to the backend, and finds it.
        let before = cached.counts().misses;
        assert_eq!(
            cached.read(&["a".to_string()]).await.unwrap()["a"].document,
            json!({"k": "a"})
        );
        assert_eq!(cached.counts().misses, before + 1);
        cached.delete(&["a".to_string()]).await.unwrap();
        assert!(cached.read(&["a".to_string()]).await.unwrap().is_empty());
        assert!(backend.read(&["a".to_string()]).await.unwrap().is_empty());
    }
}
