//! Liveness and readiness, anonymous and cheap.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app_state::AppState;

/// Liveness: the process serves requests.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 when every regional dependency check passes, else 503.
/// HEAD gets the same status with no body (axum strips it).
pub async fn readyz(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(key) = &app.settings.health.probe_key {
        let given = headers
            .get("x-probe-key")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !super::keys::matches(given, key) {
            // Hidden, as if it did not exist.
            return StatusCode::NOT_FOUND.into_response();
        }
    }
    // A failing check's cause names endpoints and accounts: shown on a
    // laptop and to the operator's admin key, not to whoever can reach the
    // probe (its log line has it too).
    let admin = app.settings.auth.admin_key.as_ref().is_some_and(|key| {
        let given = headers
            .get(super::admin::ADMIN_KEY_HEADER)
            .map(|v| v.as_bytes());
        given.is_some_and(|g| super::keys::matches(g, key))
    });
    let report = app.readiness.report(app.settings.is_local_mode() || admin);
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}
