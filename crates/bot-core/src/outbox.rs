//! Replies that reach the channel: no reply is lost to a channel that fails
//! or retries, and none is accepted twice.
//!
//! The turn's commit (the conversation document written with its eTag)
//! records the processed activity with its replies and a claim: which
//! instance may send them, until when. Only then do the replies go out, in
//! order, each tried within the channel's time budget; how far they got is
//! written back to the record afterwards, off the request's path. What the
//! channel has not accepted stays in the record, and is sent
//! - again by this instance in the background, for a bounded time;
//! - by a redelivery of the activity (in this region or the other);
//! - before the next activity of the conversation runs its turn.
//!
//! Inside one process these are serialised by the conversation lock; across
//! processes and regions by the claim, which is only taken with the
//! document's eTag and only from a holder whose time is up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use bot_schema::{Activity, RetryPolicy, SchemaError, Verdict};
use bot_storage::StorageError;

use crate::conversation_lock::ConversationGuard;
use crate::engine::Engine;
use crate::error::CoreError;
use crate::state::{Claim, ConversationState, Progress, StateDoc};

/// Added to a claim beyond the send budget, for clocks a little apart
/// between regions.
const CLAIM_MARGIN: Duration = Duration::from_secs(2);

/// How long a redelivery (or the next activity) waits on another
/// instance's live claim before answering 503. That instance writes its
/// progress just after its own answer, so a redelivery that lands in the
/// other region in between (as a failover makes likely) finds the replies
/// sent a few milliseconds later instead of failing.
const CLAIM_WAIT: Duration = Duration::from_millis(1500);
/// How often the record is read again meanwhile.
const CLAIM_POLL: Duration = Duration::from_millis(50);

/// How replies are sent, and who this instance is in claims.
pub struct Outbox {
    pub policy: RetryPolicy,
    /// How long undelivered replies are retried in the background.
    pub background_for: Duration,
    /// At most this many conversations are retried in the background at once.
    pub max_background: usize,
    /// This process's name in claims: region and a random part, so a
    /// restarted instance does not take its predecessor's claims for its own.
    pub instance: String,
    background: AtomicUsize,
    /// Progress writes still running after their answer went out: a
    /// stopping instance waits for them, or the next region would send the
    /// same replies again.
    marking: AtomicUsize,
    marked: tokio::sync::Notify,
}

/// What sending an outbox's replies came to.
pub struct Sending {
    pub progress: Progress,
    /// Why the rest was not sent (a failure the channel may recover from).
    pub pending: Option<SchemaError>,
}

