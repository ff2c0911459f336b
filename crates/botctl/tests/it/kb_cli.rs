//! `botctl kb import|export|query|compile` as an operator runs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb/sample.tsv")
}

fn botctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_botctl"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn import_export_round_trips_between_the_formats() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("kb.json");
    let tsv = dir.path().join("kb.tsv");
    let plain = dir.path().join("plain.tsv");
    let out = botctl(&[
        "kb",
        "export",
        sample().to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v.to_string().contains("Work account"), "{text}");

    let out = botctl(&[
        "kb",
        "import",
        json.to_str().unwrap(),
        "--out",
        tsv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = qna::import::load_path(&sample()).unwrap();
    let b = qna::import::load_path(&tsv).unwrap();
    assert_eq!(a.qnas.len(), b.qnas.len());
    for (x, y) in a.qnas.iter().zip(&b.qnas) {
        assert_eq!(
            (x.id, &x.answer, &x.questions, &x.prompts, x.is_context_only),
            (y.id, &y.answer, &y.questions, &y.prompts, y.is_context_only)
        );
    }

    // The plain TSV drops prompts, and says so.
    let out = botctl(&[
        "kb",
        "export",
        tsv.to_str().unwrap(),
        "--out",
        plain.to_str().unwrap(),
        "--format",
        "tsv",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("prompts are dropped"));
    assert!(std::fs::read_to_string(&plain)
        .unwrap()
        .starts_with("Question\tAnswer\tMetadata\n"));
}

#[test]
fn a_bad_file_names_its_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "Question\tAnswer\nhi\tHello\nno tab here\n").unwrap();
    let out_path = dir.path().join("out.tsv");
    let out = botctl(&[
        "kb",
        "import",
        bad.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tsv:3"), "{err}");
    assert!(!out_path.exists());
}

#[test]
fn query_prints_json_lines_for_one_or_many_questions() {
    let kb = sample();
    let out = botctl(&[
        "kb",
        "query",
        "--kb",
        kb.to_str().unwrap(),
        "who built you?",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["id"], 2);
    assert!(line["confidence"].as_f64().unwrap() > 0.5);

    let mut child = Command::new(env!("CARGO_BIN_EXE_botctl"))
        .args(["kb", "query", "--kb", kb.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"how do I reset my password\n\nthanks\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "blank lines are skipped");
    assert_eq!(lines[0]["id"], 3);
    assert_eq!(lines[1]["id"], 7);
}

#[test]
fn compile_writes_the_snapshot_the_bot_then_loads() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("kb-cache");
    let kb = sample();
    let out = botctl(&[
        "kb",
        "compile",
        kb.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = cache.join("sample.tsv.kbsnap");
    assert!(String::from_utf8_lossy(&out.stdout).contains("sample.tsv.kbsnap"));
    assert!(snap.is_file());
    let a = qna::EmbeddedAnswerer::open_cached(&kb, Some(&cache)).unwrap();
    assert_eq!(a.index().build_times().source, qna::ModelSource::Snapshot);

    let missing = botctl(&[
        "kb",
        "compile",
        "no/such/kb.tsv",
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/kb.tsv"));
}
