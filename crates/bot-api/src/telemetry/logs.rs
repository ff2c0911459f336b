//! Logging: `tracing` to stdout, human-readable or JSON, with the region on
//! every line; spans also go to OpenTelemetry when it is configured.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::settings::{LogFormat, LogSettings};

/// Wraps a formatter and stamps the region on each line: `region=X` in front
/// of text lines, a `"region"` member in JSON ones.
struct RegionFormat<F> {
    region: String,
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for RegionFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if !self.json {
            write!(writer, "region={} ", self.region)?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut buf = String::new();
        self.inner.format_event(ctx, Writer::new(&mut buf), event)?;
        match buf.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"region\":{},{rest}",
                serde_json::Value::String(self.region.clone())
            ),
            None => writer.write_str(&buf),
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides `log.level`. With a
/// tracer, this crate's spans are exported too (only ours: the exporter's own
/// HTTP client must not trace itself into a feedback loop).
pub fn init(log: &LogSettings, region: &str, tracer: Option<opentelemetry_sdk::trace::Tracer>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if log.format == LogFormat::Json {
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .fmt_fields(JsonFields::new())
            .event_format(RegionFormat::<Format<Json>> {
                region: region.to_string(),
                inner: Format::default().json(),
                json: true,
            })
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .event_format(RegionFormat {
                region: region.to_string(),
                inner: Format::default(),
                json: false,
            })
            .with_filter(filter)
            .boxed()
    };
    let otel = tracer.map(|t| {
        tracing_opentelemetry::layer().with_tracer(t).with_filter(
            tracing_subscriber::filter::filter_fn(|m| {
                // The service's spans and the turn's (bot-core), not the
                // libraries' own.
                (m.target().starts_with("bot_api") || m.target().starts_with("bot_core"))
                    && *m.level() <= tracing::Level::INFO
            }),
        )
    });
    // Already installed (tests start several apps in one process): keep it.
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init();
}
