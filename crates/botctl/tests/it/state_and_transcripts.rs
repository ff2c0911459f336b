//! botctl against the configured backends, as an operator runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use bot_storage::standins::StandIn;
use bot_storage::BlobAuth;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

fn botctl(env: &[(String, String)], args: &[&str], stdin: Option<&str>) -> Output {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_botctl"));
    cmd.args(args)
        .env("BOT_CONFIG_DIR", format!("{root}/config"))
        .env("BOT__QNA__KB_PATH", format!("{root}/kb/sample.tsv"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn state_roundtrip(env: &[(String, String)]) {
    let key = "emulator/conversations/ops 1/";
    let put = botctl(env, &["state", "put", key], Some(r#"{"turnCount": 4}"#));
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let etag = stdout(&put);
    assert!(!etag.is_empty());
    let got = botctl(env, &["state", "get", key], None);
    assert!(got.status.success());
    let doc: Value = serde_json::from_str(&stdout(&got)).unwrap();
    assert_eq!(doc, json!({"turnCount": 4, "eTag": etag}));
    // A document carrying a stale eTag is a conflict (exit 4), as in botbuilder.
    let stale = json!({"turnCount": 5, "eTag": "\"stale\""}).to_string();
    let o = botctl(env, &["state", "put", key], Some(&stale));
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Its own eTag wins.
    let fresh = json!({"turnCount": 5, "eTag": etag}).to_string();
    assert!(botctl(env, &["state", "put", key], Some(&fresh))
        .status
        .success());
    assert!(botctl(env, &["state", "delete", key], None)
        .status
        .success());
    let o = botctl(env, &["state", "get", key], None);
    assert_eq!(o.status.code(), Some(3));
    // Not JSON: a clear error, exit 1.
    let o = botctl(env, &["state", "put", key], Some("{nope"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid JSON"));
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn state_and_transcripts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let transcripts = dir.path().join("t.db");
    let env = pairs(&[
        ("BOT__STORAGE__KIND", "sqlite"),
        ("BOT__STORAGE__PATH", state.to_str().unwrap()),
        ("BOT__TRANSCRIPTS__KIND", "sqlite"),
        ("BOT__TRANSCRIPTS__PATH", transcripts.to_str().unwrap()),
    ]);
    state_roundtrip(&env);

    // Transcripts written by the store, read back through botctl.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use bot_storage::transcript::{SqliteTranscriptStore, TranscriptStore};
        let s = SqliteTranscriptStore::open(&transcripts).unwrap();
        for i in 0..3 {
            let a = serde_json::from_value(json!({
                "type": "message", "id": format!("a{i}"), "channelId": "emulator",
                "conversation": {"id": "c1"}, "from": {"id": "u"}, "recipient": {"id": "b"},
                "timestamp": format!("2026-01-01T00:00:0{i}.000Z"), "text": format!("t{i}")
            }))
            .unwrap();
            s.log(&a).await.unwrap();
        }
    });
    let o = botctl(&env, &["transcript", "list", "emulator"], None);
    assert!(o.status.success());
    let list: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(list["items"][0]["id"], "c1");
    let o = botctl(
        &env,
        &[
            "transcript",
            "get",
            "emulator",
            "c1",
            "--from",
            "2026-01-01T00:00:01Z",
            "--all",
        ],
        None,
    );
    assert!(o.status.success());
    let got: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let texts: Vec<_> = got["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].clone())
        .collect();
    assert_eq!(texts, [json!("t1"), json!("t2")]);
    let o = botctl(
        &env,
        &["transcript", "get", "emulator", "c1", "--from", "yesterday"],
        None,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from"));
    assert!(
        botctl(&env, &["transcript", "delete", "emulator", "c1"], None)
            .status
            .success()
    );
    let o = botctl(&env, &["transcript", "get", "emulator", "c1"], None);
    let got: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(got["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_on_blob_and_cosmos() {
    let azurite = StandIn::azurite().await;
    let cfg = azurite.blob_config("ops-state");
    let BlobAuth::Sas(sas) = cfg.auth else {
        unreachable!()
    };
    let env = pairs(&[
        ("BOT__STORAGE__KIND", "blob"),
        ("BOT__STORAGE__BLOB__ACCOUNT_URL", &cfg.account_url),
        ("BOT__STORAGE__BLOB__CONTAINER", "ops-state"),
        ("BOT__STORAGE__BLOB__AUTH", "sas"),
        ("BOT__STORAGE__BLOB__SAS", sas.expose_secret()),
    ]);
    tokio::task::spawn_blocking(move || state_roundtrip(&env))
        .await
        .unwrap();

    let cosmos = StandIn::cosmos().await;
    let env = pairs(&[
        ("BOT__STORAGE__KIND", "cosmos"),
        ("BOT__STORAGE__COSMOS__ENDPOINT", &cosmos.endpoint),
        ("BOT__STORAGE__COSMOS__DATABASE", "ops"),
        ("BOT__STORAGE__COSMOS__CONTAINER", "state"),
        ("BOT__STORAGE__COSMOS__AUTH", "key"),
        (
            "BOT__STORAGE__COSMOS__KEY",
            bot_storage::standins::COSMOS_EMULATOR_KEY,
        ),
        (
            "BOT__STORAGE__COSMOS__PREFERRED_REGIONS",
            bot_storage::standins::COSMOS_STANDIN_REGION,
        ),
    ]);
    tokio::task::spawn_blocking(move || state_roundtrip(&env))
        .await
        .unwrap();
}
