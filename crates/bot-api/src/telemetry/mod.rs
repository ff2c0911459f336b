//! Telemetry: logs (region on every line), OpenTelemetry traces and metrics
//! (OTLP over HTTP when `telemetry.otlp_endpoint` is set), the botbuilder
//! telemetry events, and their continuous export as NDJSON.
//!
//! Nothing here may block or fail a turn: exports run on background threads
//! and tasks with bounded queues, drops are counted, failures logged.

pub mod blob_sink;
pub mod event;
pub mod events;
pub mod export;
pub mod logs;
pub mod metrics;
pub mod observer;
pub mod otel;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::settings::{ExportTarget, Settings, TelemetrySettings};

pub use events::BotTelemetry;

/// `service.instance.id`: unique per process. App Service names its
/// instances; the pid and a random part keep restarts apart.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::env::var("WEBSITE_INSTANCE_ID")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_default();
        let host: String = host
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(16)
            .collect();
        let local = format!("{}-{:08x}", std::process::id(), fastrand::u32(..));
        if host.is_empty() {
            local
        } else {
            format!("{host}-{local}")
        }
    })
}

/// What `init` started; `shutdown` flushes it.
pub struct Telemetry {
    otel: Option<otel::Providers>,
}

/// Installs logging and, when configured, the OpenTelemetry providers as the
/// global tracer and meter. Call inside the tokio runtime, once.
pub fn init(settings: &Settings) -> Telemetry {
    let t = &settings.telemetry;
    let mut problem = None;
    let otlp = (!t.otlp_endpoint.is_empty()).then_some(t.otlp_endpoint.as_str());
    let app_insights = t.app_insights_connection_string.as_ref();
    let otel = if otlp.is_none() && app_insights.is_none() {
        None
    } else {
        let built = otel::ExportClient::new(tokio::runtime::Handle::current()).and_then(|c| {
            otel::Providers::build(
                otlp,
                app_insights,
                Duration::from_millis(t.export_interval_ms),
                otel::resource(&settings.region, instance_id()),
                c,
            )
        });
        match built {
            Ok(p) => Some(p),
            Err(e) => {
                // Telemetry is not worth refusing to serve over.
                problem = Some(format!("{e:#}"));
                None
            }
        }
    };
    let tracer = otel.as_ref().map(|p| {
        use opentelemetry::trace::TracerProvider;
        opentelemetry::global::set_tracer_provider(p.tracer.clone());
        opentelemetry::global::set_meter_provider(p.meter.clone());
        p.tracer.tracer("bot-api")
    });
    logs::init(&settings.log, &settings.region, tracer);
    if let Some(e) = problem {
        tracing::error!("OpenTelemetry export is off: {e}");
    } else if otel.is_some() {
        tracing::info!(
            otlp = otlp.unwrap_or("off"),
            azure_monitor = app_insights.is_some(),
            instance = instance_id(),
            "OpenTelemetry traces and metrics exported"
        );
    }
    Telemetry { otel }
}

impl Telemetry {
    /// Flushes spans and metrics (blocking work, moved off the runtime's
    /// workers).
    pub async fn shutdown(self) {
        if let Some(p) = self.otel {
            let _ = tokio::task::spawn_blocking(move || p.shutdown()).await;
        }
    }
}

/// The bot telemetry events and, per `telemetry.export_kind`, their
/// continuous export to local files or to the region's Blob container.
/// Starts a task: call inside the runtime.
pub fn bot_telemetry(t: &TelemetrySettings, region: &str) -> BotTelemetry {
    let sink: Option<Arc<dyn export::Sink>> = match &t.export {
        ExportTarget::Off => None,
        ExportTarget::Dir(dir) => {
            tracing::info!(dir = %dir.display(), "telemetry events exported to local files");
            Some(Arc::new(export::LocalDirSink::new(dir)))
        }
        ExportTarget::Blob(config) => match blob_sink::BlobSink::new(config) {
            Ok(sink) => {
                tracing::info!(
                    account = %config.account_url,
                    container = %config.container,
                    "telemetry events exported to Blob"
                );
                Some(Arc::new(sink))
            }
            Err(e) => {
                // Telemetry is not worth refusing to serve over.
                tracing::error!(error = %e, "telemetry export to Blob is off");
                None
            }
        },
    };
    let export = sink.map(|sink| {
        Arc::new(export::Exporter::start(
            sink,
            region.to_string(),
            instance_id().to_string(),
            export::ExportLimits {
                queue_max: t.export_queue_max,
                batch_max: t.export_batch_max,
                flush_every: Duration::from_millis(t.export_flush_ms),
            },
        ))
    });
    BotTelemetry::new(
        t.log_personal_information,
        region.to_string(),
        instance_id().to_string(),
        export,
    )
}

tokio::task_local! {
    static ACTIVITY_TYPE: std::cell::RefCell<Option<String>>;
}

/// Names the activity type of the turn in flight, for its span and metrics
/// (`turn_layer` records it on the `turn` span: the caller may be in a child).
pub fn note_activity_type(kind: &str) {
    let _ = ACTIVITY_TYPE.try_with(|t| *t.borrow_mut() = Some(kind.to_string()));
}

/// Middleware for `/api/messages`: one trace per turn, rooted in the `turn`
/// span, and the turn count and latency metrics by activity type and outcome.
pub async fn turn_layer(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "turn",
        otel.kind = "server",
        "activity.type" = tracing::field::Empty,
        "http.response.status_code" = tracing::field::Empty,
    );
    let started = Instant::now();
    let (response, kind) = ACTIVITY_TYPE
        .scope(std::cell::RefCell::new(None), async {
            let response = next.run(request).instrument(span.clone()).await;
            let kind = ACTIVITY_TYPE.with(|t| t.borrow_mut().take());
            (response, kind)
        })
        .await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if let Some(k) = &kind {
        span.record("activity.type", k.as_str());
    }
    let outcome = if status.is_success() {
        "ok"
    } else if status.is_client_error() {
        "rejected"
    } else {
        "failed"
    };
    metrics::metrics().turn(
        kind.as_deref().unwrap_or("unknown"),
        outcome,
        started.elapsed().as_secs_f64(),
    );
    response
}
