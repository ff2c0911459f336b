//! Building the application from settings, and serving it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use bot_core::conversation_lock::ConversationLocks;
use bot_core::outbox::Outbox;
use bot_core::{Bot, Engine, TurnObserver};
use bot_storage::transcript::{BlobTranscriptStore, SqliteTranscriptStore};
use bot_storage::{
    BlobStorage, CachedStorage, CosmosStorage, MemoryStorage, SqliteStorage, Storage, StorageError,
    TranscriptStore,
};
use qna::{
    Answerer, CqaClient, EmbeddedAnswerer, EncoderSpec, QnaMakerClient, RemoteSettings,
    WithFallback,
};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app_state::AppState;
use crate::drain::Drain;
use crate::proactive::Proactive;
use crate::readiness::{
    ChannelAuthCheck, HealthCheck, KnowledgeBaseCheck, Readiness, StorageCheck, StorageWriteCheck,
};
use crate::routes::{admin, cqa, health, messages};
use crate::security;
use crate::settings::{QnaKind, RemoteQna, Settings, StorageKind, TranscriptKind};
use crate::telemetry;
use crate::transcripts::TranscriptLogger;

/// How long opening a remote store is retried while it is unavailable
/// (timeouts, refused connections, 5xx): a store that blinks while an
/// instance starts should not make the instance exit and restart.
/// Misconfiguration (auth, a missing container) still fails at once.
const OPEN_RETRY_FOR: Duration = Duration::from_secs(30);

async fn retry_unavailable<T, F, Fut>(what: &str, mut open: F) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StorageError>>,
{
    let until = tokio::time::Instant::now() + OPEN_RETRY_FOR;
    let mut pause = Duration::from_millis(250);
    loop {
        match open().await {
            Err(e @ StorageError::Unavailable { .. })
                if tokio::time::Instant::now() + pause < until =>
            {
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "{what} is unavailable; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(4));
            }
            other => return other,
        }
    }
}

pub async fn open_storage(kind: &StorageKind) -> anyhow::Result<Arc<dyn Storage>> {
    Ok(match kind {
        StorageKind::Memory => Arc::new(MemoryStorage::new()),
        StorageKind::Sqlite { path } => Arc::new(
            SqliteStorage::open(path)
                .with_context(|| format!("opening SQLite state at {}", path.display()))?,
        ),
        StorageKind::Cosmos(c) => Arc::new(
            match retry_unavailable("Cosmos DB state", || CosmosStorage::open(c)).await {
                Ok(s) => s,
                // The service never creates them in production: say which
                // setting names them.
                Err(e @ StorageError::NotProvisioned { .. }) => anyhow::bail!(
                    "{e}: infra creates the database and container (the service's identity \
                     may not); check storage.cosmos.database and storage.cosmos.container \
                     (BOT__STORAGE__COSMOS__DATABASE, BOT__STORAGE__COSMOS__CONTAINER)"
                ),
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "opening Cosmos DB state at {} (database {}, container {})",
                            c.endpoint, c.database, c.container
                        )
                    })
                }
            },
        ),
        StorageKind::Blob(b) => Arc::new(
            retry_unavailable("Blob state", || BlobStorage::open(b))
                .await
                .with_context(|| {
                    format!(
                        "opening Blob state at {} (container {})",
                        b.account_url, b.container
                    )
                })?,
        ),
    })
}

/// The transcript store the settings name, if transcripts are on.
pub async fn open_transcripts(
    kind: &TranscriptKind,
) -> anyhow::Result<Option<Arc<dyn TranscriptStore>>> {
    Ok(match kind {
        TranscriptKind::Off => None,
        TranscriptKind::Sqlite { path } => Some(Arc::new(
            SqliteTranscriptStore::open(path)
                .with_context(|| format!("opening SQLite transcripts at {}", path.display()))?,
        )),
        TranscriptKind::Blob(b) => Some(Arc::new(match BlobTranscriptStore::open(b).await {
            Ok(store) => store,
            // Transcripts are best-effort in a turn (a failed write is
            // logged and counted, the turn goes on), so a Blob account that
            // does not answer must not keep the region down: in the DR
            // runbook's failback a region waited 30 s for a stalled Azurite
            // and exited. It starts, and checks the container again in the
            // background (creating it if missing) until the account answers.
            Err(e @ StorageError::Unavailable { .. }) => {
                tracing::warn!(error = %e, account = %b.account_url, container = %b.container,
                    "Blob transcripts do not answer; starting, and their writes fail until they do");
                tokio::spawn(check_transcripts_until_they_answer(b.clone()));
                BlobTranscriptStore::unchecked(b)?
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "opening Blob transcripts at {} (container {})",
                        b.account_url, b.container
                    )
                })
            }
        })),
    })
}