/// What a claim on an earlier activity's outbox found.
pub enum Claimed {
    /// Nothing left to send.
    Nothing,
    /// Another instance holds it for this long still.
    Busy(Duration),
    /// This instance may send the replies from `progress.sent` on.
    Mine {
        replies: Vec<Activity>,
        progress: Progress,
        claim: Claim,
    },
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Outbox {
    pub fn new(
        policy: RetryPolicy,
        background_for: Duration,
        max_background: usize,
        region: &str,
    ) -> Self {
        Self {
            policy,
            background_for,
            max_background,
            instance: format!("{region}/{:08x}", fastrand::u32(..)),
            background: AtomicUsize::new(0),
            marking: AtomicUsize::new(0),
            marked: tokio::sync::Notify::new(),
        }
    }

    /// Waits, at most `within`, until every turn's progress is written.
    pub async fn settle(&self, within: Duration) {
        let until = Instant::now() + within;
        loop {
            let notified = self.marked.notified();
            let left = self.marking.load(Ordering::SeqCst);
            if left == 0 {
                return;
            }
            if tokio::time::timeout_at(until.into(), notified)
                .await
                .is_err()
            {
                tracing::warn!(left, "stopping with reply progress still unwritten");
                return;
            }
        }
    }

    /// The claim a turn's commit takes for its own replies.
    pub fn claim(&self) -> Claim {
        Claim {
            owner: self.instance.clone(),
            until_ms: now_ms() + (self.policy.budget + CLAIM_MARGIN).as_millis() as u64,
        }
    }

    /// Conversations with replies being retried in the background.
    pub fn retrying(&self) -> usize {
        self.background.load(Ordering::Relaxed)
    }
}

/// Sends `replies[progress.sent..]` in order until one cannot be delivered
/// before `deadline`. A reply the channel refuses for good is counted and
/// logged with the channel's answer, and the next one goes out.
pub async fn send(
    engine: &Arc<Engine>,
    replies: &[Activity],
    mut progress: Progress,
    deadline: Instant,
) -> Sending {
    for reply in &replies[progress.sent.min(replies.len())..] {
        match engine
            .connector
            .send(reply, &engine.outbox.policy, deadline)
            .await
        {
            Ok(_) => engine.observer.message_sent(reply),
            Err(e) if e.verdict() == Verdict::Final => {
                engine.observer.reply_refused();
                tracing::warn!(
                    error = %e,
                    conversation = reply.conversation_id().unwrap_or_default(),
                    reply_to = reply.reply_to_id.as_deref().unwrap_or_default(),
                    "the channel refused a reply for good; it is not sent again"
                );
                progress.failed += 1;
            }
            Err(e) => {
                engine.observer.reply_pending();
                tracing::warn!(
                    error = %e,
                    conversation = reply.conversation_id().unwrap_or_default(),
                    "a reply was not accepted within its budget; it stays in the outbox"
                );
                return Sending {
                    progress,
                    pending: Some(e),
                };
            }
        }
        progress.sent += 1;
    }
    Sending {
        progress,
        pending: None,
    }
}

/// Writes an outbox's progress into the conversation document (with its
/// eTag, onto a fresh read when someone else wrote in between). `known`:
/// the document as this instance last wrote it, tried first instead of a
/// read (a stale one fails its eTag and the next try reads).
pub async fn mark(
    engine: &Arc<Engine>,
    conv_key: &str,
    activity_id: &str,
    progress: Progress,
    claim: Option<&Claim>,
    mut known: Option<ConversationState>,
) -> Result<(), CoreError> {
    for _ in 0..engine.max_turn_attempts {
        let mut conversation = match known.take() {
            Some(c) => c,
            None => read(engine, conv_key).await?,
        };
        if !conversation.update_outbox(activity_id, progress, claim) {
            return Ok(());
        }
        match engine
            .storage
            .write(vec![conversation.0.into_change()])
            .await
        {
            Ok(_) => return Ok(()),
            Err(StorageError::Conflict { .. }) => engine.observer.etag_conflict("outbox"),
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::TooManyConflicts {
        conversation: conv_key.to_string(),
        attempts: engine.max_turn_attempts,
    })
}

/// The caller holds the conversation lock and writes what it read.
async fn read(engine: &Arc<Engine>, conv_key: &str) -> Result<ConversationState, CoreError> {
    let mut items = engine
        .storage
        .read_to_update(&[conv_key.to_string()])
        .await?;
    Ok(ConversationState(StateDoc::from_item(
        conv_key.to_string(),
        items.remove(conv_key),
    )))
}

/// Takes the claim on an activity's outbox, unless another instance holds
/// it and its time is not up. The caller holds the conversation lock.
pub async fn take(
    engine: &Arc<Engine>,
    conv_key: &str,
    activity_id: &str,
) -> Result<Claimed, CoreError> {
    for _ in 0..engine.max_turn_attempts {
        let mut conversation = read(engine, conv_key).await?;
        let Some(outbox) = conversation.processed(activity_id).and_then(|p| p.outbox) else {
            return Ok(Claimed::Nothing);
        };
        let now = now_ms();
        if let Some(c) = &outbox.claim {
            if c.owner != engine.outbox.instance && c.until_ms > now {
                return Ok(Claimed::Busy(Duration::from_millis(c.until_ms - now)));
            }
        }
        let progress = Progress {
            total: outbox.replies.len(),
            sent: outbox.sent,
            failed: outbox.failed,
        };
        let others = outbox
            .claim
            .as_ref()
            .filter(|c| c.owner != engine.outbox.instance);
        if let Some(c) = others.filter(|_| progress.sent + progress.failed < progress.total) {
            // The channel may have accepted the next reply just before that
            // instance stopped, without its record: sent again rather than lost.
            tracing::warn!(
                conversation = conv_key,
                activity_id,
                previous = %c.owner,
                sent = progress.sent,
                total = progress.total,
                "taking over replies another instance claimed; one it sent just before it stopped may reach the channel twice"
            );
        }
        let claim = engine.outbox.claim();
        conversation.update_outbox(activity_id, progress, Some(&claim));
        match engine
            .storage
            .write(vec![conversation.0.into_change()])
            .await
        {
            Ok(_) => {
                return Ok(Claimed::Mine {
                    replies: outbox.replies,
                    progress,
                    claim,
                })
            }
            Err(StorageError::Conflict { .. }) => engine.observer.etag_conflict("outbox"),
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::TooManyConflicts {
        conversation: conv_key.to_string(),
        attempts: engine.max_turn_attempts,
    })
}

/// Claims and sends what is left of an activity's outbox, then marks it.
/// `Ok(None)`: all of it is done. `Ok(Some(error))`: replies are pending
/// (the claim stays this instance's; the caller decides on a retry).
pub async fn resend(
    engine: &Arc<Engine>,
    conv_key: &str,
    activity_id: &str,
    deadline: Instant,
) -> Result<Option<SchemaError>, CoreError> {
    let wait_until = (Instant::now() + CLAIM_WAIT).min(deadline);
    let (replies, progress, claim) = loop {
        match take(engine, conv_key, activity_id).await? {
            Claimed::Nothing => return Ok(None),
            Claimed::Busy(left) if Instant::now() < wait_until => {
                tokio::time::sleep(CLAIM_POLL.min(left)).await;
            }
            Claimed::Busy(left) => return Err(CoreError::RepliesClaimed { retry_after: left }),
            Claimed::Mine {
                replies,
                progress,
                claim,
            } => break (replies, progress, claim),
        }
    };
    let sending = send(engine, &replies, progress, deadline).await;
    mark(
        engine,
        conv_key,
        activity_id,
        sending.progress,
        Some(&claim),
        None,
    )
    .await?;
    Ok(sending.pending)
}

/// Sends the pending replies of every earlier activity of a conversation,
/// oldest first: a new activity's replies never overtake them.
pub async fn flush(
    engine: &Arc<Engine>,
    conversation: &ConversationState,
    deadline: Instant,
) -> Result<(), CoreError> {
    let conv_key = conversation.0.key.as_str();
    for id in conversation.pending() {
        tracing::info!(conversation = conv_key, activity_id = %id, "sending replies an earlier turn left undelivered");
        if let Some(e) = resend(engine, conv_key, &id, deadline).await? {
            spawn_retry(engine, conv_key, &id);
            return Err(CoreError::RepliesPending(e));
        }
    }
    Ok(())
}

/// After the answer to the channel: the turn's progress is written while
/// this conversation stays locked, so the next turn here sees it.
/// `committed`: the document the turn's commit wrote, which the progress
/// write starts from (nothing in this process wrote it since: the lock).
pub fn finish(
    engine: &Arc<Engine>,
    guard: ConversationGuard,
    conv_key: String,
    activity_id: String,
    sending: &Sending,
    claim: Claim,
    committed: Option<ConversationState>,
) {
    let engine = engine.clone();
    let progress = sending.progress;
    let retry = sending.pending.is_some();
    engine.outbox.marking.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let marked = mark(
            &engine,
            &conv_key,
            &activity_id,
            progress,
            Some(&claim),
            committed,
        )
        .await;
        drop(guard);
        engine.outbox.marking.fetch_sub(1, Ordering::SeqCst);
        engine.outbox.marked.notify_waiters();
        if let Err(e) = marked {
            // The replies already went out; only the record is behind. A
            // redelivery or the next activity may send them once more.
            tracing::warn!(error = %e, conversation = %conv_key, activity_id = %activity_id, "could not record delivered replies");
        }
        if retry {
            spawn_retry(&engine, &conv_key, &activity_id);
        }
    });
}

/// Keeps trying an outbox in the background for `background_for`, for a
/// channel that never redelivers. Each round takes the conversation lock and
/// the claim, so it never races a redelivery or the next activity.
pub fn spawn_retry(engine: &Arc<Engine>, conv_key: &str, activity_id: &str) {
    let outbox = &engine.outbox;
    if outbox.background.fetch_add(1, Ordering::Relaxed) >= outbox.max_background {
        outbox.background.fetch_sub(1, Ordering::Relaxed);
        tracing::warn!(
            conversation = conv_key,
            activity_id,
            "too many conversations retrying replies in the background; these wait for a redelivery or the next activity"
        );
        return;
    }
    let (engine, conv_key, activity_id) = (
        engine.clone(),
        conv_key.to_string(),
        activity_id.to_string(),
    );
    tokio::spawn(async move {
        let until = Instant::now() + engine.outbox.background_for;
        let mut round = 0;
        loop {
            let pause = engine.outbox.policy.backoff(round + 3);
            round += 1;
            if Instant::now() + pause >= until {
                tracing::warn!(conversation = %conv_key, activity_id = %activity_id, "replies still undelivered after the background retries; they wait for a redelivery or the next activity");
                break;
            }
            tokio::time::sleep(pause).await;
            let _guard = engine.locks.lock(&conv_key).await;
            let deadline = (Instant::now() + engine.outbox.policy.budget).min(until);
            match resend(&engine, &conv_key, &activity_id, deadline).await {
                Ok(None) => break,
                Ok(Some(e)) => tracing::debug!(error = %e, "replies still not accepted"),
                // Another instance holds the claim: it sends them.
                Err(CoreError::RepliesClaimed { .. }) => break,
                Err(e) => tracing::debug!(error = %e, "background reply retry failed"),
            }
        }
        engine.outbox.background.fetch_sub(1, Ordering::Relaxed);
    });
}
