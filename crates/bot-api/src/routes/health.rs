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
    let report = app.readiness.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}
