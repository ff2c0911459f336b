//! The conformance suite and the layout, fallback and fault tests against
//! the real local stand-ins: Azurite for Blob, the Cosmos DB server for
//! Cosmos. Each test starts its own stand-in on a free port.

use std::sync::Arc;

use bot_storage::blob::BlobConfig;
use bot_storage::cosmos::escape_key;
use bot_storage::standins::StandIn;
use bot_storage::transcript::BlobTranscriptStore;
use bot_storage::{
    BlobStorage, Change, CosmosConfig, CosmosStorage, Precondition, Storage, StorageError,
    TranscriptStore,
};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::common as suite;

fn put(key: &str, document: Value) -> Change {
    Change {
        key: key.into(),
        document,
        precondition: Precondition::None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cosmos_conforms() {
    let server = StandIn::cosmos().await;
    let s = CosmosStorage::open(&server.cosmos_config("botdb", "state"))
        .await
        .unwrap();
    suite::run_all(Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blob_conforms() {
    let azurite = StandIn::azurite().await;
    // The suite races 50 writers on one blob. Azurite serves them one at a
    // time on one Node thread, so on a loaded 2-core machine a request
    // waited past the 2 s production deadline in its queue; the suite checks
    // what the store does, not how fast the stand-in is.
    let config = BlobConfig {
        request_timeout: std::time::Duration::from_secs(15),
        ..azurite.blob_config("state")
    };
    let s = BlobStorage::open(&config).await.unwrap();
    suite::run_all(Arc::new(s)).await;
}

/// An account as infra deploys it: the container exists, key auth is off
/// and the identity has data-plane rights only, so Cosmos answers 403 to
/// any create. The service opens it either way, and names a missing
/// container instead of creating it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmos_opens_an_entra_only_account_without_creating_anything() {
    let server = StandIn::cosmos_entra_only(&["bot/state"]).await;
    // The stand-in refuses creates as Cosmos does, even of what exists.
    let rsp = bot_http::client()
        .post(format!("{}dbs", server.endpoint))
        .header("x-ms-version", "2020-07-15")
        .json(&json!({"id": "bot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 403);
    let body: Value = rsp.json().await.unwrap();
    assert_eq!(body["code"], "Forbidden");
    assert!(body["message"].as_str().unwrap().contains("RBAC"), "{body}");

    // Production: no create at all.
    let production = CosmosConfig {
        create_if_missing: false,
        ..server.cosmos_config("bot", "state")
    };
    let s = CosmosStorage::open(&production).await.unwrap();
    suite::run_all(Arc::new(s)).await;
    // Local mode tries to create: the 403 is not fatal, the container exists.
    let s = CosmosStorage::open(&server.cosmos_config("bot", "state"))
        .await
        .unwrap();
    s.write(vec![put("k/", json!({"n": 1}))]).await.unwrap();

    // A container infra did not make: a clear error naming it.
    for create_if_missing in [false, true] {
        let missing = CosmosConfig {
            create_if_missing,
            ..server.cosmos_config("bot", "elsewhere")
        };
        let err = CosmosStorage::open(&missing).await.err().unwrap();
        assert!(
            matches!(err, StorageError::NotProvisioned { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("\"elsewhere\""), "{err}");
    }
}

/// The stored item is botbuilder's CosmosDbPartitionedStorage document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmos_layout_is_botbuilders() {
    let server = StandIn::cosmos().await;
    let s = CosmosStorage::open(&server.cosmos_config("botdb", "layout"))
        .await
        .unwrap();
    let key = "emulator/conversations/conv 1/";
    let etag = s
        .write(vec![put(key, json!({"turnCount": 3}))])
        .await
        .unwrap()
        .remove(0);
    let id = escape_key(key);
    assert_eq!(id, "emulator*2fconversations*2fconv 1*2f");
    // Read the raw item over the REST API (the stand-in does not check auth).
    let url = format!(
        "{}dbs/botdb/colls/layout/docs/{}",
        server.endpoint,
        percent_encode(&id)
    );
    let rsp = bot_http::client()
        .get(url)
        .header("x-ms-documentdb-partitionkey", json!([id]).to_string())
        .header("x-ms-version", "2020-07-15")
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 200);
    let raw: Value = rsp.json().await.unwrap();
    assert_eq!(raw["id"], json!(id));
    assert_eq!(raw["realId"], json!(key));
    assert_eq!(raw["document"], json!({"turnCount": 3}));
    assert_eq!(raw["_etag"], json!(etag));
}

fn percent_encode(s: &str) -> String {
    bot_storage::blob::naming::encode_uri_component(s)
}

/// The stored blob is botbuilder's BlobsStorage blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_layout_is_botbuilders() {
    let azurite = StandIn::azurite().await;
    let config = azurite.blob_config("layout");
    let s = BlobStorage::open(&config).await.unwrap();
    let etag = s
        .write(vec![put(
            "emulator/conversations/conv-1/",
            json!({"turnCount": 3}),
        )])
        .await
        .unwrap()
        .remove(0);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let sas = match &config.auth {
        bot_storage::BlobAuth::Sas(s) => s.expose_secret().to_string(),
        other => panic!("{other:?}"),
    };
    // The stored name is `emulator%2Fconversations%2Fconv-1`, so its URL
    // path carries `%252F`.
    let url = format!(
        "{}/layout/emulator%252Fconversations%252Fconv-1?{sas}",
        azurite.endpoint
    );
    let rsp = bot_http::client().get(url).send().await.unwrap();
    assert_eq!(rsp.status(), 200);
    assert_eq!(rsp.headers()["content-type"], "application/json");
    assert_eq!(rsp.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = rsp.json().await.unwrap();
    assert_eq!(body, json!({"turnCount": 3}));
}

fn dead_endpoint() -> String {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/devstoreaccount1")
}

/// Reads go to the RA-GRS secondary when the primary cannot be reached;
/// writes never do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_reads_fall_back_to_the_secondary_and_writes_do_not() {
    let azurite = StandIn::azurite().await;
    let direct = BlobStorage::open(&azurite.blob_config("geo"))
        .await
        .unwrap();
    direct
        .write(vec![put("users/u1/", json!({"name": "Ada"}))])
        .await
        .unwrap();
    let config = BlobConfig {
        account_url: dead_endpoint(),
        secondary_url: Some(azurite.endpoint.clone()),
        ..azurite.blob_config("geo")
    };
    // No I/O to build it (open would try to create the container on the
    // dead primary).
    let geo = BlobStorage::from_config(&config).unwrap();
    let got = geo.read(&["users/u1/".to_string()]).await.unwrap();
    assert_eq!(got["users/u1/"].document, json!({"name": "Ada"}));
    let err = geo
        .write(vec![put("users/u1/", json!({"name": "Lost"}))])
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err}");
    let err = geo.delete(&["users/u1/".to_string()]).await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err}");
    // Nothing was written or deleted.
    let got = direct.read(&["users/u1/".to_string()]).await.unwrap();
    assert_eq!(got["users/u1/"].document, json!({"name": "Ada"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_outage_is_unavailable_and_recovers() {
    let mut azurite = StandIn::azurite().await;
    let s = BlobStorage::open(&azurite.blob_config("outage"))
        .await
        .unwrap();
    let k = "conv/outage/".to_string();
    s.write(vec![put(&k, json!({"n": 1}))]).await.unwrap();
    azurite.stop().await;
    let err = s.read(std::slice::from_ref(&k)).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Unavailable { .. }),
        "read: {err}"
    );
    let err = s.write(vec![put(&k, json!({"n": 2}))]).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Unavailable { .. }),
        "write: {err}"
    );
    let err = s.ping().await.unwrap_err();
    assert!(
        matches!(err, StorageError::Unavailable { .. }),
        "ping: {err}"
    );
    azurite.restart().await;
    // Azurite restarted empty (in memory): the same client recreates the
    // container, as a redeploy would, and serves again without a rebuild.
    s.ensure_container().await.unwrap();
    s.ping().await.unwrap();
    s.write(vec![put(&k, json!({"n": 3}))]).await.unwrap();
    let got = s.read(std::slice::from_ref(&k)).await.unwrap();
    assert_eq!(got[&k].document, json!({"n": 3}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmos_outage_is_unavailable_and_recovers() {
    let mut server = StandIn::cosmos().await;
    let config = server.cosmos_config("botdb", "outage");
    let s = CosmosStorage::open(&config).await.unwrap();
    let k = "conv/outage/".to_string();
    s.write(vec![put(&k, json!({"n": 1}))]).await.unwrap();
    server.stop().await;
    let err = s.read(std::slice::from_ref(&k)).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Unavailable { .. }),
        "read: {err}"
    );
    let err = s.write(vec![put(&k, json!({"n": 2}))]).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Unavailable { .. }),
        "write: {err}"
    );
    server.restart().await;
    // The stand-in keeps data in memory: it comes back empty, so recreate
    // the container as a redeploy would, then the old client serves again.
    let _fresh = CosmosStorage::open(&config).await.unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if s.write(vec![put(&k, json!({"n": 3}))]).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "the Cosmos client did not recover");
    let got = s.read(std::slice::from_ref(&k)).await.unwrap();
    assert_eq!(got[&k].document, json!({"n": 3}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_transcripts_conform() {
    let azurite = StandIn::azurite().await;
    let s = BlobTranscriptStore::open(&azurite.blob_config("transcripts"))
        .await
        .unwrap();
    suite::transcripts::run_all(&s, "emulator").await;
}

// ---- Compatibility with botbuilder-js 4.23.3, the reference SDK ----

/// Runs one command of tests/js-storage/compat.js (botbuilder-js).
async fn js(cmd: Value) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js-storage");
    assert!(
        dir.join("node_modules").is_dir(),
        "botbuilder-js is not installed: run `npm ci --prefix tests/js-storage` (./scripts/test does this)"
    );
    let out = tokio::process::Command::new("node")
        .arg(dir.join("compat.js"))
        .arg(cmd.to_string())
        .output()
        .await
        .expect("running node");
    assert!(
        out.status.success(),
        "botbuilder-js failed on {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("compat.js prints JSON")
}

fn js_blob(azurite: &StandIn, container: &str) -> Value {
    json!({
        "endpoint": azurite.endpoint,
        "account": bot_storage::blob::sas::AZURITE_ACCOUNT,
        "key": bot_storage::blob::sas::AZURITE_KEY,
        "container": container,
    })
}

const AWKWARD: &str = "msteams/conversations/19:a?b#c*d\\e f/";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmos_state_is_shared_with_botbuilder_js() {
    let server = StandIn::cosmos().await;
    // The infrastructure exists first (botbuilder does not create databases).
    let rust = CosmosStorage::open(&server.cosmos_config("botdb", "shared"))
        .await
        .unwrap();
    let cosmos = json!({
        "endpoint": server.endpoint,
        "key": bot_storage::standins::COSMOS_EMULATOR_KEY,
        "database": "botdb", "container": "shared",
    });
    // JS writes, we read.
    let doc = json!({"turnCount": 7, "dialogState": {"stack": [{"id": "root"}]}});
    js(json!({"op": "cosmos-write", "cosmos": cosmos,
        "changes": {"emulator/conversations/js-1/": doc, AWKWARD: {"n": 1}}}))
    .await;
    let got = rust
        .read(&["emulator/conversations/js-1/".into(), AWKWARD.into()])
        .await
        .unwrap();
    assert_eq!(got["emulator/conversations/js-1/"].document, doc);
    assert_eq!(got[AWKWARD].document, json!({"n": 1}));
    // We write (conditionally, on the eTag JS's write produced), JS reads.
    let etag = rust
        .write(vec![Change {
            key: AWKWARD.into(),
            document: json!({"n": 2, "by": "rust"}),
            precondition: Precondition::IfMatch(got[AWKWARD].etag.clone()),
        }])
        .await
        .unwrap()
        .remove(0);
    let read =
        js(json!({"op": "cosmos-read", "cosmos": cosmos, "keys": [AWKWARD, "missing/"]})).await;
    assert_eq!(read[AWKWARD]["n"], 2);
    assert_eq!(read[AWKWARD]["by"], "rust");
    assert_eq!(read[AWKWARD]["eTag"], json!(etag));
    assert!(read.get("missing/").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_state_is_shared_with_botbuilder_js() {
    let azurite = StandIn::azurite().await;
    let rust = BlobStorage::open(&azurite.blob_config("shared"))
        .await
        .unwrap();
    let blob = js_blob(&azurite, "shared");
    let doc = json!({"turnCount": 7, "dialogState": {"stack": [{"id": "root"}]}});
    js(json!({"op": "blob-write", "blob": blob,
        "changes": {"emulator/conversations/js-1/": doc, AWKWARD: {"n": 1}}}))
    .await;
    let got = rust
        .read(&["emulator/conversations/js-1/".into(), AWKWARD.into()])
        .await
        .unwrap();
    assert_eq!(got["emulator/conversations/js-1/"].document, doc);
    assert_eq!(got[AWKWARD].document, json!({"n": 1}));
    let etag = rust
        .write(vec![Change {
            key: AWKWARD.into(),
            document: json!({"n": 2, "by": "rust"}),
            precondition: Precondition::IfMatch(got[AWKWARD].etag.clone()),
        }])
        .await
        .unwrap()
        .remove(0);
    let read = js(json!({"op": "blob-read", "blob": blob, "keys": [AWKWARD]})).await;
    assert_eq!(read[AWKWARD]["n"], 2);
    assert_eq!(read[AWKWARD]["by"], "rust");
    assert_eq!(read[AWKWARD]["eTag"], json!(etag));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_transcripts_are_shared_with_botbuilder_js() {
    use suite::transcripts::activity;
    let azurite = StandIn::azurite().await;
    let rust = BlobTranscriptStore::open(&azurite.blob_config("transcripts"))
        .await
        .unwrap();
    let blob = js_blob(&azurite, "transcripts");
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-02-03T04:05:06.789Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    // JS logs, we read: same names, so the same listing, in order.
    let js_acts: Vec<_> = (0..3)
        .map(|i| {
            activity(
                "emulator",
                "js conv/1",
                &format!("j{i}"),
                t0 + chrono::Duration::milliseconds(i * 7),
                &format!("from js {i}"),
            )
        })
        .collect();
    js(json!({"op": "transcript-log", "blob": blob, "activities": js_acts})).await;
    let page = rust
        .activities("emulator", "js conv/1", None, None)
        .await
        .unwrap();
    let texts: Vec<_> = page.items.iter().map(|a| a.text.clone().unwrap()).collect();
    assert_eq!(texts, ["from js 0", "from js 1", "from js 2"]);
    assert_eq!(
        page.items[1].timestamp.as_deref(),
        Some("2026-02-03T04:05:06.796Z")
    );
    // We log, JS reads.
    for (i, text) in ["hello", "answer"].iter().enumerate() {
        let a = activity(
            "emulator",
            "rust-conv",
            &format!("r{i}"),
            t0 + chrono::Duration::seconds(i as i64),
            text,
        );
        rust.log(&a).await.unwrap();
    }
    let read = js(json!({"op": "transcript-get", "blob": blob,
        "channelId": "emulator", "conversationId": "rust-conv"}))
    .await;
    let items = read["items"].as_array().unwrap();
    let texts: Vec<_> = items.iter().map(|a| a["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["hello", "answer"]);
    assert_eq!(items[0]["id"], "r0");
    assert_eq!(items[1]["from"]["id"], "user-1");
}
