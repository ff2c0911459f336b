//! Soak reports: while the load runs, a line every interval with what the
//! interval saw (req/s, p50/p99, errors) and what the bot holds (RSS, the
//! state database and its WAL), then the RSS growth from the first minute
//! to the end. Memory or disk that grows with time rather than with
//! conversations shows here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::load::Window;

pub struct Soak {
    task: tokio::task::JoinHandle<Vec<(f64, u64)>>,
    stop: tokio::sync::watch::Sender<bool>,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The SQLite state database and WAL under the bot's state directory.
pub fn store_sizes(state_dir: &Path) -> String {
    let db = state_dir.join("state.db");
    let wal = state_dir.join("state.db-wal");
    format!(
        "database {:.1} MB, WAL {:.1} MB",
        mb(size(&db)),
        mb(size(&wal))
    )
}

pub fn spawn(
    window: Arc<Mutex<Window>>,
    pid: u32,
    state_dir: PathBuf,
    every: u64,
    warmup: u64,
) -> Soak {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let start = Instant::now() + Duration::from_secs(warmup);
        let every = Duration::from_secs(every.max(1));
        let mut samples = Vec::new();
        let mut last = start;
        tokio::time::sleep_until(start.into()).await;
        eprintln!("soak:     t   req/s   p50 ms   p99 ms  errors   RSS MB  store");
        loop {
            let tick = last + every;
            let ended = tokio::select! {
                _ = tokio::time::sleep_until(tick.into()) => false,
                _ = stopped.changed() => true,
            };
            let now = Instant::now();
            let w = {
                let mut w = window.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::replace(&mut *w, Window::new().expect("histogram bounds"))
            };
            let secs = now.duration_since(last).as_secs_f64().max(1e-3);
            let t = now.duration_since(start).as_secs_f64();
            let rss = crate::process::status_bytes(pid, "VmRSS:");
            if w.ok + w.errors > 0 {
                eprintln!(
                    "soak: {t:>5.0} {:>7.0} {:>8.2} {:>8.2} {:>7} {:>8.1}  {}",
                    w.ok as f64 / secs,
                    w.latency_us.value_at_quantile(0.5) as f64 / 1e3,
                    w.latency_us.value_at_quantile(0.99) as f64 / 1e3,
                    w.errors,
                    mb(rss),
                    store_sizes(&state_dir)
                );
                samples.push((t, rss));
            }
            last = now;
            if ended {
                return samples;
            }
        }
    });
    Soak { task, stop }
}

impl Soak {
    /// Ends the reports and prints the RSS growth after the first minute.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let samples = self.task.await.unwrap_or_default();
        let from = samples.iter().find(|(t, _)| *t >= 60.0).or(samples.first());
        if let (Some((t0, r0)), Some((t1, r1))) = (from, samples.last()) {
            let growth = (*r1 as f64 - *r0 as f64) / (*r0).max(1) as f64 * 100.0;
            eprintln!(
                "soak: RSS {:.1} MB at {t0:.0} s -> {:.1} MB at {t1:.0} s: {growth:+.1}%",
                mb(*r0),
                mb(*r1)
            );
        }
    }
}
