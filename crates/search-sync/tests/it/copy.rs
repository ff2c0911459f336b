//! Copying a large index, and reading one with fields that cannot be read.

use indicatif::ProgressBar;
use search_sync::backup::{backup, DOCUMENTS_FILE};
use search_sync::diff::diff;
use search_sync::sync::{sync_index, SyncOptions};
use serde_json::{json, Value};

use crate::support::search_fixtures::{definition, doc};
use crate::support::search_server::{FakeSearch, KEY};
use crate::support::{client, DOC_FIELDS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_250k_documents_past_the_skip_limit() {
    const N: usize = 250_000;
    let src = FakeSearch::default();
    src.create_index(definition("docs", DOC_FIELDS));
    src.insert_docs("docs", (0..N).map(doc));
    let dst = FakeSearch::default();
    let (su, du) = (src.start().await, dst.start().await);
    let (source, target) = (client(&su, "docs"), client(&du, "docs"));

    let report = sync_index(
        &source,
        &target,
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(report.upload.upserted, N as u64);
    assert_eq!(report.diff.only_in_source, N as u64);
    assert!(report
        .schema_actions
        .iter()
        .any(|a| a.starts_with("create index")));
    assert!(report.complete());
    {
        let (s, d) = (src.lock(), dst.lock());
        assert_eq!(d.indexes["docs"].docs.len(), N);
        assert!(
            s.indexes["docs"].docs == d.indexes["docs"].docs,
            "contents differ"
        );
        // Key-range paging: never $skip, $top within the limit, and the
        // filters walk well past the 100,000th document.
        assert!(s.searches.iter().all(|b| b.get("skip").is_none()));
        assert!(s
            .searches
            .iter()
            .all(|b| b["top"].as_u64().unwrap() <= 1000));
        assert!(s.searches.len() >= N / 1000);
        assert!(s
            .searches
            .iter()
            .any(|b| b["filter"] == json!("id gt 'doc-0249999'")));
        assert!(d.batches.iter().all(|b| b.len() <= 1000));
    }

    let d = diff(&source, &target, 1000, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(d.is_equal(), "{d:?}");
    assert_eq!(d.identical, N as u64);
}

#[tokio::test]
async fn the_stand_in_enforces_the_documented_limits() {
    let s = FakeSearch::default();
    s.create_index(definition("docs", &[("secret", "Edm.String", false)]));
    let base = s.start().await;
    let http = bot_http::client();
    let post = |path: &str, body: Value| {
        http.post(format!(
            "{base}/indexes/docs/docs/{path}?api-version=2024-07-01"
        ))
        .header("api-key", KEY)
        .json(&body)
        .send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(
            post("search", json!({"search": "*", "skip": 100_001}))
                .await
                .unwrap()
        ),
        400
    );
    assert_eq!(
        status(
            post("search", json!({"search": "*", "skip": 100_000}))
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(post("search", json!({"top": 1001})).await.unwrap()),
        400
    );
    assert_eq!(
        status(
            post("search", json!({"select": "id,secret"}))
                .await
                .unwrap()
        ),
        400
    );
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"@search.action": "upload", "id": i.to_string()}))
        .collect();
    assert_eq!(
        status(post("index", json!({"value": too_many})).await.unwrap()),
        400
    );
    let r = http
        .get(format!("{base}/indexes/docs?api-version=2024-07-01"))
        .header("api-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn non_retrievable_fields_are_listed_and_left_out() {
    let src = FakeSearch::default();
    src.create_index(definition(
        "kb",
        &[
            ("title", "Edm.String", true),
            ("embedding", "Collection(Edm.Single)", false),
        ],
    ));
    src.insert_docs(
        "kb",
        (0..50).map(|i| {
            json!({"id": format!("k{i:03}"), "title": format!("t{i}"), "embedding": [0.5, i as f64]})
                .as_object()
                .unwrap()
                .clone()
        }),
    );
    let dst = FakeSearch::default();
    let (su, du) = (src.start().await, dst.start().await);
    let dir = tempfile::tempdir().unwrap();

    let b = backup(
        &client(&su, "kb"),
        dir.path(),
        false,
        1000,
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(b.documents, 50);
    assert_eq!(b.warnings.len(), 1);
    assert!(b.warnings[0].contains("embedding"), "{:?}", b.warnings);
    let text = std::fs::read_to_string(dir.path().join(DOCUMENTS_FILE)).unwrap();
    assert_eq!(text.lines().count(), 50);
    assert!(!text.contains("embedding"));

    // Sync too: the stand-in answers 400 to a $select of a hidden field.
    let r = sync_index(
        &client(&su, "kb"),
        &client(&du, "kb"),
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(r.upload.upserted, 50);
    assert!(r.diff.warnings.iter().any(|w| w.contains("embedding")));
    let copied = dst.docs("kb");
    assert_eq!(copied.len(), 50);
    assert!(copied
        .values()
        .all(|d| !d.contains_key("embedding") && d.contains_key("title")));
}
