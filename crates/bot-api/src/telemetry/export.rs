//! Continuous export of the bot telemetry events: Application Insights cannot
//! import exported telemetry, so the bot keeps its own copy as NDJSON batches,
//! partitioned by date and hour:
//! `{region}/{yyyy}/{mm}/{dd}/{hh}/{instance}-{seq}.ndjson`.
//!
//! A turn only offers an event to a bounded queue (`try_send`): when it is
//! full the event is dropped and counted, never waited for. One background
//! task batches (by size and age) and hands each batch to a [`Sink`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bot_storage::StorageError;
use bytes::Bytes;
use chrono::{DateTime, Datelike, Timelike, Utc};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::event::TelemetryEvent;
use super::metrics::metrics;
use super::otel::RateLimited;

/// Where batches go: put these bytes under this name. The local directory is
/// one; a Blob container (put block blob, [`super::blob_sink::BlobSink`]) is
/// the other. A failed put loses that batch only: it is counted and logged,
/// and the next batch is tried as usual.
#[async_trait]
pub trait Sink: Send + Sync {
    async fn put(&self, name: &str, bytes: Bytes) -> Result<(), StorageError>;
}

/// Files under a directory (embedded mode). Written to a temporary name and
/// renamed, so a reader never sees half a batch.
pub struct LocalDirSink {
    root: PathBuf,
}

impl LocalDirSink {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

fn file_err(what: &str, path: &std::path::Path, e: std::io::Error) -> StorageError {
    StorageError::Backend {
        backend: "file",
        message: format!("{what} {}: {e}", path.display()),
    }
}

#[async_trait]
impl Sink for LocalDirSink {
    async fn put(&self, name: &str, bytes: Bytes) -> Result<(), StorageError> {
        let path = self.root.join(name);
        let tmp = path.with_extension("ndjson.tmp");
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| file_err("creating", dir, e))?;
        }
        tokio::fs::write(&tmp, &bytes)
            .await
            .map_err(|e| file_err("writing", &tmp, e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| file_err("renaming to", &path, e))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ExportLimits {
    /// Events waiting in the queue at most.
    pub queue_max: usize,
    /// Events in one batch at most.
    pub batch_max: usize,
    /// A non-empty batch is written at least this often.
    pub flush_every: Duration,
}

/// The handle turns use.
pub struct Exporter {
    tx: mpsc::Sender<TelemetryEvent>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    failed_batches: Arc<AtomicU64>,
    drop_log: RateLimited,
    stop: Mutex<Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>>,
}

impl Exporter {
    /// Starts the batching task on the current runtime.
    pub fn start(
        sink: Arc<dyn Sink>,
        region: String,
        instance: String,
        limits: ExportLimits,
    ) -> Self {
        let (tx, rx) = mpsc::channel(limits.queue_max.max(1));
        let (stop_tx, stop_rx) = oneshot::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let failed_batches = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            sink,
            region,
            instance,
            limits,
            seq: 0,
            dropped: dropped.clone(),
            written: written.clone(),
            failed_batches: failed_batches.clone(),
            fail_log: RateLimited::new(Duration::from_secs(60)),
        };
        let task = tokio::spawn(worker.run(rx, stop_rx));
        Self {
            tx,
            dropped,
            written,
            failed_batches,
            drop_log: RateLimited::new(Duration::from_secs(60)),
            stop: Mutex::new(Some((stop_tx, task))),
        }
    }

    /// Queues an event, or drops and counts it when the queue is full.
    pub fn offer(&self, event: TelemetryEvent) {
        if let Err(e) = self.tx.try_send(event) {
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "queue_full",
                mpsc::error::TrySendError::Closed(_) => "stopped",
            };
            self.dropped.fetch_add(1, Ordering::Relaxed);
            metrics().export_dropped(1, reason);
            self.drop_log.note(|suppressed| {
                tracing::warn!(
                    reason,
                    suppressed,
                    total_dropped = self.dropped.load(Ordering::Relaxed),
                    "telemetry export dropped an event"
                )
            });
        }
    }