/// Opens the Blob transcript container (creating it if missing) until the
/// account answers, for a start that went on without it.
async fn check_transcripts_until_they_answer(config: bot_storage::BlobConfig) {
    let mut pause = Duration::from_millis(500);
    loop {
        tokio::time::sleep(pause).await;
        match BlobTranscriptStore::open(&config).await {
            Ok(_) => {
                tracing::info!(container = %config.container, "Blob transcripts answer again");
                return;
            }
            Err(StorageError::Unavailable { .. }) => {
                pause = (pause * 2).min(Duration::from_secs(8))
            }
            Err(e) => {
                tracing::error!(error = %e, container = %config.container,
                    "Blob transcripts answer but refuse: transcript writes will keep failing");
                return;
            }
        }
    }
}

fn open_embedded(
    kb_path: &std::path::Path,
    cache_dir: Option<&std::path::Path>,
    encoder: Option<&EncoderSpec>,
) -> anyhow::Result<Arc<EmbeddedAnswerer>> {
    let encoder = match encoder {
        Some(spec) => {
            let encoder = spec.load().with_context(|| {
                format!("loading the sentence encoder in {}", spec.dir.display())
            })?;
            tracing::info!(
                dir = %spec.dir.display(),
                dims = encoder.dims(),
                layers = encoder.layers(),
                weight_bytes = encoder.weight_bytes(),
                "sentence encoder loaded"
            );
            Some(Arc::new(encoder))
        }
        None => None,
    };
    let answerer = EmbeddedAnswerer::open_encoded(kb_path, cache_dir, encoder)
        .with_context(|| format!("loading the knowledge base {}", kb_path.display()))?;
    let index = answerer.index();
    tracing::info!(
        path = %kb_path.display(),
        answers = index.kb().qnas.len(),
        questions = index.kb().question_count(),
        build_ms = index.build_time().as_millis() as u64,
        model = ?index.build_times().source,
        "knowledge base loaded"
    );
    Ok(Arc::new(answerer))
}

fn with_fallback(
    remote: &RemoteQna,
    primary: Arc<dyn Answerer>,
) -> anyhow::Result<Arc<dyn Answerer>> {
    Ok(match &remote.fallback_kb {
        Some(path) => Arc::new(WithFallback::new(
            primary,
            open_embedded(
                path,
                remote.kb_cache_dir.as_deref(),
                remote.kb_encoder.as_ref(),
            )?,
        )),
        None => primary,
    })
}

fn remote_settings(remote: &RemoteQna) -> RemoteSettings {
    RemoteSettings {
        endpoints: remote.endpoints.clone(),
        key: remote.key.clone(),
        endpoint_keys: remote.endpoint_keys.clone(),
        policy: remote.policy.clone(),
    }
}

/// The answerer the settings name. The embedded KB watches its file and
/// swaps in a new index on change (needs a Tokio runtime).
pub fn open_answerer(kind: &QnaKind) -> anyhow::Result<Arc<dyn Answerer>> {
    Ok(match kind {
        QnaKind::Embedded {
            kb_path,
            reload_interval_ms,
            cache_dir,
            encoder,
        } => {
            let answerer = open_embedded(kb_path, cache_dir.as_deref(), encoder.as_ref())?;
            if *reload_interval_ms > 0 && tokio::runtime::Handle::try_current().is_ok() {
                answerer.watch(Duration::from_millis(*reload_interval_ms));
            }
            answerer
        }
        QnaKind::Cqa {
            remote,
            project,
            deployment,
        } => with_fallback(
            remote,
            Arc::new(CqaClient::new(
                remote_settings(remote),
                project.clone(),
                deployment.clone(),
            )?),
        )?,
        QnaKind::QnaMaker { remote, kb_id } => with_fallback(
            remote,
            Arc::new(QnaMakerClient::new(remote_settings(remote), kb_id.clone())?),
        )?,
    })
}

