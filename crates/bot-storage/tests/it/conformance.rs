//! The storage conformance suite, run against every backend built into this
//! crate. Cloud backends run the same suite from their own test files.

use std::sync::Arc;

use bot_storage::{Change, MemoryStorage, Precondition, SqliteStorage, Storage};
use serde_json::json;

use crate::common as suite;

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

/// The writer never checkpoints (that stalled commits); a thread of its own
/// copies the WAL back into the database file. Without it the file would
/// stay at its first pages and the WAL would grow without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = SqliteStorage::open(&path).unwrap();
    let empty = std::fs::metadata(&path).unwrap().len();
    let filler = "x".repeat(3000);
    for i in 0..200 {
        s.write(vec![Change {
            key: format!("k{i}"),
            document: json!({"i": i, "filler": filler}),
            precondition: Precondition::None,
        }])
        .await
        .unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let size = loop {
        let size = std::fs::metadata(&path).unwrap().len();
        if size > 200 * 3000 || std::time::Instant::now() > deadline {
            break size;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        size > 200 * 3000,
        "database file still {size} bytes (was {empty}): the WAL was not checkpointed"
    );
    let got = s.read(&["k199".to_string()]).await.unwrap();
    assert_eq!(got["k199"].document["i"], 199);
}

/// Under writes and reads that never pause, the WAL is started again from
/// its top and stays bounded; once idle it is cut back to nothing. Passive
/// checkpoints alone never found a moment without a reader, and the WAL then
/// grew by every commit (about 80 MB here) and kept that size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_stays_bounded_under_load_and_shrinks_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let wal = dir.path().join("state.db-wal");
    let s = std::sync::Arc::new(SqliteStorage::open(&path).unwrap());
    let wal_size = move || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let keys = 500;
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (s, done) = (s.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = r;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    s.read(&[format!("k{}", i % keys)]).await.unwrap();
                    i += 7;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let filler = "x".repeat(3000);
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (s, filler) = (s.clone(), filler.clone());
            tokio::spawn(async move {
                for i in 0..5625 {
                    s.write(vec![Change {
                        key: format!("k{}", (w * 5625 + i) % keys),
                        document: json!({"i": i, "filler": filler}),
                        precondition: Precondition::None,
                    }])
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    let mut largest = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        largest = largest.max(wal_size());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in writers.into_iter().chain(readers) {
        t.await.unwrap();
    }
    // 45,000 commits of a 4 KB page each: an unbounded WAL passes 180 MB.
    // Bounded, it restarts past 32 MB, plus what the writes add while a
    // restart waits for its moment (this test writes faster than any turn
    // load does).
    assert!(
        largest < 96 << 20,
        "the WAL reached {largest} bytes under load"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while wal_size() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(wal_size(), 0, "the WAL kept its size once idle");
    let got = s.read(&["k7".to_string()]).await.unwrap();
    assert_eq!(got["k7"].document["filler"], filler.as_str());
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

/// A database written by the first layout (a `WITHOUT ROWID` table, whose
/// documents spilled into overflow pages) opens with its documents and
/// eTags intact, and takes writes with the eTags it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_first_layout_is_moved_with_its_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE state (
                 key TEXT PRIMARY KEY NOT NULL,
                 etag TEXT NOT NULL,
                 document TEXT NOT NULL
             ) WITHOUT ROWID;
             INSERT INTO state VALUES ('a', 'e-a', '{\"n\":1}'), ('b', 'e-b', '{\"n\":2}');",
        )
        .unwrap();
    }
    let s = SqliteStorage::open(&path).unwrap();
    let got = s.read(&["a".to_string(), "b".to_string()]).await.unwrap();
    assert_eq!(got["a"].document, json!({"n": 1}));
    assert_eq!(got["b"].etag, "e-b");
    let etags = s
        .write(vec![Change {
            key: "a".into(),
            document: json!({"n": 3}),
            precondition: Precondition::IfMatch("e-a".into()),
        }])
        .await
        .unwrap();
    assert_ne!(etags[0], "e-a");
    drop(s);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let layout: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'state'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !layout.contains("WITHOUT ROWID"),
        "still the first layout: {layout}"
    );
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
    // Opening again leaves the moved table as it is.
    let s = SqliteStorage::open(&path).unwrap();
    let got = s.read(&["a".to_string()]).await.unwrap();
    assert_eq!(got["a"].document, json!({"n": 3}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_transcripts_conform() {
    let dir = tempfile::tempdir().unwrap();
    let s = bot_storage::transcript::SqliteTranscriptStore::open(dir.path().join("t.db")).unwrap();
    suite::transcripts::run_all(&s, "emulator").await;
}
