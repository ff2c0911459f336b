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

    // A width of 0 is refused, not divided by.
    for field in ["hidden_size", "intermediate_size"] {
        let mut zero: serde_json::Value = serde_json::from_str(&config).unwrap();
        zero[field] = 0.into();
        std::fs::write(other.path().join("config.json"), zero.to_string()).unwrap();
        let err = SentenceEncoder::load(other.path()).unwrap_err();
        assert!(
            matches!(err, EncoderError::Unsupported(_)),
            "{field}: {err}"
        );
    }

    std::fs::write(other.path().join("config.json"), config).unwrap();
    std::fs::write(other.path().join("model.safetensors"), b"not weights").unwrap();
    let err = SentenceEncoder::load(other.path()).unwrap_err();
    assert!(matches!(err, EncoderError::Model(_)), "{err}");
}

/// The shallow encoder the bot runs by default: one layer, its vectors
/// those of the full model's first layer (not the full model's), and the
/// fingerprint tells the two apart, so a KB snapshot trained with one is
/// never served with the other.
#[test]
fn a_shallow_encoder_is_its_own_model() {
    let full = SentenceEncoder::load(&model_dir()).unwrap();
    let one = SentenceEncoder::load_layers(&model_dir(), 1).unwrap();
    assert_eq!((full.layers(), one.layers()), (6, 1));
    assert_ne!(full.fingerprint(), one.fingerprint());
    let again = SentenceEncoder::load_layers(&model_dir(), 1).unwrap();
    assert_eq!(again.fingerprint(), one.fingerprint());
    let age = one.embed("how old are you").unwrap();
    let age2 = one.embed("what is your age").unwrap();
    let maker = one.embed("who made you").unwrap();
    assert!(cosine(&age, &age2) > cosine(&age, &maker));
    assert!(cosine(&age, &full.embed("how old are you").unwrap()) < 0.99);
    // Past the model's layers is all of them; none is refused.
    assert_eq!(
        SentenceEncoder::load_layers(&model_dir(), 99)
            .unwrap()
            .layers(),
        6
    );
    assert!(SentenceEncoder::load_layers(&model_dir(), 0).is_err());
}

/// Our WordPiece tokenizer gives the `tokenizers` crate's ids (the
/// reference implementation of the model's tokenizer.json) for every
/// phrasing of the chit-chat KB, the fresh phrasings and text chosen to
/// reach each step: accents, Chinese characters, punctuation, control
/// characters, a word past 100 characters and a text past 128 tokens.
#[test]
fn the_tokenizer_matches_the_reference() {
    let dir = model_dir();
    let e = SentenceEncoder::load_layers(&dir, 1).unwrap();
    let mut reference = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    reference.with_padding(None);
    reference
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: encoder::MAX_TOKENS,
            ..Default::default()
        }))
        .unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut texts: Vec<String> = Vec::new();
    for file in [
        "kb/qna_chitchat_professional.tsv",
        "crates/qna/tests/data/fresh_phrasings.tsv",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        texts.extend(
            text.lines()
                .filter_map(|l| l.split('\t').next())
                .map(String::from),
        );
    }
    assert!(texts.len() > 9_000, "{}", texts.len());
    let long_word = "a".repeat(101);
    let long_text = "how are you doing today my friend? ".repeat(30);
    for t in [
        "Café crème brûlée, naïve résumé",
        "你好，世界！今天天气怎么样",
        "ÀÉÎÕÜ ÅØ Straße İstanbul",
        "don't won't y'all rock'n'roll",
        "hi!!! ?? ... -- (yes) [no] {maybe} <tag> @you #tag $5 100% a&b",
        "tab\tnew\nline\rreturn\u{a0}nbsp\u{2003}em\u{200b}zero-width",
        "\u{0}\u{1}\u{7f}\u{fffd}control",
        "🤖 robots 👍🏽 emoji ❤️",
        "Ελληνικά русский עברית العربية हिन्दी",
        "http://example.test/a?b=c&d=e user@example.test",
        "x² ½ ① ﬁ ℃ Ⅻ",
        "",
        "   ",
        long_word.as_str(),
        long_text.as_str(),
    ] {
        texts.push(t.to_string());
    }
    let mut differ = Vec::new();
    for t in &texts {
        let want = reference
            .encode(t.as_str(), true)
            .unwrap()
            .get_ids()
            .to_vec();
        let got = e.token_ids(t);
        if got != want {
            differ.push(format!("{t:?}: {got:?} against {want:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
