//! The storage adapter: a key/value store of JSON state documents with eTag
//! concurrency, in the shape of botbuilder's `Storage` interface, and its
//! backends.

pub mod blob;
pub mod cached;
pub mod cosmos;
pub mod error;
pub mod memory;
pub mod sqlite;
#[cfg(feature = "standins")]
pub mod standins;
pub mod storage;
pub mod transcript;

pub use blob::{BlobAuth, BlobConfig, BlobStorage};
pub use cached::{CacheCounts, CachedStorage};
pub use cosmos::{CosmosAuth, CosmosConfig, CosmosStorage};
pub use error::StorageError;
pub use memory::MemoryStorage;
pub use sqlite::SqliteStorage;
pub use storage::{new_etag, Change, Precondition, Storage, StoreItem, Written};
pub use transcript::{PagedResult, TranscriptInfo, TranscriptStore};