    /// Events dropped so far: queue full, or their batch failed to write.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Batches the sink failed to take (their events count as dropped).
    pub fn failed_batches(&self) -> u64 {
        self.failed_batches.load(Ordering::Relaxed)
    }

    /// Writes what is queued and stops. Later offers are dropped.
    pub async fn shutdown(&self) {
        if let Some((stop, task)) = self.stop.lock().await.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

struct Worker {
    sink: Arc<dyn Sink>,
    region: String,
    instance: String,
    limits: ExportLimits,
    seq: u64,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    failed_batches: Arc<AtomicU64>,
    fail_log: RateLimited,
}

impl Worker {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<TelemetryEvent>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut batch: Vec<TelemetryEvent> = Vec::new();
        let mut tick = tokio::time::interval(self.limits.flush_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => {
                        batch.push(ev);
                        if batch.len() >= self.limits.batch_max {
                            self.flush(&mut batch).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if !batch.is_empty() {
                        self.flush(&mut batch).await;
                    }
                }
                _ = &mut stop => break,
            }
        }
        rx.close();
        while let Ok(ev) = rx.try_recv() {
            batch.push(ev);
            if batch.len() >= self.limits.batch_max {
                self.flush(&mut batch).await;
            }
        }
        if !batch.is_empty() {
            self.flush(&mut batch).await;
        }
    }

    async fn flush(&mut self, batch: &mut Vec<TelemetryEvent>) {
        let events = std::mem::take(batch);
        let mut body = Vec::with_capacity(events.len() * 256);
        for ev in &events {
            if serde_json::to_writer(&mut body, ev).is_ok() {
                body.push(b'\n');
            }
        }
        self.seq += 1;
        let name = batch_name(&self.region, &self.instance, events[0].time, self.seq);
        match self.sink.put(&name, Bytes::from(body)).await {
            Ok(()) => {
                self.written
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
            }
            Err(error) => {
                let n = events.len() as u64;
                self.dropped.fetch_add(n, Ordering::Relaxed);
                self.failed_batches.fetch_add(1, Ordering::Relaxed);
                metrics().export_dropped(n, "sink_failed");
                self.fail_log.note(|suppressed| {
                    tracing::warn!(%error, batch = %name, events = n, suppressed,
                        "telemetry export: writing a batch failed; its events are dropped")
                });
            }
        }
    }
}

/// `{region}/{yyyy}/{mm}/{dd}/{hh}/{instance}-{seq}.ndjson`, the hour of the
/// batch's first event (UTC).
pub fn batch_name(region: &str, instance: &str, at: DateTime<Utc>, seq: u64) -> String {
    format!(
        "{region}/{:04}/{:02}/{:02}/{:02}/{instance}-{seq:06}.ndjson",
        at.year(),
        at.month(),
        at.day(),
        at.hour()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    fn event(n: usize) -> TelemetryEvent {
        TelemetryEvent {
            time: "2026-03-04T05:06:07Z".parse().unwrap(),
            name: "BotMessageReceived",
            region: "r".into(),
            instance: "i".into(),
            channel_id: "test".into(),
            conversation_id: format!("c{n}"),
            activity_id: None,
            properties: Map::new(),
            metrics: Map::new(),
        }
    }

    #[test]
    fn names_partition_by_region_date_and_hour() {
        let at = "2026-03-04T05:06:07Z".parse().unwrap();
        assert_eq!(
            batch_name("westeurope", "i-1", at, 7),
            "westeurope/2026/03/04/05/i-1-000007.ndjson"
        );
    }

    /// A sink that holds every put until released, to fill the queue.
    struct Stuck {
        entered: tokio::sync::Notify,
        release: tokio::sync::Semaphore,
        puts: std::sync::Mutex<Vec<(String, Bytes)>>,
    }

    #[async_trait]
    impl Sink for Stuck {
        async fn put(&self, name: &str, bytes: Bytes) -> Result<(), StorageError> {
            self.entered.notify_one();
            let _permit = self.release.acquire().await.expect("never closed");
            self.puts.lock().unwrap().push((name.to_string(), bytes));
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let sink = Arc::new(Stuck {
            entered: tokio::sync::Notify::new(),
            release: tokio::sync::Semaphore::new(0),
            puts: std::sync::Mutex::new(Vec::new()),
        });
        let limits = ExportLimits {
            queue_max: 3,
            batch_max: 1,
            flush_every: Duration::from_secs(3600),
        };
        let exporter = Exporter::start(sink.clone(), "r".into(), "i".into(), limits);
        exporter.offer(event(0));
        // The worker has taken event 0 and is stuck writing it.
        sink.entered.notified().await;
        for n in 1..=10 {
            exporter.offer(event(n)); // returns at once, full or not
        }
        assert_eq!(exporter.dropped(), 7, "3 fit in the queue, 7 are dropped");
        sink.release.add_permits(100);
        exporter.shutdown().await;
        assert_eq!(exporter.written(), 4);
        let puts = sink.puts.lock().unwrap();
        assert_eq!(puts.len(), 4);
        let lines: Vec<Value> = puts
            .iter()
            .flat_map(|(_, b)| {
                std::str::from_utf8(b)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<Value>>()
            })
            .collect();
        let convs: Vec<&str> = lines
            .iter()
            .map(|l| l["conversationId"].as_str().unwrap())
            .collect();
        assert_eq!(convs, ["c0", "c1", "c2", "c3"]);
        exporter.offer(event(99));
        assert_eq!(exporter.dropped(), 8, "offers after shutdown are dropped");
    }

    /// A sink that fails its first `fail_first` puts, then takes the rest.
    struct Flaky {
        fail_first: u64,
        calls: AtomicU64,
        puts: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Sink for Flaky {
        async fn put(&self, name: &str, _bytes: Bytes) -> Result<(), StorageError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.fail_first {
                return Err(StorageError::Unavailable {
                    backend: "blob",
                    message: "connection refused".into(),
                });
            }
            self.puts.lock().unwrap().push(name.to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failing_sink_drops_and_counts_its_batch_and_export_goes_on() {
        let sink = Arc::new(Flaky {
            fail_first: 2,
            calls: AtomicU64::new(0),
            puts: std::sync::Mutex::new(Vec::new()),
        });
        let limits = ExportLimits {
            queue_max: 100,
            batch_max: 2,
            flush_every: Duration::from_secs(3600),
        };
        let exporter = Exporter::start(sink.clone(), "r".into(), "i".into(), limits);
        for n in 0..7 {
            exporter.offer(event(n)); // never waits on the failing sink
        }
        exporter.shutdown().await;
        // Batches of 2, 2, 2, 1: the first two fail, the next two are written.
        assert_eq!(exporter.failed_batches(), 2);
        assert_eq!(exporter.dropped(), 4);
        assert_eq!(exporter.written(), 3);
        assert_eq!(
            *sink.puts.lock().unwrap(),
            [
                "r/2026/03/04/05/i-000003.ndjson",
                "r/2026/03/04/05/i-000004.ndjson"
            ],
            "a failed batch's sequence number is not reused"
        );
    }

    #[tokio::test]
    async fn local_dir_sink_writes_batches_by_size_and_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let limits = ExportLimits {
            queue_max: 100,
            batch_max: 2,
            flush_every: Duration::from_secs(3600),
        };
        let exporter = Exporter::start(
            Arc::new(LocalDirSink::new(dir.path())),
            "r".into(),
            "i".into(),
            limits,
        );
        for n in 0..3 {
            exporter.offer(event(n));
        }
        exporter.shutdown().await;
        let hour = dir.path().join("r/2026/03/04/05");
        let mut files: Vec<String> = std::fs::read_dir(&hour)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["i-000001.ndjson", "i-000002.ndjson"]);
        let first = std::fs::read_to_string(hour.join(&files[0])).unwrap();
        assert_eq!(first.lines().count(), 2);
        assert_eq!(exporter.dropped(), 0);
    }
}
