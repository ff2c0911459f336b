//! What every in-process test needs: local settings, the application over
//! in-memory state, a POST through the router, a loopback server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use bot_api::{startup, AppState, Settings};
use serde_json::Value;
use tower::ServiceExt;

/// The repository root (config/, kb/).
pub fn root() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../..")
}

/// The local defaults the tests start from (the repository's config, the
/// sample KB, state in memory), with `extra` replacing or adding settings.
pub fn env<V: AsRef<str>>(extra: &[(&str, V)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("BOT_CONFIG_DIR".to_string(), format!("{}/config", root())),
        (
            "BOT__QNA__KB_PATH".to_string(),
            format!("{}/kb/sample.tsv", root()),
        ),
        ("BOT__STORAGE__KIND".to_string(), "memory".to_string()),
    ];
    for (k, v) in extra {
        env.retain(|(n, _)| n != k);
        env.push((k.to_string(), v.as_ref().to_string()));
    }
    env
}

/// `env(extra)` loaded as the binary loads its settings.
pub fn settings<V: AsRef<str>>(extra: &[(&str, V)]) -> Settings {
    Settings::load_from(&env(extra)).expect("settings")
}

/// The application over in-memory state, with the answerer the settings name.
pub async fn in_memory(settings: Settings) -> AppState {
    let answerer = startup::open_answerer(&settings.qna).unwrap();
    let storage = Arc::new(bot_storage::MemoryStorage::new());
    startup::build_state_with(settings, storage, answerer, None)
        .await
        .unwrap()
}

/// The application on a free loopback port, for clients that speak HTTP
/// (replies to a serviceUrl on that port come back to it, as from a channel).
pub async fn serve(state: AppState) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let app = startup::app(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

/// One request through the router: the status and the body as JSON (`Null`
/// when the body is not JSON).
pub async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(request).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// POSTs an activity to `/api/messages`, with `Authorization` when given.
pub async fn post_activity(
    app: &Router,
    auth: Option<&str>,
    activity: &Value,
) -> (StatusCode, Value) {
    let mut req = Request::post("/api/messages").header("content-type", "application/json");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    call(app, req.body(Body::from(activity.to_string())).unwrap()).await
}
