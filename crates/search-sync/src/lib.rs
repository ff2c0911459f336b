//! Keep the secondary region's Azure AI Search index and knowledge base
//! identical to the primary's: backup, restore, sync and diff of a search
//! index over the REST API, and knowledge-base sync (CQA or embedded file).

pub mod backup;
pub mod client;
pub mod diff;
pub mod error;
pub mod hash;
pub mod http;
pub mod kb_sync;
pub mod paging;
pub mod progress;
pub mod retry;
pub mod schedule;
pub mod schema;
pub mod sync;
pub mod upload;

pub use client::{IndexClient, API_VERSION};
pub use diff::DiffReport;
pub use error::{exit, SyncError};
pub use retry::RetryPolicy;
pub use sync::{SyncOptions, SyncReport};
