//! Probe behaviour, in process: `/readyz` answers GET and HEAD from the
//! cached checks, so a burst of probes never reaches storage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bot_api::startup;
use bot_storage::{Change, MemoryStorage, Precondition, Storage, StorageError, StoreItem};
use tower::ServiceExt;

use crate::harness::settings;

/// Memory storage that counts every call, and can be switched off.
#[derive(Default)]
struct CountingStorage {
    inner: MemoryStorage,
    calls: AtomicU64,
    down: std::sync::atomic::AtomicBool,
    /// Writes refused, reads served: Cosmos's 403 WriteForbidden.
    writes_down: std::sync::atomic::AtomicBool,
    /// The preconditions of the writes it was asked for.
    preconditions: std::sync::Mutex<Vec<(String, Precondition)>>,
}

impl CountingStorage {
    fn touch(&self) -> Result<(), StorageError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable {
                backend: "counting",
                message: "switched off by the test".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for CountingStorage {
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, StoreItem>, StorageError> {
        self.touch()?;
        self.inner.read(keys).await
    }
    async fn write(&self, changes: Vec<Change>) -> Result<Vec<String>, StorageError> {
        self.touch()?;
        self.preconditions.lock().unwrap().extend(
            changes
                .iter()
                .map(|c| (c.key.clone(), c.precondition.clone())),
        );
        if self.writes_down.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable {
                backend: "counting",
                message: "writes forbidden by the test".into(),
            });
        }
        self.inner.write(changes).await
    }
    async fn delete(&self, keys: &[String]) -> Result<(), StorageError> {
        self.touch()?;
        self.inner.delete(keys).await
    }
    async fn ping(&self) -> Result<(), StorageError> {
        self.touch()
    }
    fn kind(&self) -> &'static str {
        "counting"
    }
}

async fn app_with(storage: Arc<CountingStorage>) -> (axum::Router, bot_api::AppState) {
    let s = settings::<&str>(&[]);
    let answerer = startup::open_answerer(&s.qna).unwrap();
    let state = startup::build_state_with(s, storage, answerer, None)
        .await
        .unwrap();
    (startup::app(state.clone()), state)
}

