//! Operator endpoints under `/admin`, on their own router with their own key
//! (`X-Admin-Key`, from `auth.admin_key`). A channel token never opens them:
//! only the admin key is looked at. Without a configured key the router is
//! not mounted at all, so `/admin/...` answers 404.

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;

use crate::app_state::AppState;
use crate::error::ApiError;
use crate::routes::conversations;

pub const ADMIN_KEY_HEADER: &str = "x-admin-key";

pub fn router(key: SecretString) -> Router<AppState> {
    Router::new()
        .route("/config", get(config))
        .route("/drain", post(drain))
        .route("/undrain", post(undrain))
        .route("/kb/reload", post(kb_reload))
        .route(
            "/conversations/{channel_id}/{conversation_id}/activities",
            post(conversations::send),
        )
        .route("/handoffs", get(conversations::handoffs))
        .route(
            "/handoffs/{channel_id}/{conversation_id}/close",
            post(conversations::close_handoff),
        )
        .layer(middleware::from_fn_with_state(key, require_key))
}

async fn require_key(
    State(key): State<SecretString>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(ADMIN_KEY_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if super::keys::matches(given, &key) {
        Ok(next.run(req).await)
    } else {
        Err(ApiError::AdminUnauthorized)
    }
}

/// `GET /admin/config`: the effective settings, secrets redacted.
async fn config(State(app): State<AppState>) -> impl IntoResponse {
    Json(app.settings.redacted())
}

/// `POST /admin/drain`: planned failover. Readiness answers 503 at once so
/// the traffic router moves traffic away; every request that still arrives
/// is served. The process keeps running (SIGTERM is what ends it).
async fn drain(State(app): State<AppState>) -> impl IntoResponse {
    let changed = app.drain.set(true);
    Json(serde_json::json!({"draining": true, "changed": changed}))
}

/// `POST /admin/undrain`: back into rotation.
async fn undrain(State(app): State<AppState>) -> impl IntoResponse {
    let changed = app.drain.set(false);
    Json(serde_json::json!({"draining": false, "changed": changed}))
}

/// `POST /admin/kb/reload`: re-read the embedded KB file now (it is also
/// watched). The new index is built beside the old one and swapped in; a
/// file that does not load leaves the old KB serving and answers 422 with
/// the line at fault.
async fn kb_reload(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let summary = app.bot().answerer().reload().await?;
    tracing::info!(
        answers = summary.answers,
        questions = summary.questions,
        "knowledge base reloaded by an admin call"
    );
    Ok(Json(summary))
}
