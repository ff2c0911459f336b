//! Transcript logging: every incoming activity of a turn that ran, and
//! every reply, go to the configured transcript store. A failure to log
//! never fails the turn (its state is already saved and its replies are
//! due), but it is never silent either: it is logged and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bot_schema::Activity;
use bot_storage::TranscriptStore;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub struct TranscriptLogger {
    store: Arc<dyn TranscriptStore>,
    logged: AtomicU64,
    failed: AtomicU64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptCounts {
    pub logged: u64,
    pub failed: u64,
}

impl TranscriptLogger {
    pub fn new(store: Arc<dyn TranscriptStore>) -> Self {
        Self {
            store,
            logged: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &Arc<dyn TranscriptStore> {
        &self.store
    }

    pub fn counts(&self) -> TranscriptCounts {
        TranscriptCounts {
            logged: self.logged.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Logs the turn's incoming activity and its replies, in that order.
    /// An incoming activity without a timestamp gets `received` (when the
    /// turn began), as botbuilder's middleware stamps it on arrival: stamped
    /// at log time it would sort after the replies made during the turn.
    pub async fn log_turn(
        &self,
        incoming: &Activity,
        received: DateTime<Utc>,
        replies: &[Activity],
    ) {
        for (i, activity) in std::iter::once(incoming).chain(replies).enumerate() {
            let at = if i == 0 { received } else { Utc::now() };
            let activity = complete(activity, incoming, at);
            match self.store.log(&activity).await {
                Ok(()) => {
                    self.logged.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::error!(
                        error = %e,
                        store = self.store.kind(),
                        activity_id = activity.id.as_deref().unwrap_or(""),
                        failed_total = failed,
                        "transcript logging failed"
                    );
                }
            }
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
