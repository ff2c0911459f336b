//! Operator endpoints under `/admin`, on their own router with their own key
//! (`X-Admin-Key`, from `auth.admin_key`). A channel token never opens them:
//! only the admin key is looked at. Without a configured key the router is
//! not mounted at all, so `/admin/...` answers 404.

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::app_state::AppState;
use crate::error::ApiError;

pub const ADMIN_KEY_HEADER: &str = "x-admin-key";

pub fn router(key: SecretString) -> Router<AppState> {
    Router::new()
        .route("/config", get(config))
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
    // Constant time, so the key cannot be guessed byte by byte from timing.
    if bool::from(given.ct_eq(key.expose_secret().as_bytes())) {
        Ok(next.run(req).await)
    } else {
        Err(ApiError::AdminUnauthorized)
    }
}

/// `GET /admin/config`: the effective settings, secrets redacted.
async fn config(State(app): State<AppState>) -> impl IntoResponse {
    Json(app.settings.redacted())
}
