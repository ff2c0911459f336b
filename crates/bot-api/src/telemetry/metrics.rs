//! The service's metrics, through the OpenTelemetry metrics API. Without an
//! exporter configured the global meter is a no-op and these cost next to
//! nothing.

use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};
use opentelemetry::KeyValue;

use crate::drain::Drain;
use crate::readiness::Readiness;

pub struct Metrics {
    turns: Counter<u64>,
    turn_duration: Histogram<f64>,
    etag_conflicts: Counter<u64>,
    answers: Counter<u64>,
    unanswered: Counter<u64>,
    export_dropped: Counter<u64>,
    replies: Counter<u64>,
}

/// The instruments, made on first use from the global meter provider (which
/// `telemetry::init` installs before anything records).
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = opentelemetry::global::meter("bot-api");
        Metrics {
            turns: m
                .u64_counter("bot.turns")
                .with_description("Activities handled on /api/messages, by type and outcome")
                .build(),
            turn_duration: m
                .f64_histogram("bot.turn.duration")
                .with_unit("s")
                .with_description("Time to handle one activity on /api/messages")
                .with_boundaries(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .build(),
            etag_conflicts: m
                .u64_counter("bot.state.etag_conflicts")
                .with_description("State writes refused for a stale eTag, each retried")
                .build(),
            answers: m
                .u64_counter("bot.qna.answers")
                .with_description("Questions answered, by backend and endpoint")
                .build(),
            unanswered: m
                .u64_counter("bot.qna.unanswered")
                .with_description("Questions below the confidence threshold (fallback sent)")
                .build(),
            export_dropped: m
                .u64_counter("bot.telemetry.export.dropped")
                .with_description("Telemetry events dropped by the continuous export")
                .build(),
            replies: m
                .u64_counter("bot.replies.undelivered")
                .with_description(
                    "Replies the channel did not accept: pending (kept and retried) or refused (final 4xx)",
                )
                .build(),
        }
    })
}

impl Metrics {
    pub fn turn(&self, activity_type: &str, outcome: &'static str, seconds: f64) {
        let attrs = [
            KeyValue::new("activity.type", activity_type.to_string()),
            KeyValue::new("outcome", outcome),
        ];
        self.turns.add(1, &attrs);
        self.turn_duration.record(seconds, &attrs);
    }

    /// `document`: "conversation" (the turn re-runs) or "user" (merged).
    pub fn etag_conflict(&self, document: &'static str) {
        self.etag_conflicts
            .add(1, &[KeyValue::new("document", document)]);
    }

    pub fn answered(&self, served_by: &qna::ServedBy) {
        self.answers.add(
            1,
            &[
                KeyValue::new("backend", served_by.backend.clone()),
                KeyValue::new(
                    "endpoint",
                    served_by.endpoint.clone().unwrap_or_else(|| "local".into()),
                ),
            ],
        );
    }

    pub fn unanswered(&self) {
        self.unanswered.add(1, &[]);
    }

    /// A reply the channel refused for good (a 4xx other than 401/408/429).
    pub fn reply_refused(&self) {
        self.replies.add(1, &[KeyValue::new("outcome", "refused")]);
    }

    /// A reply not accepted within its budget: kept in the outbox.
    pub fn reply_pending(&self) {
        self.replies.add(1, &[KeyValue::new("outcome", "pending")]);
    }

    pub fn export_dropped(&self, n: u64, reason: &'static str) {
        self.export_dropped
            .add(n, &[KeyValue::new("reason", reason)]);
    }
}

/// Dependency health (1 up, 0 down, per readiness check, from the cached
/// results: no I/O) and drain state (1 draining), observed at each export.
pub fn register_gauges(readiness: Arc<Readiness>, drain: Arc<Drain>) {
    // The gauges must outlive this call for their callbacks to keep running.
    static KEEP: Mutex<Vec<ObservableGauge<u64>>> = Mutex::new(Vec::new());
    let m = opentelemetry::global::meter("bot-api");
    let health = m
        .u64_observable_gauge("bot.dependency.health")
        .with_description("Readiness checks: 1 up, 0 down")
        .with_callback(move |o| {
            for c in readiness.report(false).checks {
                o.observe(
                    u64::from(c.status == "up"),
                    &[
                        KeyValue::new("check", c.name),
                        KeyValue::new("regional", c.regional),
                    ],
                );
            }
        })
        .build();
    let draining = m
        .u64_observable_gauge("bot.draining")
        .with_description("1 while this instance drains (planned failover)")
        .with_callback(move |o| o.observe(u64::from(drain.is_draining()), &[]))
        .build();
    let mut keep = KEEP.lock().unwrap_or_else(|p| p.into_inner());
    keep.push(health);
    keep.push(draining);
}
