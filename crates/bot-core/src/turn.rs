//! The turn pipeline: load state, run the bot, save state with eTags, and
//! only then hand the replies out. A conflict re-runs the whole turn from a
//! fresh read, so concurrent turns on one conversation never lose an update
//! and no reply is ever sent for a turn that was not saved.
//!
//! The commit also records the activity as processed, with the replies that
//! are still to reach the channel (the outbox, see `outbox`). A redelivered
//! activity never runs again, and a new one first sends what earlier turns
//! of its conversation left undelivered.

use std::time::{Duration, Instant};

use bot_schema::{activity_types, Activity, DeliveryMode};
use std::sync::Arc;

use bot_storage::StorageError;
use tracing::Instrument;

use crate::conversation_lock::ConversationGuard;
use crate::engine::Engine;
use crate::error::CoreError;
use crate::handoff;
use crate::outbox;
use crate::state::{user_key, Claim, ConversationState, Processed, Recorded, StateDoc};

pub enum TurnOutcome {
    /// A new turn ran and was saved: its replies and, when they go to the
    /// channel, the claim its commit took on sending them.
    Ran {
        replies: Vec<Activity>,
        claim: Option<Claim>,
        /// With a claim: the conversation document as committed, for the
        /// outbox's progress write (see `outbox::finish`).
        committed: Option<ConversationState>,
    },
    /// The activity was already processed: what its record says.
    Redelivered(Processed),
}

/// A turn's outcome, with its conversation still locked in this process
/// until its replies are sent and marked.
pub struct Turn {
    pub outcome: TurnOutcome,
    pub conv_key: String,
    pub guard: ConversationGuard,
}

