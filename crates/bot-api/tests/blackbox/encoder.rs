//! The real binary with `qna.encoder_dir` set: the sentence encoder that
//! `scripts/fetch-encoder` fetches (scripts/test runs it first) loads at
//! start and the embedded KB answers with it. What the encoder does for
//! answer quality is measured in qna's quality tests.

use serde_json::Value;

use crate::support::*;

fn encoder_dir() -> String {
    let dir = std::env::var_os("ENCODER_MODEL_DIR").map_or_else(
        || repo_root().join(".tools/encoder/all-MiniLM-L6-v2"),
        std::path::PathBuf::from,
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "no sentence encoder in {}: run scripts/fetch-encoder (scripts/test does)",
        dir.display()
    );
    dir.display().to_string()
}

#[tokio::test]
async fn the_bot_answers_with_the_sentence_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("kb-cache");
    let encoder = encoder_dir();
    let env = [
        ("BOT__QNA__ENCODER_DIR", encoder.as_str()),
        ("BOT__QNA__CACHE_DIR", cache.to_str().unwrap()),
    ];
    let bot = BotProcess::start(dir.path(), &env);
    let body: Value = post(
        &bot,
        &expect_replies(message("e1", "conv-e", "u", "Who created you?")),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        body["activities"][0]["text"],
        "A small team built me in Rust, on the Bot Framework protocol.",
        "{body}"
    );
    let logs = bot.logs().join("\n");
    assert!(logs.contains("sentence encoder loaded"), "{logs}");
    assert!(logs.contains("knowledge-base snapshot written"), "{logs}");
    drop(bot);
    // The snapshot was made with the encoder: the next start loads it, and
    // a start without the encoder does not take it for its own.
    let bot = BotProcess::start(dir.path(), &env);
    post(&bot, &expect_replies(message("e2", "conv-e", "u", "hi"))).await;
    let logs = bot.logs().join("\n");
    assert!(logs.contains("model=Snapshot"), "{logs}");
    drop(bot);
    let bot = BotProcess::start(
        dir.path(),
        &[("BOT__QNA__CACHE_DIR", cache.to_str().unwrap())],
    );
    post(&bot, &expect_replies(message("e3", "conv-e", "u", "hi"))).await;
    let logs = bot.logs().join("\n");
    assert!(logs.contains("model=Trained"), "{logs}");
    drop(bot);
    // Nor does the same model run to another depth: its vectors differ.
    let deeper = [
        ("BOT__QNA__ENCODER_DIR", encoder.as_str()),
        ("BOT__QNA__ENCODER_LAYERS", "2"),
        ("BOT__QNA__CACHE_DIR", cache.to_str().unwrap()),
    ];
    let bot = BotProcess::start(dir.path(), &deeper);
    post(&bot, &expect_replies(message("e4", "conv-e", "u", "hi"))).await;
    let logs = bot.logs().join("\n");
    assert!(logs.contains("layers=2"), "{logs}");
    assert!(logs.contains("model=Trained"), "{logs}");
}
