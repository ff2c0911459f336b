//! Failures on the way: per-document 207s, 503/429 on writes, 503 on reads
//! with a backup that resumes, batches near the 16 MB limit.

use std::collections::HashMap;
use std::io::Write;

use indicatif::ProgressBar;
use search_sync::backup::{backup, restore, Checkpoint, CHECKPOINT_FILE, DOCUMENTS_FILE};
use search_sync::diff::diff;
use search_sync::exit;
use search_sync::sync::{sync_index, SyncOptions};
use search_sync::SyncError;
use serde_json::{json, Value};

use crate::support::search_fixtures::{definition, doc};
use crate::support::search_server::{FakeSearch, Fault, Route};
use crate::support::{client, quick_retry, DOC_FIELDS};

fn seeded(n: usize) -> FakeSearch {
    let s = FakeSearch::default();
    s.create_index(definition("docs", DOC_FIELDS));
    s.insert_docs("docs", (0..n).map(doc));
    s
}

#[tokio::test]
async fn partial_failure_207_retries_only_the_failed_keys() {
    let src = seeded(2500);
    let dst = FakeSearch::default();
    dst.create_index(definition("docs", DOC_FIELDS));
    {
        let mut g = dst.lock();
        g.flaky_keys.insert("doc-0000005".into(), 1);
        g.flaky_keys.insert("doc-0001500".into(), 2);
        g.bad_keys.insert("doc-0002000".into());
    }
    let (su, du) = (src.start().await, dst.start().await);
    let r = sync_index(
        &client(&su, "docs"),
        &client(&du, "docs"),
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();

    assert_eq!(r.upload.upserted, 2499);
    assert_eq!(r.upload.retried_documents, 3);
    assert_eq!(r.upload.failed.len(), 1);
    assert_eq!(r.upload.failed[0].key, "doc-0002000");
    assert_eq!(r.upload.failed[0].status_code, 400);
    assert!(!r.complete());
    let sizes: Vec<usize> = dst.lock().batches.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        vec![1000, 1, 1000, 1, 1, 500],
        "retries carry only the failed keys"
    );
    let mut sent: HashMap<String, usize> = HashMap::new();
    for k in dst.lock().batches.iter().flatten() {
        *sent.entry(k.clone()).or_default() += 1;
    }
    assert_eq!(sent["doc-0000005"], 2);
    assert_eq!(sent["doc-0001500"], 3);
    assert_eq!(sent["doc-0002000"], 1, "a 400 is not retried");
    assert_eq!(sent["doc-0000006"], 1);
    assert_eq!(dst.doc_count("docs"), 2499);

    let err = r.upload.into_result().unwrap_err();
    assert!(matches!(&err, SyncError::DocumentsFailed { keys, .. } if keys == &["doc-0002000"]));
    assert_eq!(err.exit_code(), exit::PARTIAL);
}

#[tokio::test]
async fn writes_back_off_on_503_and_429() {
    let src = seeded(2500);
    let dst = FakeSearch::default();
    dst.lock().faults = vec![
        Fault {
            route: Route::Index,
            after: 1,
            times: 1,
            status: 503,
            retry_after: Some("0"),
        },
        Fault {
            route: Route::Index,
            after: 1,
            times: 1,
            status: 429,
            retry_after: None,
        },
    ];
    let (su, du) = (src.start().await, dst.start().await);
    let r = sync_index(
        &client(&su, "docs"),
        &client(&du, "docs"),
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(r.upload.upserted, 2500);
    assert_eq!(dst.doc_count("docs"), 2500);
    assert!(
        dst.lock().faults.iter().all(|f| f.times == 0),
        "both faults were hit"
    );
    assert_eq!(dst.served("index"), 3);
}

#[tokio::test]
async fn a_service_down_past_all_retries_is_a_typed_error() {
    let src = seeded(10);
    src.lock().faults = vec![Fault {
        route: Route::Search,
        after: 0,
        times: 100,
        status: 503,
        retry_after: None,
    }];
    let dst = FakeSearch::default();
    let (su, du) = (src.start().await, dst.start().await);
    let err = sync_index(
        &client(&su, "docs"),
        &client(&du, "docs"),
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, SyncError::RetriesExhausted { attempts: 4, .. }),
        "{err}"
    );
    assert_eq!(err.exit_code(), exit::UNAVAILABLE);
}

