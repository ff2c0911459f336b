//! The sentence encoder against the real all-MiniLM-L6-v2 files, which
//! `scripts/fetch-encoder` fetches (pinned by hash) and `scripts/test` runs
//! before the tests. The reference figures were computed from the same
//! files by a separate NumPy implementation of BERT with mean pooling,
//! the way sentence-transformers computes them.

use std::path::PathBuf;

use encoder::{EncoderError, SentenceEncoder};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("ENCODER_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/encoder/all-MiniLM-L6-v2"),
        PathBuf::from,
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "no sentence encoder in {}: run scripts/fetch-encoder (scripts/test does)",
        dir.display()
    );
    dir
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn vectors_match_the_reference_implementation() {
    let e = SentenceEncoder::load(&model_dir()).unwrap();
    assert_eq!(e.dims(), 384);
    let age = e.embed("how old are you").unwrap();
    let age2 = e.embed("what is your age").unwrap();
    let maker = e.embed("who made you").unwrap();
    let snooze = e.embed("You are a real snooze").unwrap();
    // The reference's first values of "how old are you".
    let want = [0.05363, 0.02537, 0.02162, 0.04771];
    for (got, want) in age.iter().zip(want) {
        assert!(
            (got - want).abs() < 3e-3,
            "{:?} against {want:?}",
            &age[..4]
        );
    }
    for v in [&age, &age2, &maker, &snooze] {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    // The reference's cosines: 0.7852, 0.3156, 0.2525.
    for (a, b, want) in [
        (&age, &age2, 0.7852),
        (&age, &maker, 0.3156),
        (&age, &snooze, 0.2525),
    ] {
        let got = cosine(a, b);
        assert!((got - want).abs() < 0.01, "cosine {got} against {want}");
    }
}

#[test]
fn any_text_gets_a_vector() {
    let e = SentenceEncoder::load(&model_dir()).unwrap();
    let long = "tell me more about it ".repeat(2_000);
    for text in [
        "",
        "   ",
        "🤖🤖🤖",
        "\u{0}\u{1}",
        long.as_str(),
        "¿Qué hora es?",
    ] {
        let v = e.embed(text).unwrap();
        assert_eq!(v.len(), 384);
        assert!(v.iter().all(|x| x.is_finite()), "{text:?}");
    }
}

#[test]
fn a_wrong_model_directory_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let err = SentenceEncoder::load(empty.path()).unwrap_err();
    assert!(matches!(err, EncoderError::Read { .. }), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");

    let other = tempfile::tempdir().unwrap();
    let src = model_dir();
    for f in ["tokenizer.json", "model.safetensors"] {
        std::fs::copy(src.join(f), other.path().join(f)).unwrap();
    }
    let config = std::fs::read_to_string(src.join("config.json")).unwrap();
    std::fs::write(
        other.path().join("config.json"),
        config.replace("\"bert\"", "\"gpt2\""),
    )
    .unwrap();
    let err = SentenceEncoder::load(other.path()).unwrap_err();
    assert!(matches!(err, EncoderError::Unsupported(_)), "{err}");

    std::fs::write(other.path().join("config.json"), config).unwrap();
    std::fs::write(other.path().join("model.safetensors"), b"not weights").unwrap();
    let err = SentenceEncoder::load(other.path()).unwrap_err();
    assert!(matches!(err, EncoderError::Model(_)), "{err}");
}