/// Runs the turn for `activity`. Replies left pending by earlier turns are
/// sent first, within `deadline`.
pub async fn run(
    engine: &Arc<Engine>,
    activity: &Activity,
    deadline: Instant,
) -> Result<Turn, CoreError> {
    let channel = activity.channel_id();
    let conversation_id = activity.conversation_id().unwrap_or_default();
    let conv_key = ConversationState::key(channel, conversation_id);
    let user_key = activity.from_id().map(|id| user_key(channel, id));
    let expect_replies = activity.delivery_mode() == DeliveryMode::ExpectReplies;
    let activity_id = activity.id.as_deref().filter(|s| !s.is_empty());
    let attempts = engine.max_turn_attempts;
    let guard = engine.locks.lock(&conv_key).await;
    let mut typing_sent = false;

    for attempt in 0..attempts {
        // The conversation document is this turn's alone while it holds the
        // lock, so a cache hands it over rather than copying it; the user
        // document may be another conversation's turn's at the same time.
        let user_read = async {
            match &user_key {
                Some(k) => engine.storage.read(std::slice::from_ref(k)).await,
                None => Ok(Default::default()),
            }
        };
        let (conv_items, user_items) = async {
            tokio::join!(
                engine
                    .storage
                    .read_to_update(std::slice::from_ref(&conv_key)),
                user_read
            )
        }
        .instrument(tracing::info_span!("state.read", attempt))
        .await;
        let mut items = conv_items?;
        items.extend(user_items?);
        let mut conversation = ConversationState(StateDoc::from_item(
            conv_key.clone(),
            items.remove(&conv_key),
        ));
        if let Some(id) = activity_id {
            if let Some(done_record) = conversation.processed(id) {
                tracing::info!(
                    activity_id = id,
                    "redelivered activity: not running the turn again"
                );
                return Ok(Turn {
                    outcome: TurnOutcome::Redelivered(done_record),
                    conv_key,
                    guard,
                });
            }
        }
        if !conversation.pending().is_empty() {
            // Earlier replies go out before this turn's; the flush wrote the
            // document, so the turn starts again from a fresh read.
            outbox::flush(engine, &conversation, deadline).await?;
            continue;
        }
        let mut user = user_key
            .as_ref()
            .map(|k| StateDoc::from_item(k.clone(), items.remove(k)))
            .unwrap_or_default();
        let user_before = user.doc.clone();
        // Proactive messages (an operator's) go where this activity came from.
        conversation.set_reference(&activity.conversation_reference());
        let handed_off = conversation.is_handed_off();

        let ran = on_turn(
            engine,
            activity,
            &mut conversation,
            &mut user,
            !expect_replies && !typing_sent,
            deadline,
        )
        .await?;
        typing_sent |= ran.typing_sent;
        let mut replies = ran.replies;
        if !handed_off && conversation.is_handed_off() {
            // Listed before the commit: a crash in between leaves an entry
            // that lists nothing, never a hand-off nobody sees.
            handoff::register(engine.storage.as_ref(), channel, conversation_id).await?;
        }
        // Trace activities are for the Emulator only.
        if activity.channel_id() != "emulator" {
            replies.retain(|r| !r.is_type(activity_types::TRACE));
        }
        let claim = (!expect_replies).then(|| engine.outbox.claim());
        if let Some(id) = activity_id {
            let recorded = match &claim {
                Some(c) => Recorded::Outbox(&replies, c.clone()),
                None => Recorded::ExpectedReplies(&replies),
            };
            conversation.record_processed(id, recorded);
        }

        // The conversation document is the turn's commit point: it carries the
        // processed-activity record, so it is written first and conditionally.
        // When replies go to the channel, the document is kept: the progress
        // written after sending them starts from it instead of a read.
        let change = conversation.0.into_change();
        let span = tracing::info_span!("state.write", attempt, document = "conversation");
        let (write, kept) = if claim.is_some() {
            let write = engine
                .storage
                .write_ref(std::slice::from_ref(&change))
                .instrument(span)
                .await;
            (write, Some(change))
        } else {
            (
                engine.storage.write(vec![change]).instrument(span).await,
                None,
            )
        };
        let committed = match write {
            Ok(etags) => kept
                .zip(etags.into_iter().next())
                .map(|(change, etag)| ConversationState(StateDoc::committed(change, etag))),
            Err(StorageError::Conflict { .. }) => {
                engine.observer.etag_conflict("conversation");
                tracing::debug!(
                    attempt,
                    conversation = conversation_id,
                    "eTag conflict, re-running turn"
                );
                backoff(attempt).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if user_key.is_some() && user.doc != user_before {
            save_user_changes(engine, &user, &user_before).await?;
        }
        return Ok(Turn {
            outcome: TurnOutcome::Ran {
                replies,
                claim,
                committed,
            },
            conv_key,
            guard,
        });
    }
    Err(CoreError::TooManyConflicts {
        conversation: conversation_id.to_string(),
        attempts,
    })
}

struct BotReplies {
    replies: Vec<Activity>,
    typing_sent: bool,
}

/// Runs the bot. When it takes longer than `engine.typing_after` (a remote
/// KB, say) and replies go to the channel, a typing indicator goes out
/// meanwhile, and is done before the replies can be: it never arrives after
/// them. It is not a reply (nothing is said before the commit), so it is
/// sent once, not kept or retried.
async fn on_turn(
    engine: &Arc<Engine>,
    activity: &Activity,
    conversation: &mut ConversationState,
    user: &mut StateDoc,
    may_type: bool,
    deadline: Instant,
) -> Result<BotReplies, CoreError> {
    let work = engine.bot.on_turn(activity, conversation, user);
    let after = engine
        .typing_after
        .filter(|_| may_type && activity.is_type(activity_types::MESSAGE));
    let Some(after) = after else {
        return Ok(BotReplies {
            replies: work.await?,
            typing_sent: false,
        });
    };
    tokio::pin!(work);
    if let Ok(replies) = tokio::time::timeout(after, &mut work).await {
        return Ok(BotReplies {
            replies: replies?,
            typing_sent: false,
        });
    }
    let typing = async {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = engine.outbox.policy.per_try_timeout.min(left);
        if let Err(e) = engine
            .connector
            .send_once(&activity.create_typing(), timeout)
            .await
        {
            tracing::info!(error = %e, "the typing indicator was not accepted");
        }
    };
    let (replies, ()) = tokio::join!(work, typing);
    Ok(BotReplies {
        replies: replies?,
        typing_sent: true,
    })
}

/// User state is shared by all of a user's conversations. Its changes are
/// applied member by member onto a fresh read when it conflicts, instead of
/// re-running a turn that is already committed.
async fn save_user_changes(
    engine: &Arc<Engine>,
    user: &StateDoc,
    before: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), CoreError> {
    let mut current = user.clone();
    for attempt in 0..engine.max_turn_attempts {
        let write = engine
            .storage
            .write(vec![current.to_change()])
            .instrument(tracing::info_span!(
                "state.write",
                attempt,
                document = "user"
            ))
            .await;
        match write {
            Ok(_) => return Ok(()),
            Err(StorageError::Conflict { .. }) => {
                engine.observer.etag_conflict("user");
                backoff(attempt).await;
                let mut fresh = engine.storage.read(std::slice::from_ref(&user.key)).await?;
                current = StateDoc::from_item(user.key.clone(), fresh.remove(&user.key));
                for (k, v) in &user.doc {
                    if before.get(k) != Some(v) {
                        current.doc.insert(k.clone(), v.clone());
                    }
                }
                for k in before.keys().filter(|k| !user.doc.contains_key(*k)) {
                    current.doc.remove(k);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::TooManyConflicts {
        conversation: user.key.clone(),
        attempts: engine.max_turn_attempts,
    })
}

/// Jittered, growing pause so that contenders spread out instead of
/// colliding again in lock step.
async fn backoff(attempt: u32) {
    let cap_us = 200u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..=cap_us))).await;
}
