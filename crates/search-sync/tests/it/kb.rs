//! Knowledge-base sync: CQA export -> import -> deploy -> verify against two
//! local Language stand-ins, and the embedded KB file copy.

use std::time::Duration;

use search_sync::exit;
use search_sync::kb_sync::{sync_cqa, sync_embedded, CqaProject, LanguageClient};
use search_sync::SyncError;

use crate::support::language_server::{FakeLanguage, KEY};
use crate::support::quick_retry;

fn lang(base: &str) -> LanguageClient {
    LanguageClient::new(base, KEY.to_string().into())
        .unwrap()
        .with_retry(quick_retry(3))
        .with_polling(Duration::from_millis(5), Duration::from_secs(10))
}

fn project() -> CqaProject {
    CqaProject {
        project: "faq".into(),
        deployment: "production".into(),
    }
}

fn qnas() -> Vec<(i64, String, String)> {
    (1..=30)
        .map(|i| (i, format!("question number {i}?"), format!("answer {i}")))
        .collect()
}

async fn primary_with_project() -> (FakeLanguage, String) {
    let p = FakeLanguage::default();
    let q = qnas();
    let refs: Vec<(i64, &str, &str)> = q
        .iter()
        .map(|(i, a, b)| (*i, a.as_str(), b.as_str()))
        .collect();
    p.add_project("faq", &refs);
    p.deploy_now("faq", "production");
    let url = p.start().await;
    (p, url)
}

#[tokio::test]
async fn cqa_export_import_deploy_verify() {
    let (primary, pu) = primary_with_project().await;
    let secondary = FakeLanguage::default();
    let su = secondary.start().await;

    let r = sync_cqa(&lang(&pu), &lang(&su), &project(), &project(), 10)
        .await
        .unwrap();
    assert_eq!(r.qnas, 30);
    assert_eq!((r.verify.sampled, r.verify.matched), (10, 10));
    assert!(r.verify.is_equal());
    assert_eq!(
        secondary.lock().projects["faq"],
        primary.lock().projects["faq"]
    );
    assert_eq!(
        secondary.lock().deployments[&("faq".to_string(), "production".to_string())].len(),
        30
    );
    // The jobs were followed: each was polled until it left "running".
    let log = primary.lock().log.clone();
    assert_eq!(log[0], "POST faq/:export");
    assert_eq!(
        log.iter().filter(|l| l.contains("/export/jobs/")).count(),
        2
    );
    let log = secondary.lock().log.clone();
    assert_eq!(log[0], "POST faq/:import");
    assert!(log.iter().any(|l| l == "PUT faq/deployments/production"));
}

#[tokio::test]
async fn verify_catches_a_primary_deployment_behind_its_project() {
    let (primary, pu) = primary_with_project().await;
    // The project was edited after its last deployment: QnA 7 answers elsewhere now.
    primary
        .lock()
        .deployments
        .get_mut(&("faq".to_string(), "production".to_string()))
        .unwrap()[6]["id"] = serde_json::json!(700);
    let secondary = FakeLanguage::default();
    let su = secondary.start().await;
    let r = sync_cqa(&lang(&pu), &lang(&su), &project(), &project(), 30)
        .await
        .unwrap();
    assert_eq!((r.verify.sampled, r.verify.matched), (30, 29));
    assert_eq!(r.verify.mismatches[0].question, "question number 7?");
    assert_eq!(
        (
            r.verify.mismatches[0].primary,
            r.verify.mismatches[0].secondary
        ),
        (Some(700), Some(7))
    );
    assert!(!r.verify.is_equal());
}

#[tokio::test]
async fn a_failed_import_job_is_a_typed_error() {
    let (_primary, pu) = primary_with_project().await;
    let secondary = FakeLanguage::default();
    secondary.lock().fail_import = Some("quota exceeded".into());
    let su = secondary.start().await;
    let err = sync_cqa(&lang(&pu), &lang(&su), &project(), &project(), 5)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Job { status, message, .. } if status == "failed" && message.contains("quota")),
        "{err}"
    );
    assert_eq!(err.exit_code(), exit::UNAVAILABLE);
    assert!(
        secondary.lock().deployments.is_empty(),
        "nothing deployed after a failed import"
    );
}

#[tokio::test]
async fn a_wrong_key_is_a_configuration_error() {
    let (_primary, pu) = primary_with_project().await;
    let bad = LanguageClient::new(&pu, "nope".to_string().into()).unwrap();
    let err = bad.export("faq").await.unwrap_err();
    assert!(matches!(err, SyncError::Http { status: 401, .. }), "{err}");
    assert_eq!(err.exit_code(), exit::INVALID);
}

const TSV: &str = "Question\tAnswer\tSource\tMetadata\nWho made you?\tA team.\tEditorial\t\nWhat can you do?\tAnswer questions.\tEditorial\t\nHow do I reset my password?\tUse the portal.\tEditorial\t\n";

#[tokio::test]
async fn embedded_kb_is_copied_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (
        dir.path().join("primary.tsv"),
        dir.path().join("secondary.tsv"),
    );
    std::fs::write(&from, TSV).unwrap();
    std::fs::write(&to, "Question\tAnswer\nold\tstale\n").unwrap();
    let r = sync_embedded(&from, &to, 10).await.unwrap();
    assert_eq!(std::fs::read_to_string(&to).unwrap(), TSV);
    assert_eq!((r.qnas, r.verify.sampled, r.verify.matched), (3, 3, 3));

    // A broken source never replaces a working target.
    std::fs::write(&from, "no header here\n").unwrap();
    let err = sync_embedded(&from, &to, 10).await.unwrap_err();
    assert_eq!(err.exit_code(), exit::INVALID);
    assert_eq!(std::fs::read_to_string(&to).unwrap(), TSV);
}
