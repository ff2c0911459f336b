//! The trained snapshot as the bot uses it: a second open of the same KB
//! loads it and ranks exactly as the trained model did; a damaged, foreign
//! or other-version snapshot is ignored and rewritten; a change of the KB's
//! questions retrains, on open and on reload.

use std::path::{Path, PathBuf};

use qna::{EmbeddedAnswerer, ModelSource, QnaQuery};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn source(a: &EmbeddedAnswerer) -> ModelSource {
    a.index().build_times().source
}

/// A copy of a shipped KB in `dir`, as the file the answerer watches.
fn copy_kb(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join("kb.tsv");
    std::fs::copy(root().join("kb").join(name), &path).unwrap();
    path
}

fn ranks(a: &EmbeddedAnswerer, questions: &[String]) -> Vec<Vec<(usize, f32)>> {
    let index = a.index();
    questions
        .iter()
        .map(|q| {
            let mut query = QnaQuery::new(q.clone());
            query.top = 3;
            index.rank(&query).unwrap()
        })
        .collect()
}

#[test]
fn a_loaded_snapshot_ranks_exactly_like_the_trained_model() {
    let dir = tempfile::tempdir().unwrap();
    let kb = copy_kb(dir.path(), "qna_chitchat_professional.tsv");
    let cache = dir.path().join("cache");
    let trained = EmbeddedAnswerer::open_cached(&kb, Some(&cache)).unwrap();
    assert_eq!(source(&trained), ModelSource::Trained);
    let snap = trained.snapshot_path().unwrap().to_path_buf();
    assert!(snap.is_file(), "written after training");
    assert_eq!(
        snap.parent(),
        Some(cache.as_path()),
        "created the directory"
    );

    let loaded = EmbeddedAnswerer::open_cached(&kb, Some(&cache)).unwrap();
    assert_eq!(source(&loaded), ModelSource::Snapshot);
    // Known phrasings, and words the KB has in other orders and spellings.
    let mut questions: Vec<String> = trained
        .index()
        .kb()
        .qnas
        .iter()
        .flat_map(|q| q.questions.iter().step_by(7).cloned())
        .collect();
    questions.extend(
        [
            "who r u",
            "tell me a joke pls",
            "are you a robot or what",
            "zzzz",
            "thanks a lot!",
        ]
        .map(String::from),
    );
    assert_eq!(ranks(&trained, &questions), ranks(&loaded, &questions));
    assert_eq!(
        trained.index().feature_count(),
        loaded.index().feature_count()
    );
}

#[test]
fn damaged_foreign_and_other_version_snapshots_are_retrained_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let kb = copy_kb(dir.path(), "sample.tsv");
    let cache = dir.path().join("cache");
    let first = EmbeddedAnswerer::open_cached(&kb, Some(&cache)).unwrap();
    let snap = first.snapshot_path().unwrap().to_path_buf();
    let good = std::fs::read(&snap).unwrap();
    let want = ranks(&first, &["who made you".into(), "reset my password".into()]);

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let mut other_version = good.clone();
    other_version[8] = other_version[8].wrapping_add(1);
    // A snapshot of another KB under this KB's name.
    let other_dir = tempfile::tempdir().unwrap();
    let other_kb = copy_kb(other_dir.path(), "qna_chitchat_professional.tsv");
    let other = EmbeddedAnswerer::open_cached(&other_kb, Some(other_dir.path())).unwrap();
    let foreign = std::fs::read(other.snapshot_path().unwrap()).unwrap();
    let damaged: [(&str, Vec<u8>); 6] = [
        ("empty", Vec::new()),
        ("garbage", b"not a snapshot at all".to_vec()),
        ("truncated", good[..good.len() - 10].to_vec()),
        ("flipped byte", flipped),
        ("other version", other_version),
        ("other KB", foreign),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&snap, &bytes).unwrap();
        let a = EmbeddedAnswerer::open_cached(&kb, Some(&cache))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(source(&a), ModelSource::Trained, "{what}");
        assert_eq!(
            ranks(&a, &["who made you".into(), "reset my password".into()]),
            want,
            "{what}"
        );
        assert_eq!(std::fs::read(&snap).unwrap(), good, "{what}: rewritten");
        let again = EmbeddedAnswerer::open_cached(&kb, Some(&cache)).unwrap();
        assert_eq!(source(&again), ModelSource::Snapshot, "{what}");
    }
}

#[tokio::test]
async fn changed_questions_retrain_on_reload_and_changed_answers_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let kb = copy_kb(dir.path(), "sample.tsv");
    let cache = dir.path().join("cache");
    let a = EmbeddedAnswerer::open_cached(&kb, Some(&cache)).unwrap();
    assert_eq!(source(&a), ModelSource::Trained);

    // Only an answer text changes: training does not read answers, so the
    // snapshot stays valid and the new text is served.
    let text = std::fs::read_to_string(&kb).unwrap();
    let edited = text.replace(
        "A small team built me in Rust",
        "A small team built me, in Rust",
    );
    assert_ne!(edited, text);
    std::fs::write(&kb, &edited).unwrap();
    a.reload().unwrap();
    assert_eq!(source(&a), ModelSource::Snapshot);
    let r = qna::Answerer::answer(&a, &QnaQuery::new("who made you"))
        .await
        .unwrap();
    assert!(r[0].answer.starts_with("A small team built me, in Rust"));

    // A new question: the old snapshot no longer fits.
    let added = format!(
        "{edited}Who maintains you?\tA small team built me, in Rust, on the Bot Framework protocol.\tEditorial\ttopic:bot\t[]\tfalse\t[]\t2\n"
    );
    std::fs::write(&kb, added).unwrap();
    a.reload().unwrap();
    assert_eq!(source(&a), ModelSource::Trained);
    let r = qna::Answerer::answer(&a, &QnaQuery::new("who maintains you"))
        .await
        .unwrap();
    assert_eq!(r[0].id, 2);
    assert_eq!(r[0].confidence, 1.0, "a known phrasing is certain");
    a.reload().unwrap();
    assert_eq!(
        source(&a),
        ModelSource::Snapshot,
        "the retrained model was stored"
    );

    // A cache directory that cannot be created: the KB still serves.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "").unwrap();
    let b = EmbeddedAnswerer::open_cached(&kb, Some(&blocked.join("cache"))).unwrap();
    assert_eq!(source(&b), ModelSource::Trained);
    assert!(!b.index().kb().qnas.is_empty());
}
