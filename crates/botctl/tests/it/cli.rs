//! `botctl index` and `botctl kb sync` as an operator or a scheduler runs
//! them: the real binary, its exit codes and its JSON output, against the
//! local Azure AI Search stand-in of the search-sync tests (no emulator of
//! the service exists; the stand-in implements the documented REST subset).

#[path = "../../../search-sync/tests/it/support/search_fixtures.rs"]
mod search_fixtures;
#[path = "../../../search-sync/tests/it/support/search_server.rs"]
mod search_server;

use std::process::Output;

use serde_json::{json, Value};
use tokio::process::Command;

use search_fixtures::{definition, doc};
use search_server::{FakeSearch, KEY};

const FIELDS: &[(&str, &str, bool)] = &[
    ("title", "Edm.String", true),
    ("rating", "Edm.Int32", true),
    ("tags", "Collection(Edm.String)", true),
];

async fn botctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botctl"))
        .args(args)
        .env("TEST_SOURCE_KEY", KEY)
        .env("TEST_TARGET_KEY", KEY)
        .env_remove("SEARCH_SOURCE_API_KEY")
        .env_remove("SEARCH_TARGET_API_KEY")
        .output()
        .await
        .unwrap()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

#[tokio::test]
async fn index_diff_and_sync_exit_codes() {
    let src = FakeSearch::default();
    src.create_index(definition("docs", FIELDS));
    src.insert_docs("docs", (0..30).map(doc));
    let dst = FakeSearch::default();
    dst.create_index(definition("docs", FIELDS));
    dst.insert_docs("docs", (0..30).map(doc));
    dst.lock()
        .indexes
        .get_mut("docs")
        .unwrap()
        .docs
        .get_mut("doc-0000007")
        .unwrap()
        .insert("title".into(), json!("drifted"));
    let (su, du) = (src.start().await, dst.start().await);
    let pair = [
        "--source-endpoint",
        su.as_str(),
        "--source-index",
        "docs",
        "--source-key-env",
        "TEST_SOURCE_KEY",
        "--target-endpoint",
        du.as_str(),
        "--target-index",
        "docs",
        "--target-key-env",
        "TEST_TARGET_KEY",
    ];
    let with = |cmd: &[&'static str]| -> Vec<String> {
        cmd.iter()
            .map(|s| s.to_string())
            .chain(pair.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        botctl(&refs).await
    };

    let o = run(with(&["index", "diff", "--json"])).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json_of(&o);
    assert_eq!(
        (v["changed"].clone(), v["ok"].clone()),
        (json!(1), json!(false))
    );
    assert_eq!(v["sample_changed"], json!(["doc-0000007"]));

    let o = run(with(&["index", "sync", "--dry-run", "--json"])).await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_of(&o)["diff"]["changed"], json!(1));
    assert_eq!(dst.served("index"), 0);

    let o = run(with(&["index", "sync", "--json"])).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(json_of(&o)["upload"]["upserted"], json!(1));

    let o = run(with(&["index", "diff"])).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains(": equal"));

    // A missing key is bad input (2); an unreachable service a dependency failure (3).
    let o = botctl(&[
        "index",
        "diff",
        "--source-endpoint",
        &su,
        "--source-index",
        "docs",
        "--target-endpoint",
        &du,
        "--target-index",
        "docs",
    ])
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SEARCH_SOURCE_API_KEY"));
    assert!(!String::from_utf8_lossy(&o.stderr).contains(KEY));
}

#[tokio::test]
async fn backup_reports_non_retrievable_fields_and_bad_schedules_are_refused() {
    let src = FakeSearch::default();
    src.create_index(definition(
        "kb",
        &[
            ("title", "Edm.String", true),
            ("vector", "Collection(Edm.Single)", false),
        ],
    ));
    src.insert_docs(
        "kb",
        (0..5).map(|i| {
            json!({"id": format!("k{i}"), "title": "t"})
                .as_object()
                .unwrap()
                .clone()
        }),
    );
    let su = src.start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("bk");
    let d = d.to_str().unwrap();
    let base = [
        "index",
        "backup",
        "--source-endpoint",
        su.as_str(),
        "--source-index",
        "kb",
        "--source-key-env",
        "TEST_SOURCE_KEY",
        "--dir",
        d,
    ];

    let o = botctl(&base).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("backed up 5 documents"), "{out}");
    assert!(
        out.contains("warning: index kb: field vector is not retrievable"),
        "{out}"
    );

    // Run again: the backup is complete, so it refuses to overwrite it.
    let o = botctl(&[&base[..], &["--json"]].concat()).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(json_of(&o)["error"]
        .as_str()
        .unwrap()
        .contains("--overwrite"));

    let o = botctl(&[&base[..], &["--overwrite", "--schedule", "5s"]].concat()).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("shorter than 10s"));
}

#[tokio::test]
async fn kb_sync_embedded_copies_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("a.tsv");
    let to = dir.path().join("b.tsv");
    std::fs::write(&from, "Question\tAnswer\nhi\tHello!\nbye\tBye.\n").unwrap();
    let o = botctl(&[
        "kb",
        "sync",
        "--kind",
        "embedded",
        "--from",
        from.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json_of(&o);
    assert_eq!(
        (
            v["verify"]["sampled"].clone(),
            v["verify"]["matched"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(std::fs::read(&from).unwrap(), std::fs::read(&to).unwrap());

    let missing = dir.path().join("missing.tsv");
    let o = botctl(&[
        "kb",
        "sync",
        "--kind",
        "embedded",
        "--from",
        missing.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.tsv"));
}
