//! Serve mode: bot-api answers the Azure AI Language
//! `POST /language/:query-knowledgebases` API from its embedded KB. No
//! emulator of that service exists, so our side of the wire is checked by
//! two clients that speak the documented API: this project's `CqaClient`,
//! and npm `botbuilder-ai` 4.23.3's `CustomQuestionAnswering`, which nobody
//! here wrote (tests/js-qna; `./scripts/test` installs it from its lockfile).

use std::path::Path;
use std::process::Stdio;

use qna::{Answerer, CqaClient, MetadataFilter, QnaContext, QnaQuery, RemoteSettings};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use bot_api::Settings;

use crate::harness::{env, in_memory, root, serve as serve_app, settings};

const KEY: &str = "serve-mode-test-key";
const PROJECT: &str = "sample";

/// bot-api on a free port with the sample KB and a serve key.
async fn serve() -> (String, tokio::task::JoinHandle<()>) {
    serve_with(&[
        ("BOT__QNA__SERVE", "true".into()),
        ("BOT__QNA__SERVE_KEY", KEY.into()),
    ])
    .await
}

/// bot-api on a free port, in-memory state, with these settings on top.
async fn serve_with(extra: &[(&str, String)]) -> (String, tokio::task::JoinHandle<()>) {
    serve_app(in_memory(settings(extra)).await).await
}

fn client(endpoints: Vec<String>) -> CqaClient {
    CqaClient::new(
        RemoteSettings {
            endpoints,
            key: KEY.to_string().into(),
            endpoint_keys: Vec::new(),
            policy: failover::Policy::default(),
        },
        PROJECT.into(),
        "production".into(),
    )
    .unwrap()
}

#[tokio::test]
async fn our_cqa_client_gets_the_embedded_answers_through_serve_mode() {
    let (url, _task) = serve().await;
    let cqa = client(vec![url.clone()]);

    let a = cqa.answer(&QnaQuery::new("who built you")).await.unwrap();
    assert_eq!(a[0].id, 2, "{a:?}");
    assert!(a[0].confidence > 0.5, "{a:?}");
    assert_eq!(a[0].served_by.backend, "cqa");
    assert_eq!(a[0].served_by.endpoint.as_deref(), Some(url.as_str()));

    // Follow-up prompts travel as dialog.prompts.
    let a = cqa
        .answer(&QnaQuery::new("I forgot my password"))
        .await
        .unwrap();
    assert_eq!(a[0].id, 3);
    let prompts: Vec<_> = a[0].prompts.iter().map(|p| p.qna_id).collect();
    assert_eq!(prompts, [4, 5]);

    // Multi-turn: with the previous answer as context, the context-only
    // follow-up is reachable; without it, it is not.
    let mut q = QnaQuery::new("Work account");
    q.context = Some(QnaContext {
        previous_qna_id: Some(3),
        previous_user_query: Some("I forgot my password".into()),
    });
    let a = cqa.answer(&q).await.unwrap();
    assert_eq!(a[0].id, 4, "{a:?}");
    let a = cqa.answer(&QnaQuery::new("Work account")).await.unwrap();
    assert!(a.iter().all(|x| x.id != 4), "{a:?}");

    // Metadata filter.
    let mut q = QnaQuery::new("hello");
    q.filter = Some(MetadataFilter {
        pairs: vec![("topic".into(), "account".into())],
        all: true,
    });
    let a = cqa.answer(&q).await.unwrap();
    assert!(
        a.iter()
            .all(|x| x.metadata.get("topic").map(String::as_str) == Some("account")),
        "{a:?}"
    );
}

