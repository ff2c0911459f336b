use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn state_survives_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let bot = BotProcess::start(dir.path(), &[]);
    for i in 1..=3 {
        let body: Value = post(
            &bot,
            &expect_replies(message(&format!("m{i}"), "conv-r", "u", "Hello")),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(turn_of(&body["activities"][0]), Some(i));
    }
    // Killed without a chance to flush anything.
    bot.kill();
    let bot = BotProcess::start(dir.path(), &[]);
    let body: Value = post(&bot, &expect_replies(message("m4", "conv-r", "u", "Hello")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(turn_of(&body["activities"][0]), Some(4));
    // The dedupe record survived too: m3 again is a redelivery, not turn 5.
    let body: Value = post(&bot, &expect_replies(message("m3", "conv-r", "u", "Hello")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(turn_of(&body["activities"][0]), Some(3));
}

#[tokio::test]
async fn bad_config_stops_before_binding() {
    for (env, needle) in [
        (("BOT__STORAGE__KIND", "floppy"), "storage.kind"),
        (("BOT__SERVER__LISTEN", "nowhere"), "server.listen"),
        (("BOT__QNA__KB_PATH", "kb/missing.tsv"), "qna.kb_path"),
        // A directory without a sentence encoder's files.
        (("BOT__QNA__ENCODER_DIR", "kb"), "qna.encoder_dir"),
        (
            (
                "BOT__QNA__KEY",
                "@Microsoft.KeyVault(VaultName=kv-bot;SecretName=qna-key)",
            ),
            "BOT__QNA__KEY (qna.key) = \"@Microsoft.KeyVault(VaultName=kv-bot;SecretName=qna-key)\" (from the environment): this Key Vault reference was not resolved",
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bot-api"))
            .current_dir(repo_root())
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains("the environment"),
            "{err}"
        );
    }
}
