//! The storage conformance suite, run against every backend built into this
//! crate. Cloud backends run the same suite from their own test files.

use std::sync::Arc;

use bot_storage::{Change, MemoryStorage, Precondition, SqliteStorage, Storage};
use serde_json::json;

mod common;
use common as suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_conforms() {
    suite::run_all(Arc::new(MemoryStorage::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    suite::run_all(Arc::new(
        SqliteStorage::open(dir.path().join("state.db")).unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let etag = {
        let s = SqliteStorage::open(&path).unwrap();
        s.write(vec![Change {
            key: "k".into(),
            document: json!({"a": 1}),
            precondition: Precondition::None,
        }])
        .await
        .unwrap()
        .remove(0)
    };
    let s = SqliteStorage::open(&path).unwrap();
    let got = s.read(&["k".to_string()]).await.unwrap();
    assert_eq!(got["k"].document, json!({"a": 1}));
    assert_eq!(got["k"].etag, etag);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_transcripts_conform() {
    let dir = tempfile::tempdir().unwrap();
    let s = bot_storage::transcript::SqliteTranscriptStore::open(dir.path().join("t.db")).unwrap();
    suite::transcripts::run_all(&s, "emulator").await;
}