#[tokio::test]
async fn backup_resumes_after_a_503_mid_run_then_restores() {
    let src = seeded(5000);
    // Two pages succeed, then the service is down longer than the retries.
    src.lock().faults = vec![Fault {
        route: Route::Search,
        after: 2,
        times: 50,
        status: 503,
        retry_after: Some("0"),
    }];
    let dst = FakeSearch::default();
    let (su, du) = (src.start().await, dst.start().await);
    let source = client(&su, "docs").with_retry(quick_retry(3));
    let dir = tempfile::tempdir().unwrap();

    let err = backup(&source, dir.path(), false, 1000, &ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::RetriesExhausted { .. }), "{err}");
    let cp: Checkpoint =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(CHECKPOINT_FILE)).unwrap())
            .unwrap();
    assert_eq!((cp.documents, cp.complete), (2000, false));
    assert_eq!(cp.last_key.as_deref(), Some("doc-0001999"));
    // A crash mid-write leaves a torn line after the checkpoint.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join(DOCUMENTS_FILE))
        .unwrap();
    f.write_all(b"{\"id\":\"doc-00020").unwrap();
    drop(f);

    // The service is back, with one more transient 503 that a retry absorbs.
    {
        let mut g = src.lock();
        g.faults = vec![Fault {
            route: Route::Search,
            after: 0,
            times: 1,
            status: 503,
            retry_after: Some("0"),
        }];
        g.searches.clear();
    }
    let b = backup(&source, dir.path(), false, 1000, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(b.resumed_after.as_deref(), Some("doc-0001999"));
    assert_eq!((b.resumed_documents, b.documents), (2000, 5000));
    assert_eq!(
        src.lock().searches[0]["filter"],
        json!("id gt 'doc-0001999'")
    );
    let text = std::fs::read_to_string(dir.path().join(DOCUMENTS_FILE)).unwrap();
    let keys: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (0..5000).map(|i| format!("doc-{i:07}")).collect();
    assert_eq!(keys, expected, "every document once, in key order");

    // A finished backup is not overwritten by accident.
    let again = backup(&source, dir.path(), false, 1000, &ProgressBar::hidden()).await;
    assert!(matches!(again, Err(SyncError::Invalid(_))));

    let target = client(&du, "restored");
    let r = restore(dir.path(), &target, false, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((r.documents, r.upload.upserted), (5000, 5000));
    assert!(src.docs("docs") == dst.docs("restored"));
    let d = diff(&source, &target, 1000, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(d.identical, 5000);
    assert!(
        d.schema_differences.is_empty(),
        "{:?}",
        d.schema_differences
    );
}

#[tokio::test]
async fn restore_names_the_bad_line() {
    let src = seeded(3);
    let dst = FakeSearch::default();
    let (su, du) = (src.start().await, dst.start().await);
    let dir = tempfile::tempdir().unwrap();
    backup(
        &client(&su, "docs"),
        dir.path(),
        false,
        1000,
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let path = dir.path().join(DOCUMENTS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen("{\"id\":\"doc-0000001\"", "[\"id\",\"doc-0000001\"", 1);
    assert_ne!(text, broken);
    std::fs::write(&path, broken).unwrap();
    let err = restore(
        dir.path(),
        &client(&du, "docs"),
        false,
        &ProgressBar::hidden(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, SyncError::BackupFormat { line: 2, .. }),
        "{err}"
    );
    assert_eq!(err.exit_code(), exit::INVALID);
}

#[tokio::test]
async fn batches_stay_under_16_mb() {
    let src = FakeSearch::default();
    src.create_index(definition("big", &[("body", "Edm.String", true)]));
    let body = "x".repeat(700 * 1024);
    src.insert_docs(
        "big",
        (0..60).map(|i| {
            json!({"id": format!("b{i:02}"), "body": body})
                .as_object()
                .unwrap()
                .clone()
        }),
    );
    let dst = FakeSearch::default();
    let (su, du) = (src.start().await, dst.start().await);
    let r = sync_index(
        &client(&su, "big"),
        &client(&du, "big"),
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(r.upload.upserted, 60);
    let g = dst.lock();
    assert!(g.largest_batch_bytes <= 16 * 1024 * 1024);
    assert!(
        g.largest_batch_bytes > 14 * 1024 * 1024,
        "batches are filled, not tiny"
    );
    assert_eq!(g.batches.len(), 3);
}