/// Opens the dependencies the settings name and runs the first readiness check.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    if settings.app.app_id.is_none() && !settings.is_local_mode() {
        anyhow::bail!(
            "bot.mode is production but no MicrosoftAppId is configured: a production region never runs with auth off"
        );
    }
    let backend = open_storage(&settings.storage).await?;
    let storage: Arc<dyn Storage> = match settings.storage_cache_entries {
        0 => backend.clone(),
        n => Arc::new(CachedStorage::new(backend.clone(), n)),
    };
    let transcripts = open_transcripts(&settings.transcripts)
        .await?
        .map(|t| Arc::new(TranscriptLogger::new(t)));
    let answerer = open_answerer(&settings.qna)?;
    build_state_inner(settings, backend, storage, answerer, transcripts).await
}

/// The application around dependencies that are already open (tests use it
/// to hand in instrumented ones).
pub async fn build_state_with(
    settings: Settings,
    storage: Arc<dyn Storage>,
    answerer: Arc<dyn Answerer>,
    transcripts: Option<Arc<TranscriptLogger>>,
) -> anyhow::Result<AppState> {
    build_state_inner(settings, storage.clone(), storage, answerer, transcripts).await
}

/// `backend` is `storage` without the read cache.
async fn build_state_inner(
    settings: Settings,
    backend: Arc<dyn Storage>,
    storage: Arc<dyn Storage>,
    answerer: Arc<dyn Answerer>,
    transcripts: Option<Arc<TranscriptLogger>>,
) -> anyhow::Result<AppState> {
    let http = security::http_client()?;
    let service_urls = security::service_urls(&settings)?;
    let mut checks: Vec<Arc<dyn HealthCheck>> = vec![
        Arc::new(StorageCheck(storage.clone())),
        Arc::new(StorageWriteCheck::new(
            storage.clone(),
            &settings.region,
            telemetry::instance_id(),
        )),
        Arc::new(KnowledgeBaseCheck(answerer.clone())),
    ];
    let auth = match settings.app.app_id.as_deref() {
        Some(app_id) => {
            let validator = security::validator(&settings, app_id, &http)?;
            checks.push(Arc::new(ChannelAuthCheck(validator.clone())));
            tracing::info!(
                app_id,
                app_type = settings.app.app_type.name(),
                "channel authentication on: every activity needs a Bot Framework token"
            );
            Some(validator)
        }
        None => {
            tracing::warn!(
                "AUTH IS OFF: local mode with no MicrosoftAppId; do not expose this port"
            );
            None
        }
    };
    let connector = security::connector(&settings, &http, &service_urls)?;
    if settings.auth.admin_key.is_none() {
        tracing::info!("no auth.admin_key configured: /admin routes are off");
    }
    let drain = Arc::new(Drain::new());
    let readiness = Arc::new(Readiness::new(
        settings.region.clone(),
        checks,
        Duration::from_millis(settings.health.check_timeout_ms),
        drain.clone(),
    ));
    // A failing key fetch is reported by readiness; the process still starts.
    readiness.refresh().await;
    let dispatcher = crate::intents::open(&settings.lu, &http)?;
    telemetry::metrics::register_gauges(readiness.clone(), drain.clone());
    let events = Arc::new(telemetry::bot_telemetry(
        &settings.telemetry,
        &settings.region,
    ));
    let observer: Arc<dyn TurnObserver> = Arc::new(telemetry::observer::Observer(events.clone()));
    let bot = Arc::new(
        Bot::new(
            answerer,
            settings
                .bot
                .config(settings.telemetry.log_personal_information),
            settings.region.clone(),
        )
        .with_observer(observer.clone(), knowledge_base_id(&settings.qna))
        .with_dispatcher(dispatcher),
    );
    let engine = Arc::new(Engine {
        storage,
        bot,
        connector: connector.clone(),
        outbox: Outbox::new(
            settings.replies.policy(),
            Duration::from_millis(settings.replies.background_for_ms),
            settings.replies.max_background,
            &settings.region,
        ),
        locks: Arc::new(ConversationLocks::new()),
        max_turn_attempts: settings.bot.max_turn_attempts,
        observer,
        typing_after: settings.bot.typing_after(),
    });
    let proactive = Arc::new(Proactive {
        storage: backend,
        connector,
        service_urls: service_urls.clone(),
        policy: settings.replies.policy(),
    });
    Ok(AppState {
        settings: Arc::new(settings),
        engine,
        proactive,
        readiness,
        drain,
        auth,
        service_urls,
        telemetry: events,
        transcripts,
    })
}

