//! The continuous export to Blob, end to end: the real binary, configured by
//! environment alone, writes its telemetry events to Azurite; the test reads
//! the container back over the Blob REST API (list, then get each blob) and
//! checks names, content and that no personal data went out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bot_storage::standins::StandIn;
use bot_storage::BlobAuth;
use chrono::{DateTime, Datelike, Timelike, Utc};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::support::*;

const REGION: &str = "export-test-1";
const CONTAINER: &str = "telemetry-export";
const ADMIN_KEY: &str = "export-test-admin-key-0123";

/// The container read back with the same SAS the bot was given.
struct Container {
    url: String,
    sas: String,
}

impl Container {
    async fn names(&self) -> Vec<String> {
        let rsp = client()
            .get(format!(
                "{}?restype=container&comp=list&{}",
                self.url, self.sas
            ))
            .send()
            .await
            .unwrap();
        if rsp.status() == 404 {
            return Vec::new(); // created by the bot's first put
        }
        assert_eq!(rsp.status(), 200);
        let xml = rsp.text().await.unwrap();
        xml.split("<Name>")
            .skip(1)
            .filter_map(|s| s.split_once("</Name>").map(|(n, _)| n.to_string()))
            .collect()
    }

    /// The blob's content type and body.
    async fn get(&self, name: &str) -> (String, String) {
        let rsp = client()
            .get(format!("{}/{name}?{}", self.url, self.sas))
            .send()
            .await
            .unwrap();
        assert_eq!(rsp.status(), 200, "{name}");
        let content_type = rsp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (content_type, rsp.text().await.unwrap())
    }

    /// Every blob: name -> (content type, lines as JSON).
    async fn read_all(&self) -> BTreeMap<String, (String, Vec<Value>)> {
        let mut out = BTreeMap::new();
        for name in self.names().await {
            let (content_type, body) = self.get(&name).await;
            let lines = body
                .lines()
                .map(|l| {
                    serde_json::from_str(l)
                        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {l}"))
                })
                .collect();
            out.insert(name, (content_type, lines));
        }
        out
    }
}

#[tokio::test]
async fn export_to_blob_is_read_back_partitioned_complete_and_without_personal_data() {
    let azurite = StandIn::azurite().await;
    let cfg = azurite.blob_config(CONTAINER);
    let BlobAuth::Sas(sas) = &cfg.auth else {
        unreachable!()
    };
    let sas = sas.expose_secret().to_string();
    let sig = sas
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let config_dir = config_with_region(dir.path(), REGION);
    let channel = ChannelServer::start().await;
    let bot = BotProcess::start(
        dir.path(),
        &[
            ("BOT_REGION", REGION),
            ("BOT_CONFIG_DIR", &config_dir),
            ("BOT__QNA__KB_PATH", "kb/sample.tsv"),
            ("BOT__AUTH__ADMIN_KEY", ADMIN_KEY),
            ("BOT__TELEMETRY__EXPORT_KIND", "blob"),
            ("BOT__TELEMETRY__EXPORT_BLOB__ACCOUNT_URL", &cfg.account_url),
            ("BOT__TELEMETRY__EXPORT_BLOB__CONTAINER", CONTAINER),
            ("BOT__TELEMETRY__EXPORT_BLOB__AUTH", "sas"),
            ("BOT__TELEMETRY__EXPORT_BLOB__SAS", &sas),
            ("BOT__TELEMETRY__EXPORT_FLUSH_MS", "100"),
        ],
    );

    // Texts the knowledge base does not hold, so any trace of them in the
    // export is the user's words (not a matched KB question).
    let sent = [
        ("exb-1", "Who made you? ref zq-77341"),
        ("exb-2", "Are you human? ref zq-77342"),
        ("exb-3", "How do I reset my password? ref zq-77343"),
    ];
    for (id, text) in sent {
        let mut activity = message(id, "conv-export-blob", "u-exb", text);
        activity["from"]["name"] = json!("Alice Example");
        activity["serviceUrl"] = json!(channel.url);
        assert_eq!(post(&bot, &activity).await.status(), 200, "{id}");
    }

    // Three events a message; wait (generously) until all are written.
    let container = Container {
        url: format!("{}/{CONTAINER}", cfg.account_url),
        sas: sas.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut blobs = container.read_all().await;
    while blobs.values().map(|(_, l)| l.len()).sum::<usize>() < 3 * sent.len()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        blobs = container.read_all().await;
    }
    let lines: Vec<&Value> = blobs.values().flat_map(|(_, l)| l).collect();
    assert_eq!(
        lines.len(),
        3 * sent.len(),
        "exported: {blobs:#?}; logs: {:#?}",
        bot.logs()
    );

    for (name, (content_type, lines)) in &blobs {
        // {region}/{yyyy}/{mm}/{dd}/{hh}/{instance}-{seq}.ndjson, the hour of
        // the batch's first event.
        let parts: Vec<&str> = name.split('/').collect();
        assert_eq!(parts.len(), 6, "{name}");
        assert_eq!(parts[0], REGION, "{name}");
        let first: DateTime<Utc> = lines[0]["time"].as_str().unwrap().parse().unwrap();
        let hour = format!(
            "{:04}/{:02}/{:02}/{:02}",
            first.year(),
            first.month(),
            first.day(),
            first.hour()
        );
        assert_eq!(parts[1..5].join("/"), hour, "{name}");
        let instance = lines[0]["instance"].as_str().unwrap();
        let file = parts[5];
        let seq = file
            .strip_prefix(&format!("{instance}-"))
            .and_then(|f| f.strip_suffix(".ndjson"))
            .unwrap_or_else(|| panic!("{name}: not {instance}-<seq>.ndjson"));
        assert!(
            seq.len() == 6 && seq.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        assert_eq!(content_type, "application/x-ndjson", "{name}");
        for line in lines {
            assert_eq!(line["region"], REGION);
            assert_eq!(line["conversationId"], "conv-export-blob");
            let text = line.to_string();
            assert!(
                !text.contains("zq-7734") && !text.contains("Alice Example"),
                "personal data exported: {text}"
            );
        }
    }

    let has = |event: &str, id: &str| {
        lines.iter().any(|l| {
            l["name"] == event
                && match event {
                    "BotMessageSend" => l["properties"]["replyActivityId"] == id,
                    _ => l["activityId"] == id,
                }
        })
    };
    for (id, _) in sent {
        for event in ["BotMessageReceived", "QnaMessage", "BotMessageSend"] {
            assert!(has(event, id), "no {event} for {id} in {lines:#?}");
        }
    }
    let qna: Vec<&&Value> = lines.iter().filter(|l| l["name"] == "QnaMessage").collect();
    for q in &qna {
        assert_eq!(q["properties"]["knowledgeBaseId"], "sample");
        assert!(q["properties"].get("question").is_none(), "{q}");
        assert!(q["properties"].get("username").is_none(), "{q}");
    }

    // The SAS is a secret: redacted in the admin dump, absent from the logs.
    let dump: Value = client()
        .get(bot.url("/admin/config"))
        .header("x-admin-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["telemetry"]["export_kind"], "blob", "{dump}");
    assert_eq!(
        dump["telemetry"]["export_blob"]["sas"], "[REDACTED]",
        "{dump}"
    );
    assert_eq!(
        dump["telemetry"]["export_blob"]["container"], CONTAINER,
        "{dump}"
    );
    assert!(!dump.to_string().contains(&sig), "{dump}");
    let logs = bot.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("telemetry events exported to Blob")),
        "{logs:#?}"
    );
    assert!(!logs.iter().any(|l| l.contains(&sig)), "SAS in the logs");
}
