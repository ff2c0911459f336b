//! In-process storage, for tests and throwaway runs.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::StorageError;
use crate::storage::{new_etag, Change, Storage, StoreItem};

#[derive(Default)]
pub struct MemoryStorage {
    items: Mutex<HashMap<String, StoreItem>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoreItem>> {
        // A panic elsewhere while holding the lock cannot leave a half-written
        // item (every mutation is a single insert), so poisoning is ignored.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, StoreItem>, StorageError> {
        let items = self.lock();
        Ok(keys
            .iter()
            .filter_map(|k| items.get(k).map(|v| (k.clone(), v.clone())))
            .collect())
    }

    async fn write(&self, changes: Vec<Change>) -> Result<Vec<String>, StorageError> {
        let mut items = self.lock();
        // All or nothing: check every precondition before applying any.
        for c in &changes {
            c.precondition
                .check(&c.key, items.get(&c.key).map(|i| i.etag.as_str()))?;
        }
        Ok(changes
            .into_iter()
            .map(|c| {
                let etag = new_etag();
                items.insert(
                    c.key,
                    StoreItem {
                        document: c.document,
                        etag: etag.clone(),
                    },
                );
                etag
            })
            .collect())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StorageError> {
        let mut items = self.lock();
        for k in keys {
            items.remove(k);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}