/// What the QnaMessage event names as `knowledgeBaseId`.
fn knowledge_base_id(qna: &QnaKind) -> String {
    match qna {
        QnaKind::Embedded { kb_path, .. } => kb_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "embedded".into()),
        QnaKind::Cqa {
            project,
            deployment,
            ..
        } => format!("{project}/{deployment}"),
        QnaKind::QnaMaker { kb_id, .. } => kb_id.clone(),
    }
}

/// The router: the channel endpoint, the probes and (when an admin key is
/// configured) the admin routes, with the region header on every response.
pub fn app(state: AppState) -> Router {
    let region = HeaderValue::from_str(&state.settings.region)
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    let limit = state.settings.server.max_body_bytes;
    // Local mode only: Direct Line and the Web Chat page (empty otherwise).
    let directline = crate::directline::router(&state);
    // CQA's path has a literal ':' segment, which axum 0.8 would take for
    // 0.7 capture syntax without this.
    let mut router = Router::new().without_v07_checks();
    if let Some(key) = state.settings.auth.admin_key.clone() {
        router = router.nest("/admin", admin::router(key));
    }
    // Serve mode is opt-in: unmounted, the path is a plain 404.
    if state.settings.qna_serve {
        router = router.route(
            "/language/:query-knowledgebases",
            post(cqa::query_knowledgebases).layer(DefaultBodyLimit::max(limit)),
        );
    }
    router
        .route(
            "/api/messages",
            post(messages::post)
                .layer(DefaultBodyLimit::max(limit))
                .layer(axum::middleware::from_fn(telemetry::turn_layer)),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
        .merge(directline)
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-bot-region"),
            region,
        ))
}

/// Binds and serves. Ctrl-C stops at once (after turns in flight); SIGTERM,
/// as App Service sends it, drains first: readiness turns 503 so the router
/// moves traffic, every request that still arrives is served until the drain
/// timeout, then the process exits cleanly.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let drain_for = Duration::from_millis(settings.server.drain_timeout_ms);
    let interval = Duration::from_millis(settings.health.interval_ms);
    let state = build_state(settings).await?;
    let refresher = state.readiness.spawn(interval);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding server.listen {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "listening; POST activities to http://{address}/api/messages");
    // What only the start ran (settings, the KB's and the intent model's
    // build, opening the stores) need not stay resident.
    let released_kb = heap::release_startup_code();
    tracing::debug!(released_kb, "start-up code released");
    let drain = state.drain.clone();
    let events = state.telemetry.clone();
    let engine = state.engine.clone();
    let transcripts = state.transcripts.clone();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    });
    let mut server = std::pin::pin!(std::future::IntoFuture::into_future(server));
    tokio::select! {
        r = &mut server => r?,
        signal = shutdown_signal() => {
            if signal == Signal::Term {
                drain.set(true);
                tracing::info!(drain_ms = drain_for.as_millis() as u64, "SIGTERM: draining, still serving");
                tokio::select! {
                    r = &mut server => return r.map_err(Into::into),
                    _ = tokio::time::sleep(drain_for) => {}
                }
            }
            tracing::info!("shutting down: finishing turns in flight");
            let _ = stop_tx.send(true);
            if tokio::time::timeout(Duration::from_secs(10), &mut server).await.is_err() {
                tracing::warn!("turns still in flight after 10 s; exiting");
            }
        }
    }
    refresher.abort();
    engine.outbox.settle(Duration::from_secs(5)).await;
    if let Some(t) = transcripts {
        if !t.flush(Duration::from_secs(5)).await {
            tracing::warn!("transcript entries still unwritten after 5 s; exiting");
        }
    }
    if let Some(export) = events.export() {
        export.shutdown().await;
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Term,
}

async fn shutdown_signal() -> Signal {
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
    tokio::select! {
        _ = ctrl_c => Signal::Interrupt,
        _ = term => Signal::Term,
    }
}
