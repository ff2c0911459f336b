//! Sync against a drifted target (dry run first), and diff.

use indicatif::ProgressBar;
use search_sync::diff::diff;
use search_sync::sync::{sync_index, SyncOptions};
use serde_json::json;

use crate::support::search_fixtures::{definition, doc};
use crate::support::search_server::FakeSearch;
use crate::support::{client, DOC_FIELDS};

fn synonyms() -> serde_json::Value {
    json!({"name": "products", "format": "solr", "synonyms": "tv, television\nphone, mobile"})
}

/// A source of `n` docs with a synonym map, and a target holding a copy.
async fn pair(n: usize) -> (FakeSearch, FakeSearch, String, String) {
    let src = FakeSearch::default();
    src.create_index(definition("docs", DOC_FIELDS));
    src.insert_docs("docs", (0..n).map(doc));
    src.lock()
        .synonym_maps
        .insert("products".into(), synonyms());
    let dst = FakeSearch::default();
    dst.create_index(definition("docs", DOC_FIELDS));
    dst.insert_docs("docs", (0..n).map(doc));
    let (su, du) = (src.start().await, dst.start().await);
    (src, dst, su, du)
}

#[tokio::test]
async fn dry_run_shows_the_drift_and_writes_nothing() {
    let (_src, dst, su, du) = pair(3000).await;
    {
        let mut g = dst.lock();
        let docs = &mut g.indexes.get_mut("docs").unwrap().docs;
        docs.get_mut("doc-0000010")
            .unwrap()
            .insert("title".into(), json!("stale"));
        docs.remove("doc-0000020");
        docs.remove("doc-0002999");
        docs.insert(
            "zz-extra".into(),
            json!({"id": "zz-extra", "title": "x"})
                .as_object()
                .unwrap()
                .clone(),
        );
    }
    let before = dst.docs("docs");
    let (source, target) = (client(&su, "docs"), client(&du, "docs"));
    let dry = SyncOptions {
        dry_run: true,
        delete_extra: true,
        ..Default::default()
    };

    let r = sync_index(&source, &target, &dry, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(r.dry_run);
    assert_eq!(
        (r.diff.changed, r.diff.only_in_source, r.diff.only_in_target),
        (1, 2, 1)
    );
    assert_eq!(r.diff.identical, 2997);
    assert_eq!(r.diff.sample_changed, vec!["doc-0000010"]);
    assert_eq!(
        r.diff.sample_only_in_source,
        vec!["doc-0000020", "doc-0002999"]
    );
    assert_eq!(r.diff.sample_only_in_target, vec!["zz-extra"]);
    assert_eq!(
        r.schema_actions,
        vec!["create or update synonym map products"]
    );
    assert_eq!(dst.served("index"), 0, "a dry run sends no writes");
    assert!(dst.lock().synonym_maps.is_empty());
    assert!(dst.docs("docs") == before);

    // Without --delete-extra the extra document stays.
    let r = sync_index(
        &source,
        &target,
        &SyncOptions::default(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!((r.upload.upserted, r.upload.deleted), (3, 0));
    assert_eq!(dst.lock().synonym_maps["products"], synonyms());
    assert_eq!(dst.docs("docs")["doc-0000010"]["title"], json!("Title 10"));
    let d = diff(&source, &target, 1000, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((d.changed, d.only_in_source, d.only_in_target), (0, 0, 1));
    assert!(!d.is_equal());

    let with_delete = SyncOptions {
        delete_extra: true,
        ..Default::default()
    };
    let r = sync_index(&source, &target, &with_delete, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((r.upload.upserted, r.upload.deleted), (0, 1));
    let d = diff(&source, &target, 1000, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(d.is_equal(), "{d:?}");
    assert_eq!(d.identical, 3000);
}

#[tokio::test]
async fn diff_detects_one_changed_document() {
    let (_src, dst, su, du) = pair(1500).await;
    let (source, target) = (client(&su, "docs"), client(&du, "docs"));
    dst.lock()
        .synonym_maps
        .insert("products".into(), synonyms());
    let d = diff(&source, &target, 1000, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(d.is_equal(), "{d:?}");

    dst.lock()
        .indexes
        .get_mut("docs")
        .unwrap()
        .docs
        .get_mut("doc-0001234")
        .unwrap()
        .insert("rating".into(), json!(99));
    let d = diff(&source, &target, 1000, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!d.is_equal());
    assert_eq!(
        (d.changed, d.identical, d.only_in_source, d.only_in_target),
        (1, 1499, 0, 0)
    );
    assert_eq!(d.sample_changed, vec!["doc-0001234"]);
    assert_eq!((d.source_documents, d.target_documents), (1500, 1500));
}

#[tokio::test]
async fn diff_reports_schema_drift() {
    let (_src, dst, su, du) = pair(5).await;
    dst.lock().indexes.get_mut("docs").unwrap().definition["fields"][1]["searchable"] =
        json!(false);
    let d = diff(
        &client(&su, "docs"),
        &client(&du, "docs"),
        1000,
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(d.identical, 5);
    assert!(
        d.schema_differences
            .iter()
            .any(|s| s.contains("definition")),
        "{:?}",
        d.schema_differences
    );
    assert!(d
        .schema_differences
        .iter()
        .any(|s| s.contains("synonym map products")));
    assert!(!d.is_equal());
}
