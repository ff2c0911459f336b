//! The conformance suite shared by every backend's tests.
#![allow(dead_code)]

pub mod transcripts;

use std::collections::HashSet;
use std::sync::Arc;

use bot_storage::{Change, Precondition, Storage, StorageError};
use serde_json::{json, Value};

fn change(key: &str, document: Value, precondition: Precondition) -> Change {
    Change {
        key: key.to_string(),
        document,
        precondition,
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand_u64())
}

fn fastrand_u64() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    n ^ (std::process::id() as u64).rotate_left(32)
}

pub async fn run_all(s: Arc<dyn Storage>) {
    etag_semantics(s.as_ref()).await;
    concurrent_increments(s.clone()).await;
    awkward_keys(s.as_ref()).await;
    large_document(s.as_ref()).await;
    delete_missing(s.as_ref()).await;
    read_many_some_missing(s.as_ref()).await;
}

pub async fn etag_semantics(s: &dyn Storage) {
    let k = unique("etag");
    let e1 = s
        .write(vec![change(&k, json!({"n": 1}), Precondition::IfNotExists)])
        .await
        .unwrap()
        .remove(0);
    // A second create loses.
    let err = s
        .write(vec![change(&k, json!({"n": 9}), Precondition::IfNotExists)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Conflict { ref key } if key == &k),
        "{err}"
    );
    // Matching eTag wins and yields a new eTag.
    let e2 = s
        .write(vec![change(
            &k,
            json!({"n": 2}),
            Precondition::IfMatch(e1.clone()),
        )])
        .await
        .unwrap()
        .remove(0);
    assert_ne!(e1, e2);
    // The stale eTag is a typed conflict, and nothing was written.
    let err = s
        .write(vec![change(
            &k,
            json!({"n": 3}),
            Precondition::IfMatch(e1.clone()),
        )])
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let got = s.read(std::slice::from_ref(&k)).await.unwrap();
    assert_eq!(got[&k].document, json!({"n": 2}));
    assert_eq!(got[&k].etag, e2);
    // `*` (no precondition) always writes, and still yields a new eTag.
    let e3 = s
        .write(vec![change(
            &k,
            json!({"n": 4}),
            Precondition::from_etag(Some("*")),
        )])
        .await
        .unwrap()
        .remove(0);
    assert_ne!(e3, e2);
    let got = s.read(std::slice::from_ref(&k)).await.unwrap();
    assert_eq!(got[&k].document, json!({"n": 4}));
    // IfMatch on a missing key is a conflict, not a create.
    let missing = unique("missing");
    assert!(s
        .write(vec![change(
            &missing,
            json!({}),
            Precondition::IfMatch("\"x\"".into())
        )])
        .await
        .unwrap_err()
        .is_conflict());
    s.delete(&[k]).await.unwrap();
}

pub async fn concurrent_increments(s: Arc<dyn Storage>) {
    let k = unique("counter");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            let k = k.clone();
            tokio::spawn(async move {
                for _attempt in 0..10_000 {
                    let cur = s.read(std::slice::from_ref(&k)).await.unwrap();
                    let (n, pre) = match cur.get(&k) {
                        Some(item) => (
                            item.document["n"].as_u64().unwrap(),
                            Precondition::IfMatch(item.etag.clone()),
                        ),
                        None => (0, Precondition::IfNotExists),
                    };
                    match s.write(vec![change(&k, json!({"n": n + 1}), pre)]).await {
                        Ok(_) => return,
                        Err(e) if e.is_conflict() => continue,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                panic!("no progress after 10000 attempts");
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let got = s.read(std::slice::from_ref(&k)).await.unwrap();
    assert_eq!(got[&k].document, json!({"n": 50}));
    s.delete(&[k]).await.unwrap();
}

pub async fn awkward_keys(s: &dyn Storage) {
    let base = unique("keys");
    let keys = vec![
        format!("{base}/conversations/a/b/"),
        format!("{base}?q=1#frag"),
        format!("{base}*star\\back"),
        format!("{base}\ttab\nnewline\rcr"),
        format!("{base}/ünïcødé/日本語/🙂"),
        format!("{base}/{}", "x".repeat(300)),
        format!("{base}/{}", "/".repeat(40) + &"y".repeat(260)),
    ];
    let changes = keys
        .iter()
        .enumerate()
        .map(|(i, k)| change(k, json!({"i": i, "key": k}), Precondition::None))
        .collect();
    s.write(changes).await.unwrap();
    let got = s.read(&keys).await.unwrap();
    assert_eq!(got.len(), keys.len());
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(got[k].document, json!({"i": i, "key": k}), "key {k:?}");
    }
    // Distinct keys stay distinct even where their stored forms are long.
    let etags: HashSet<_> = got.values().map(|v| v.etag.clone()).collect();
    assert_eq!(etags.len(), keys.len());
    s.delete(&keys).await.unwrap();
    assert!(s.read(&keys).await.unwrap().is_empty());
}

pub async fn large_document(s: &dyn Storage) {
    let k = unique("large");
    let blob = "z".repeat(1024 * 1024);
    s.write(vec![change(&k, json!({"blob": blob}), Precondition::None)])
        .await
        .unwrap();
    let got = s.read(std::slice::from_ref(&k)).await.unwrap();
    assert_eq!(
        got[&k].document["blob"].as_str().unwrap().len(),
        1024 * 1024
    );
    s.delete(&[k]).await.unwrap();
}

pub async fn delete_missing(s: &dyn Storage) {
    s.delete(&[unique("never-written")]).await.unwrap();
}

pub async fn read_many_some_missing(s: &dyn Storage) {
    let a = unique("many-a");
    let b = unique("many-b");
    let c = unique("many-c");
    s.write(vec![
        change(&a, json!({"v": "a"}), Precondition::None),
        change(&c, json!({"v": "c"}), Precondition::None),
    ])
    .await
    .unwrap();
    let got = s.read(&[a.clone(), b.clone(), c.clone()]).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[&a].document, json!({"v": "a"}));
    assert_eq!(got[&c].document, json!({"v": "c"}));
    assert!(!got.contains_key(&b));
    s.delete(&[a, c]).await.unwrap();
}
