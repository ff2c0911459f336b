//! Building the application from settings, and serving it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use bot_schema::{ConnectorClient, NoCredentials};
use bot_storage::{MemoryStorage, SqliteStorage, Storage};
use qna::{Answerer, NormalizedMatchAnswerer};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app_state::AppState;
use crate::bot::Bot;
use crate::readiness::Readiness;
use crate::routes::{health, messages};
use crate::settings::{QnaKind, Settings, StorageKind};

pub fn open_storage(kind: &StorageKind) -> anyhow::Result<Arc<dyn Storage>> {
    Ok(match kind {
        StorageKind::Memory => Arc::new(MemoryStorage::new()),
        StorageKind::Sqlite { path } => Arc::new(
            SqliteStorage::open(path)
                .with_context(|| format!("opening SQLite state at {}", path.display()))?,
        ),
    })
}

pub fn open_answerer(kind: &QnaKind) -> anyhow::Result<Arc<dyn Answerer>> {
    Ok(match kind {
        QnaKind::Embedded { kb_path } => {
            let kb = qna::import::load_path(kb_path)?;
            tracing::info!(
                path = %kb_path.display(),
                answers = kb.qnas.len(),
                questions = kb.question_count(),
                "knowledge base loaded"
            );
            Arc::new(NormalizedMatchAnswerer::new(kb))
        }
    })
}

/// Opens the dependencies the settings name and runs the first readiness check.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    if settings.app.app_id.is_some() {
        anyhow::bail!(
            "MicrosoftAppId is set, but this build cannot validate Bot Framework tokens yet; \
             refusing to serve channel traffic unauthenticated"
        );
    }
    if !settings.is_local_mode() {
        anyhow::bail!(
            "bot.mode is {:?} but no MicrosoftAppId is configured: a production region never runs with auth off",
            settings.bot.mode
        );
    }
    tracing::warn!("AUTH IS OFF: local mode with no MicrosoftAppId; do not expose this port");
    let storage = open_storage(&settings.storage)?;
    let answerer = open_answerer(&settings.qna)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .context("building the HTTP client")?;
    let readiness = Arc::new(Readiness::new(
        settings.region.clone(),
        storage.clone(),
        answerer.clone(),
    ));
    readiness.refresh().await;
    let dispatcher = crate::dispatch::open(&settings.lu, &http)?;
    let bot = Arc::new(
        Bot::new(answerer, settings.bot.clone(), settings.region.clone())
            .with_dispatcher(dispatcher),
    );
    Ok(AppState {
        settings: Arc::new(settings),
        storage,
        bot,
        connector: ConnectorClient::new(http, Arc::new(NoCredentials)),
        readiness,
    })
}

/// The router: the channel endpoint and the probes, with the region header
/// on every response.
pub fn app(state: AppState) -> Router {
    let region = HeaderValue::from_str(&state.settings.region)
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    let limit = state.settings.server.max_body_bytes;
    Router::new()
        .route(
            "/api/messages",
            post(messages::post).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-bot-region"),
            region,
        ))
}

/// Binds, serves until SIGTERM or Ctrl-C, then lets turns in flight finish.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let drain = Duration::from_millis(settings.server.drain_timeout_ms);
    let interval = Duration::from_millis(settings.health.interval_ms);
    let state = build_state(settings).await?;
    let refresher = state.readiness.spawn(interval);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding server.listen {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "listening; POST activities to http://{address}/api/messages");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        let mut rx = stop_rx;
        let _ = rx.wait_for(|s| *s).await;
    });
    let mut server = std::pin::pin!(std::future::IntoFuture::into_future(server));
    tokio::select! {
        r = &mut server => r?,
        _ = shutdown_signal() => {
            tracing::info!(timeout_ms = drain.as_millis() as u64, "shutting down: finishing turns in flight");
            let _ = stop_tx.send(true);
            if tokio::time::timeout(drain, &mut server).await.is_err() {
                tracing::warn!("drain timeout reached; exiting with turns still in flight");
            }
        }
    }
    refresher.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