async fn probe(app: &axum::Router, method: Method) -> (StatusCode, Vec<u8>) {
    let resp = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri("/readyz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, body.to_vec())
}

#[tokio::test]
async fn ten_thousand_probes_do_not_touch_storage() {
    let storage = Arc::new(CountingStorage::default());
    let (app, _) = app_with(storage.clone()).await;
    let before = storage.calls.load(Ordering::SeqCst);
    for i in 0..10_000 {
        let method = if i % 2 == 0 {
            Method::GET
        } else {
            Method::HEAD
        };
        let (status, body) = probe(&app, method.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.is_empty(), method == Method::HEAD);
    }
    assert_eq!(storage.calls.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn readiness_follows_the_regional_dependency() {
    let storage = Arc::new(CountingStorage::default());
    let (app, state) = app_with(storage.clone()).await;
    assert_eq!(probe(&app, Method::GET).await.0, StatusCode::OK);
    storage.down.store(true, Ordering::SeqCst);
    // The cache answers until the background refresh runs...
    assert_eq!(probe(&app, Method::GET).await.0, StatusCode::OK);
    state.readiness.refresh().await;
    let (status, body) = probe(&app, Method::GET).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let storage_check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "storage")
        .unwrap();
    assert_eq!(storage_check["status"], "down");
    assert!(storage_check["lastError"]
        .as_str()
        .unwrap()
        .contains("switched off"));
    storage.down.store(false, Ordering::SeqCst);
    state.readiness.refresh().await;
    assert_eq!(probe(&app, Method::GET).await.0, StatusCode::OK);
    // Draining takes the region out of rotation whatever the checks say.
    state.drain.set(true);
    assert_eq!(
        probe(&app, Method::HEAD).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    state.drain.set(false);
    assert_eq!(probe(&app, Method::HEAD).await.0, StatusCode::OK);
}

/// A region that reads but cannot write leaves rotation: each refresh
/// writes the instance's own health document, conditionally, and a refused
/// write fails readiness while the read check still passes.
#[tokio::test]
async fn readiness_fails_when_writes_fail_and_reads_pass() {
    let storage = Arc::new(CountingStorage::default());
    let (app, state) = app_with(storage.clone()).await;
    state.readiness.refresh().await;
    assert_eq!(probe(&app, Method::GET).await.0, StatusCode::OK);
    let writes = storage.preconditions.lock().unwrap().clone();
    assert!(writes.len() >= 2, "{writes:?}");
    let key = &writes[0].0;
    assert!(key.starts_with("health/local/"), "{key}");
    assert!(writes.iter().all(|(k, _)| k == key), "{writes:?}");
    assert_eq!(writes[0].1, Precondition::IfNotExists);
    assert!(
        writes[1..]
            .iter()
            .all(|(_, p)| matches!(p, Precondition::IfMatch(_))),
        "{writes:?}"
    );

    storage.writes_down.store(true, Ordering::SeqCst);
    state.readiness.refresh().await;
    let (status, body) = probe(&app, Method::GET).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let check = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("storage")["status"], "up");
    assert_eq!(check("storageWrite")["status"], "down");
    assert!(check("storageWrite")["lastError"]
        .as_str()
        .unwrap()
        .contains("writes forbidden"));

    storage.writes_down.store(false, Ordering::SeqCst);
    state.readiness.refresh().await;
    assert_eq!(probe(&app, Method::GET).await.0, StatusCode::OK);
}

/// Planned failover by an operator: `/admin/drain` takes the region out of
/// rotation at once while it keeps serving turns; `/admin/undrain` brings it back.
#[tokio::test]
async fn admin_drain_and_undrain() {
    let key = "admin-key-for-drain-tests-0123456789";
    let s = settings(&[("BOT__AUTH__ADMIN_KEY", key)]);
    let answerer = startup::open_answerer(&s.qna).unwrap();
    let storage = Arc::new(CountingStorage::default());
    let state = startup::build_state_with(s, storage, answerer, None)
        .await
        .unwrap();
    let app = startup::app(state);
    let admin = |path: &str, with_key: bool| {
        let mut req = Request::builder().method(Method::POST).uri(path);
        if with_key {
            req = req.header("x-admin-key", key);
        }
        let app = app.clone();
        let req = req.body(Body::empty()).unwrap();
        async move { app.oneshot(req).await.unwrap().status() }
    };
    assert_eq!(admin("/admin/drain", false).await, StatusCode::UNAUTHORIZED);
    assert_eq!(probe(&app, Method::GET).await.0, StatusCode::OK);
    assert_eq!(admin("/admin/drain", true).await, StatusCode::OK);
    let (status, body) = probe(&app, Method::GET).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(report["draining"], true);
    // Still serving turns while drained.
    let activity = serde_json::json!({
        "type": "message", "id": "d1", "channelId": "test", "deliveryMode": "expectReplies",
        "conversation": {"id": "c-drain"}, "from": {"id": "u"}, "recipient": {"id": "b"},
        "text": "Hello",
    });
    let resp = app
        .clone()
        .oneshot(
            Request::post("/api/messages")
                .header("content-type", "application/json")
                .body(Body::from(activity.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(admin("/admin/undrain", true).await, StatusCode::OK);
    assert_eq!(probe(&app, Method::GET).await.0, StatusCode::OK);
}

/// In production the probe's report says which check fails but not its
/// cause (endpoints, accounts: it is in the region's log); the admin key
/// shows the cause.
#[tokio::test]
async fn a_production_probe_names_the_failing_check_and_hides_its_cause() {
    let key = "admin-key-for-probe-tests-0123456789";
    let s = settings(&[
        ("BOT__BOT__MODE", "production"),
        ("MicrosoftAppId", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ("MicrosoftAppPassword", "app-password-secret"),
        ("BOT__AUTH__ADMIN_KEY", key),
    ]);
    let answerer = startup::open_answerer(&s.qna).unwrap();
    let storage = Arc::new(CountingStorage::default());
    let state = startup::build_state_with(s, storage.clone(), answerer, None)
        .await
        .unwrap();
    let app = startup::app(state.clone());
    storage.down.store(true, Ordering::SeqCst);
    state.readiness.refresh().await;
    let ask = |admin: Option<&'static str>| {
        let mut req = Request::get("/readyz");
        if let Some(k) = admin {
            req = req.header("x-admin-key", k);
        }
        let app = app.clone();
        async move {
            let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let check = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "storage")
                .unwrap()
                .clone();
            (status, check)
        }
    };
    let (status, check) = ask(None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(check["status"], "down");
    assert_eq!(check["lastError"], bot_api::readiness::CAUSE_IN_LOG);
    let (_, check) = ask(Some("not-the-key")).await;
    assert_eq!(check["lastError"], bot_api::readiness::CAUSE_IN_LOG);
    let (status, check) = ask(Some(key)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        check["lastError"]
            .as_str()
            .unwrap()
            .contains("switched off"),
        "{check}"
    );
}
