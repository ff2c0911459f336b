//! The Storage trait and its write semantics.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::StorageError;

/// A stored state document and the eTag it was stored with.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreItem {
    /// The state object, without any `eTag` property.
    pub document: Value,
    pub etag: String,
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Unconditional: botbuilder's eTag `*` or no eTag.
    None,
    /// Only if the stored eTag is this one.
    IfMatch(String),
    /// Only if the key does not exist yet. The turn pipeline uses this for
    /// state it read as missing, so two first turns cannot both win.
    IfNotExists,
}

impl Precondition {
    /// botbuilder's rule: eTag `*` or absent writes unconditionally,
    /// anything else must match.
    pub fn from_etag(etag: Option<&str>) -> Self {
        match etag {
            None | Some("*") | Some("") => Precondition::None,
            Some(e) => Precondition::IfMatch(e.to_string()),
        }
    }

    /// Checks the precondition against the eTag currently stored (if any).
    pub fn check(&self, key: &str, current: Option<&str>) -> Result<(), StorageError> {
        let ok = match (self, current) {
            (Precondition::None, _) => true,
            (Precondition::IfMatch(want), Some(have)) => want == have,
            (Precondition::IfMatch(_), None) => false,
            (Precondition::IfNotExists, current) => current.is_none(),
        };
        if ok {
            Ok(())
        } else {
            Err(StorageError::Conflict {
                key: key.to_string(),
            })
        }
    }
}

/// One document to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    pub document: Value,
    pub precondition: Precondition,
}

/// One change as `Storage::write_text` stored it.
#[derive(Debug, Clone)]
pub struct Written {
    pub etag: String,
    /// The document as JSON text, exactly as stored.
    pub text: Arc<str>,
}

/// A key/value store of JSON documents with optimistic concurrency.
///
/// - `read` returns only the keys that exist.
/// - `write` returns the new eTag of each change, in order. A failed
///   precondition is `StorageError::Conflict` naming the key.
/// - `delete` of a missing key succeeds.
#[async_trait]
pub trait Storage: Send + Sync {
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, StoreItem>, StorageError>;
    /// `read` for a caller that writes these documents back and is the only
    /// one in this process to use them meanwhile (it holds the conversation
    /// lock): a cache in front hands over its copies instead of copying
    /// them, and has them back with the write. The default reads.
    async fn read_to_update(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, StoreItem>, StorageError> {
        self.read(keys).await
    }
    async fn write(&self, changes: Vec<Change>) -> Result<Vec<String>, StorageError>;
    /// `write` that leaves the changes with the caller, so that a cache in
    /// front can keep the documents it wrote instead of copying them first.
    /// Backends that serialise from a reference override it; the default
    /// copies.
    async fn write_ref(&self, changes: &[Change]) -> Result<Vec<String>, StorageError> {
        self.write(changes.to_vec()).await
    }
    /// `write_ref` that also hands back each document as the JSON text
    /// stored, for a cache that keeps text (a parsed conversation document
    /// takes four times its text's memory). Backends that serialise anyway
    /// override it to hand back what they wrote; the default serialises.
    async fn write_text(&self, changes: &[Change]) -> Result<Vec<Written>, StorageError> {
        let etags = self.write_ref(changes).await?;
        etags
            .into_iter()
            .zip(changes)
            .map(|(etag, c)| {
                let text =
                    serde_json::to_string(&c.document).map_err(|e| StorageError::Backend {
                        backend: self.kind(),
                        message: format!("serialising {}: {e}", c.key),
                    })?;
                Ok(Written {
                    etag,
                    text: text.into(),
                })
            })
            .collect()
    }
    async fn delete(&self, keys: &[String]) -> Result<(), StorageError>;
    /// A cheap round trip to the backend, for readiness checks.
    async fn ping(&self) -> Result<(), StorageError>;
    /// The backend's name, for logs and health reports.
    fn kind(&self) -> &'static str;
}

/// A fresh, unique eTag.
pub fn new_etag() -> String {
    format!("\"{:016x}{:08x}\"", fastrand::u64(..), fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn botbuilder_etag_rules() {
        assert_eq!(Precondition::from_etag(None), Precondition::None);
        assert_eq!(Precondition::from_etag(Some("*")), Precondition::None);
        assert_eq!(
            Precondition::from_etag(Some("\"1\"")),
            Precondition::IfMatch("\"1\"".into())
        );
        assert!(Precondition::None.check("k", Some("x")).is_ok());
        assert!(Precondition::IfMatch("a".into())
            .check("k", Some("a"))
            .is_ok());
        assert!(Precondition::IfMatch("a".into())
            .check("k", Some("b"))
            .unwrap_err()
            .is_conflict());
        assert!(Precondition::IfMatch("a".into()).check("k", None).is_err());
        assert!(Precondition::IfNotExists.check("k", None).is_ok());
        assert!(Precondition::IfNotExists.check("k", Some("a")).is_err());
    }

    #[test]
    fn etags_are_unique() {
        let a: std::collections::HashSet<_> = (0..1000).map(|_| new_etag()).collect();
        assert_eq!(a.len(), 1000);
    }
}
