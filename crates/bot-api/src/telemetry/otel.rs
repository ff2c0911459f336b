//! OpenTelemetry: the resource every span and metric carries, and the OTLP
//! HTTP/protobuf export of traces and metrics.
//!
//! The SDK's batch span processor and periodic metric reader run on their own
//! threads with bounded queues (spans beyond the queue are dropped and counted
//! by the SDK), so a slow or dead collector never holds up a turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry::KeyValue;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use secrecy::{ExposeSecret, SecretString};

pub const SERVICE_NAME: &str = "bot-api";

/// `service.name`, `service.instance.id` and `cloud.region` (the BOT_REGION).
pub fn resource(region: &str, instance_id: &str) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", SERVICE_NAME),
            KeyValue::new("service.instance.id", instance_id.to_string()),
            KeyValue::new("cloud.region", region.to_string()),
            KeyValue::new("cloud.provider", "azure"),
        ])
        .build()
}

/// The installed providers; shut them down to flush before exit.
pub struct Providers {
    pub tracer: SdkTracerProvider,
    pub meter: SdkMeterProvider,
}

impl Providers {
    /// Traces and metrics to each configured destination: OTLP over HTTP to
    /// `{base}/v1/traces` and `{base}/v1/metrics`, and/or Azure Monitor
    /// (Application Insights) from its connection string.
    pub fn build(
        otlp_base: Option<&str>,
        app_insights: Option<&SecretString>,
        interval: Duration,
        resource: Resource,
        client: ExportClient,
    ) -> anyhow::Result<Self> {
        let batch = || {
            BatchConfigBuilder::default()
                .with_scheduled_delay(interval)
                .with_max_queue_size(4096)
                .build()
        };
        let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
        let mut meter = SdkMeterProvider::builder().with_resource(resource);
        if let Some(base) = otlp_base {
            let base = base.trim_end_matches('/');
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client.clone())
                .with_endpoint(format!("{base}/v1/traces"))
                .with_timeout(Duration::from_secs(10))
                .build()
                .context("building the OTLP span exporter (telemetry.otlp_endpoint)")?;
            let metrics = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_http_client(client.clone())
                .with_endpoint(format!("{base}/v1/metrics"))
                .with_timeout(Duration::from_secs(10))
                .build()
                .context("building the OTLP metric exporter (telemetry.otlp_endpoint)")?;
            tracer = tracer.with_span_processor(
                BatchSpanProcessor::builder(spans)
                    .with_batch_config(batch())
                    .build(),
            );
            meter = meter.with_reader(
                PeriodicReader::builder(metrics)
                    .with_interval(interval)
                    .build(),
            );
        }
        if let Some(conn) = app_insights {
            // Its parse errors name what is wrong, never the key itself.
            let new = || {
                opentelemetry_application_insights::Exporter::new_from_connection_string(
                    conn.expose_secret(),
                    client.clone(),
                )
                .map_err(|e| anyhow::anyhow!("APPLICATIONINSIGHTS_CONNECTION_STRING: {e}"))
            };
            tracer = tracer.with_span_processor(
                BatchSpanProcessor::builder(new()?)
                    .with_batch_config(batch())
                    .build(),
            );
            meter = meter.with_reader(
                PeriodicReader::builder(new()?)
                    .with_interval(interval)
                    .build(),
            );
        }
        Ok(Self {
            tracer: tracer.build(),
            meter: meter.build(),
        })
    }

    /// Flushes and stops both; blocking, so it runs off the async workers.
    pub fn shutdown(&self) {
        if let Err(e) = self.tracer.shutdown() {
            tracing::warn!(error = %e, "flushing spans at shutdown failed");
        }
        if let Err(e) = self.meter.shutdown() {
            tracing::warn!(error = %e, "flushing metrics at shutdown failed");
        }
    }
}

/// The exporters' HTTP client: our reqwest client driven on the
/// application's tokio runtime (the SDK's export threads have no reactor of
/// their own). Failures are logged at most once a minute, with a count.
#[derive(Clone)]
pub struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    failures: std::sync::Arc<RateLimited>,
}

impl std::fmt::Debug for ExportClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExportClient")
    }
}

impl ExportClient {
    pub fn new(runtime: tokio::runtime::Handle) -> anyhow::Result<Self> {
        Ok(Self {
            client: bot_http::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("building the telemetry HTTP client")?,
            runtime,
            failures: std::sync::Arc::new(RateLimited::new(Duration::from_secs(60))),
        })
    }
}

#[async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body);
        // Sent from inside the runtime: reqwest needs its reactor and timers.
        let result = self
            .runtime
            .spawn(async move {
                let resp = request.send().await?;
                let mut out = Response::builder().status(resp.status());
                if let Some(h) = out.headers_mut() {
                    *h = resp.headers().clone();
                }
                let body = resp.bytes().await?;
                Ok::<_, HttpError>(out.body(body)?)
            })
            .await
            .map_err(HttpError::from)
            .and_then(|r| r);
        let failure = match &result {
            Ok(r) if !r.status().is_success() => Some(format!("HTTP {}", r.status())),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = failure {
            self.failures.note(|suppressed| {
                tracing::warn!(
                    %error,
                    suppressed,
                    "telemetry export failed (telemetry is dropped; turns are not affected)"
                )
            });
        }
        result
    }
}

/// Calls `log` at most once per period, with how many were suppressed since.
pub struct RateLimited {
    period: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl RateLimited {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Returns whether `log` ran.
    pub fn note(&self, log: impl FnOnce(u64)) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= self.period);
        if due {
            *last = Some(Instant::now());
            drop(last);
            log(self.suppressed.swap(0, Ordering::Relaxed));
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_logs_once_per_period_and_counts_the_rest() {
        let r = RateLimited::new(Duration::from_secs(3600));
        let mut seen = Vec::new();
        assert!(r.note(|n| seen.push(n)));
        assert!(!r.note(|n| seen.push(n)));
        assert!(!r.note(|n| seen.push(n)));
        assert_eq!(seen, vec![0]);
        assert_eq!(r.suppressed.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn resource_names_region_service_and_instance() {
        let r = resource("westeurope", "i-1");
        let get = |k: &'static str| r.get(&opentelemetry::Key::from_static_str(k));
        assert_eq!(
            get("cloud.region").map(|v| v.to_string()).as_deref(),
            Some("westeurope")
        );
        assert_eq!(
            get("service.name").map(|v| v.to_string()).as_deref(),
            Some("bot-api")
        );
        assert_eq!(
            get("service.instance.id").map(|v| v.to_string()).as_deref(),
            Some("i-1")
        );
    }
}
