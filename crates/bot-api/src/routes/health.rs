//! Liveness and readiness, anonymous and cheap.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::app_state::AppState;

/// Liveness: the process serves requests.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 when every regional dependency check passes, else 503.
/// HEAD gets the same status with no body (axum strips it).
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let report = app.readiness.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}
