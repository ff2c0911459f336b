//! Transcript logging: every incoming activity of a turn that ran, and
//! every reply, go to the configured transcript store.
//!
//! Off the request path: a turn offers its entries to a bounded queue and
//! answers; one background writer puts them in the store, a few at a time.
//! A slow or unreachable transcript store (a Blob account stalling for its
//! whole request deadline) therefore never delays an answer, as it did when
//! each turn waited for its own writes. A failure to log never fails the
//! turn, but it is never silent either: failed writes and entries refused
//! by a full queue are logged and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bot_schema::Activity;
use bot_storage::TranscriptStore;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// Turns waiting for the writer at most: at the bot's turn rate, several
/// seconds of a store that does not answer.
const QUEUE_MAX: usize = 8_192;
/// Turns being written at once: one Blob put per activity is a round trip, so a
/// single write at a time could not keep up with the turn rate.
const IN_FLIGHT_MAX: usize = 16;

pub struct TranscriptLogger {
    store: Arc<dyn TranscriptStore>,
    queue: mpsc::Sender<Job>,
    counts: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    logged: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

enum Job {
    /// A turn's entries, written one after another: replies stamped in the
    /// same millisecond keep their order in the store.
    Turn(Vec<Activity>),
    /// Answered once every entry offered before it is written (or failed).
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptCounts {
    pub logged: u64,
    pub failed: u64,
    /// Refused because the queue was full (the store far behind).
    pub dropped: u64,
}

impl TranscriptLogger {
    /// Starts the writer; needs a Tokio runtime.
    pub fn new(store: Arc<dyn TranscriptStore>) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_MAX);
        let counts = Arc::new(Counters::default());
        tokio::spawn(write_all(store.clone(), jobs, counts.clone()));
        Self {
            store,
            queue,
            counts,
        }
    }

    pub fn store(&self) -> &Arc<dyn TranscriptStore> {
        &self.store
    }

    pub fn counts(&self) -> TranscriptCounts {
        TranscriptCounts {
            logged: self.counts.logged.load(Ordering::Relaxed),
            failed: self.counts.failed.load(Ordering::Relaxed),
            dropped: self.counts.dropped.load(Ordering::Relaxed),
        }
    }

    /// Offers the turn's incoming activity and its replies, in that order,
    /// and returns at once. An incoming activity without a timestamp gets
    /// `received` (when the turn began), as botbuilder's middleware stamps
    /// it on arrival: stamped later it would sort after the turn's replies.
    pub fn log_turn(&self, incoming: &Activity, received: DateTime<Utc>, replies: &[Activity]) {
        let now = Utc::now();
        let entries: Vec<Activity> = std::iter::once(incoming)
            .chain(replies)
            .enumerate()
            .map(|(i, a)| complete(a, incoming, if i == 0 { received } else { now }))
            .collect();
        if let Err(e) = self.queue.try_send(Job::Turn(entries)) {
            let n = 1 + replies.len() as u64;
            let dropped = self.counts.dropped.fetch_add(n, Ordering::Relaxed) + n;
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "queue full",
                mpsc::error::TrySendError::Closed(_) => "writer stopped",
            };
            tracing::error!(
                store = self.store.kind(),
                activity_id = incoming.id.as_deref().unwrap_or(""),
                entries = n,
                dropped_total = dropped,
                reason,
                "transcript entries not logged"
            );
        }
    }

    /// Waits until every entry offered so far is written or has failed, or
    /// `within` has passed; false if it had not. Shutdown calls it so a
    /// stopping instance leaves no transcript behind; tests call it before
    /// reading the store.
    pub async fn flush(&self, within: Duration) -> bool {
        let (done, flushed) = oneshot::channel();
        if self.queue.send(Job::Flush(done)).await.is_err() {
            return false;
        }
        matches!(tokio::time::timeout(within, flushed).await, Ok(Ok(())))
    }
}

/// The writer: turns in the order offered, at most [`IN_FLIGHT_MAX`] at a
/// time (the stores order a conversation by timestamp; a conversation's
/// turns are stamped in order because the conversation runs one at a time).
async fn write_all(
    store: Arc<dyn TranscriptStore>,
    mut jobs: mpsc::Receiver<Job>,
    counts: Arc<Counters>,
) {
    let mut writing = JoinSet::new();
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Turn(entries) => {
                while writing.len() >= IN_FLIGHT_MAX {
                    writing.join_next().await;
                }
                writing.spawn(write_turn(store.clone(), entries, counts.clone()));
            }
            Job::Flush(done) => {
                while writing.join_next().await.is_some() {}
                let _ = done.send(());
            }
        }
    }
    while writing.join_next().await.is_some() {}
}

async fn write_turn(
    store: Arc<dyn TranscriptStore>,
    entries: Vec<Activity>,
    counts: Arc<Counters>,
) {
    for activity in entries {
        write_one(&*store, &activity, &counts).await;
    }
}

async fn write_one(store: &dyn TranscriptStore, activity: &Activity, counts: &Counters) {
    match store.log(activity).await {
        Ok(()) => {
            counts.logged.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            let failed = counts.failed.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(
                error = %e,
                store = store.kind(),
                activity_id = activity.id.as_deref().unwrap_or(""),
                failed_total = failed,
                "transcript logging failed"
            );
        }
    }
}

/// What a transcript entry needs and a reply may lack, filled in as
/// botbuilder's TranscriptLoggerMiddleware does: an id, a timestamp, and
/// the conversation and channel of the turn.
fn complete(activity: &Activity, incoming: &Activity, at: DateTime<Utc>) -> Activity {
    let mut a = activity.clone();
    if a.id.as_deref().is_none_or(str::is_empty) {
        a.id = Some(format!("{:016x}", fastrand::u64(..)));
    }
    if a.timestamp.is_none() {
        a.timestamp = Some(at.to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    if a.channel_id.is_none() {
        a.channel_id = incoming.channel_id.clone();
    }
    if a.conversation.is_none() {
        a.conversation = incoming.conversation.clone();
    }
    a
}