#[tokio::test]
async fn serve_mode_rejects_bad_requests_with_clear_answers() {
    let (url, _task) = serve().await;
    let http = bot_http::client();
    let endpoint = format!(
        "{url}/language/:query-knowledgebases?projectName={PROJECT}&deploymentName=production&api-version=2021-10-01"
    );
    let post = |uri: String, key: Option<&'static str>, body: &'static str| {
        let mut r = http
            .post(uri)
            .header("content-type", "application/json")
            .body(body);
        if let Some(k) = key {
            r = r.header("Ocp-Apim-Subscription-Key", k);
        }
        r.send()
    };
    let r = post(endpoint.clone(), None, r#"{"question":"hi"}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = post(endpoint.clone(), Some("wrong"), r#"{"question":"hi"}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = post(endpoint.clone(), Some(KEY), "{not json")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not a valid query"));
    let r = post(endpoint.clone(), Some(KEY), r#"{"question":"hi","top":0}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("top"));
    let r = post(
        format!("{url}/language/:query-knowledgebases?api-version=2021-10-01"),
        Some(KEY),
        r#"{"question":"hi"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("projectName"));
}

/// Runs tests/js-qna/check.js against `url` with these queries.
async fn botbuilder_ai(url: &str, queries: &Value) -> Value {
    let dir = Path::new(root()).join("tests/js-qna");
    assert!(
        dir.join("node_modules/botbuilder-ai").is_dir(),
        "botbuilder-ai is not installed: run `npm ci --prefix tests/js-qna` (./scripts/test does this)"
    );
    let mut child = tokio::process::Command::new("node")
        .arg("check.js")
        .args([url, KEY, PROJECT])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is needed for the botbuilder-ai check");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(queries.to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "check.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn botbuilder_ai_custom_question_answering_gets_the_expected_answers() {
    let (url, _task) = serve().await;
    let queries = json!([
        {"question": "Who made you?"},
        {"question": "how do i reset my password"},
        {"question": "Personal account", "previousQnaId": 3, "previousUserQuery": "how do i reset my password"},
        {"question": "thanks a lot"},
        {"question": "good bye"},
    ]);
    let got = botbuilder_ai(&url, &queries).await;
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 5, "{got:?}");

    // The answers botbuilder-ai reports are the ones the embedded KB gives
    // (ids, text and score), and the expected ones for the sample KB.
    let kb = qna::EmbeddedIndex::build(
        qna::import::load_path(&Path::new(root()).join("kb/sample.tsv")).unwrap(),
    )
    .unwrap();
    let expected_ids = [2, 3, 5, 7, 8];
    for ((q, js), want) in queries
        .as_array()
        .unwrap()
        .iter()
        .zip(got)
        .zip(expected_ids)
    {
        let top = &js[0];
        assert_eq!(top["id"], want, "{q}: {js}");
        let mut query = QnaQuery::new(q["question"].as_str().unwrap());
        query.context = q["previousQnaId"].as_u64().map(|id| QnaContext {
            previous_qna_id: Some(id),
            previous_user_query: None,
        });
        let ours = &kb.answer(&query).unwrap()[0];
        assert_eq!(top["answer"], ours.answer.as_str(), "{q}");
        let score = top["score"].as_f64().unwrap();
        assert!(
            (score - ours.confidence as f64).abs() < 1e-3,
            "{q}: {score} vs {}",
            ours.confidence
        );
        assert!(score >= 0.5, "{q}: low confidence {score}");
    }
    // Prompts come through botbuilder's own formatting.
    assert_eq!(
        got[1][0]["prompts"],
        json!(["Work account", "Personal account"])
    );
}

#[tokio::test]
async fn admin_reload_swaps_the_kb_and_a_bad_file_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let kb = dir.path().join("kb.tsv");
    let sample = std::fs::read_to_string(Path::new(root()).join("kb/sample.tsv")).unwrap();
    std::fs::write(&kb, &sample).unwrap();
    let admin_key = "admin-key-for-the-reload-test";
    let (url, _task) = serve_with(&[
        ("BOT__QNA__KB_PATH", kb.display().to_string()),
        ("BOT__QNA__RELOAD_INTERVAL_MS", "0".into()),
        ("BOT__QNA__SERVE", "true".into()),
        ("BOT__AUTH__ADMIN_KEY", admin_key.into()),
    ])
    .await;
    let http = bot_http::client();
    let reload = |key: &'static str| {
        http.post(format!("{url}/admin/kb/reload"))
            .header("x-admin-key", key)
            .send()
    };
    let ask = |q: &'static str| {
        http.post(format!(
            "{url}/language/:query-knowledgebases?projectName=p&api-version=2021-10-01"
        ))
        .json(&json!({"question": q, "top": 1}))
        .send()
    };

    assert_eq!(reload("wrong-key").await.unwrap().status(), 401);
    let before: Value = reload(admin_key).await.unwrap().json().await.unwrap();

    let added = "What is your favourite colour?\tBlue, like the Azure portal.\tEditorial\ttopic:bot\t[]\tfalse\t[]\t99\n";
    std::fs::write(&kb, format!("{sample}{added}")).unwrap();
    let r = reload(admin_key).await.unwrap();
    assert_eq!(r.status(), 200);
    let after: Value = r.json().await.unwrap();
    assert_eq!(after["answers"], before["answers"].as_u64().unwrap() + 1);
    let a: Value = ask("what is your favourite colour")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["answers"][0]["id"], 99, "{a}");

    // A broken row: 422 naming the line, and the previous KB still answers.
    std::fs::write(&kb, format!("{sample}{added}broken row without tabs\n")).unwrap();
    let r = reload(admin_key).await.unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    let line = sample.lines().count() + 2;
    assert!(body.contains(&format!(":{line}:")), "{body}");
    let a: Value = ask("what is your favourite colour")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["answers"][0]["id"], 99, "{a}");
}

#[tokio::test]
async fn serve_mode_is_off_by_default_and_needs_a_key_in_production() {
    let (url, _task) = serve_with(&[]).await;
    let r = bot_http::client()
        .post(format!(
            "{url}/language/:query-knowledgebases?projectName={PROJECT}&api-version=2021-10-01"
        ))
        .header("Ocp-Apim-Subscription-Key", KEY)
        .json(&json!({"question": "who built you"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "serve mode answered while off");

    // Production mode: serve mode without a key does not start.
    let production = |extra: &[(&str, &str)]| {
        let mut all = vec![
            ("BOT__BOT__MODE", "production"),
            ("BOT__QNA__SERVE", "true"),
        ];
        all.extend_from_slice(extra);
        Settings::load_from(&env(&all))
    };
    let e = production(&[]).expect_err("serve mode without a key started");
    let msg = e.to_string();
    assert!(msg.contains("qna.serve_key"), "{msg}");
    assert!(msg.contains("BOT__QNA__SERVE_KEY"), "{msg}");
    let s = production(&[("BOT__QNA__SERVE_KEY", KEY)]).unwrap();
    assert!(s.qna_serve && s.qna_serve_key.is_some());
}
