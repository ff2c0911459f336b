//! Local stand-ins for the Azure services (see each module's header).
#![allow(dead_code)]

pub mod language_server;
pub mod search_fixtures;
pub mod search_server;

use std::time::Duration;

use search_sync::RetryPolicy;

/// Fast retries so fault tests take milliseconds, not minutes.
pub fn quick_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

/// A client for `index` on a local stand-in at `base`.
pub fn client(base: &str, index: &str) -> search_sync::IndexClient {
    search_sync::IndexClient::new(base, search_server::KEY.to_string().into(), index)
        .unwrap()
        .with_retry(quick_retry(4))
}

/// The fields of `search_server::doc`.
pub const DOC_FIELDS: &[(&str, &str, bool)] = &[
    ("title", "Edm.String", true),
    ("rating", "Edm.Int32", true),
    ("tags", "Collection(Edm.String)", true),
];
