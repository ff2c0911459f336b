//! The results table and its JSON form.

use serde::Serialize;

use crate::load::{Mode, Outcome};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub target: String,
    pub mode: Mode,
    pub round: usize,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub ok: u64,
    pub errors: u64,
    pub replies_at_sink: u64,
    /// Peak RSS from the warm-up on (the load's), MiB.
    pub peak_rss_mb: f64,
    /// Peak RSS of the start, until ready, MiB.
    pub start_peak_rss_mb: f64,
    pub cpu_cores: f64,
    /// Bot CPU time per answered request: steadier than req/s on a shared
    /// machine, since other load slows the clock but not the work.
    pub cpu_us_per_request: f64,
    /// Cores the load generator itself used meanwhile.
    pub client_cpu_cores: f64,
    pub start_to_ready_ms: f64,
}

impl Row {
    pub fn new(
        target: &str,
        mode: Mode,
        round: usize,
        o: &Outcome,
        peak_rss: u64,
        cpu_seconds: f64,
        replies_at_sink: u64,
    ) -> Self {
        let ms = |q: f64| o.latency_us.value_at_quantile(q) as f64 / 1e3;
        let secs = o.elapsed.as_secs_f64();
        Row {
            target: target.to_string(),
            mode,
            round,
            requests_per_sec: o.ok as f64 / secs,
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            ok: o.ok,
            errors: o.errors,
            replies_at_sink,
            peak_rss_mb: peak_rss as f64 / (1024.0 * 1024.0),
            // CPU over the measured window: cores in use.
            cpu_cores: cpu_seconds / secs.max(1e-9),
            cpu_us_per_request: cpu_seconds * 1e6 / (o.ok.max(1) as f64),
            client_cpu_cores: 0.0,
            start_to_ready_ms: 0.0,
            start_peak_rss_mb: 0.0,
        }
    }
}

pub fn print(rows: &[Row]) {
    println!(
        "{:<14} {:<14} {:>5} {:>10} {:>8} {:>8} {:>9} {:>8} {:>9} {:>6} {:>7} {:>7} {:>8} {:>8}",
        "target",
        "mode",
        "round",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "RSS MB",
        "CPU",
        "us/req",
        "client",
        "ready ms",
        "start MB"
    );
    for r in rows {
        println!(
            "{:<14} {:<14} {:>5} {:>10.0} {:>8.2} {:>8.2} {:>9.2} {:>8} {:>9.1} {:>6.2} {:>7.0} {:>7.2} {:>8.0} {:>8.1}",
            r.target,
            format!("{:?}", r.mode),
            r.round,
            r.requests_per_sec,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.errors,
            r.peak_rss_mb,
            r.cpu_cores,
            r.cpu_us_per_request,
            r.client_cpu_cores,
            r.start_to_ready_ms,
            r.start_peak_rss_mb
        );
    }
    // Ratios of ours to the reference, per mode, from rows of the same run.
    for mode in [Mode::ExpectReplies, Mode::Sink] {
        let best = |t: &str| {
            rows.iter()
                .filter(|r| r.target == t && r.mode == mode)
                .map(|r| r.requests_per_sec)
                .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
        };
        if let (Some(ours), Some(js)) = (best("bot-api"), best("botbuilder-js")) {
            if js > 0.0 {
                println!(
                    "ratio {mode:?}: bot-api / botbuilder-js = {:.1}x req/s",
                    ours / js
                );
            }
        }
    }
}

pub fn json(rows: &[Row]) -> serde_json::Value {
    serde_json::json!({ "rows": rows })
}
