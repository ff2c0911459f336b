//! The turn pipeline: load state, run the bot, save state with eTags, and
//! only then hand the replies out. A conflict re-runs the whole turn from a
//! fresh read, so concurrent turns on one conversation never lose an update
//! and no reply is ever sent for a turn that was not saved.

use std::time::Duration;

use bot_schema::{activity_types, Activity, DeliveryMode};
use bot_storage::StorageError;
use tracing::Instrument;

use crate::app_state::AppState;
use crate::error::ApiError;
use crate::state::{user_key, ConversationState, StateDoc};
use crate::telemetry::metrics::metrics;

pub enum TurnOutcome {
    /// A new turn ran and was saved; these are its replies.
    Ran(Vec<Activity>),
    /// The activity was already processed; for expectReplies, the replies it got then.
    Redelivered(Option<Vec<Activity>>),
}

pub async fn run(app: &AppState, activity: &Activity) -> Result<TurnOutcome, ApiError> {
    let channel = activity.channel_id();
    let conversation_id = activity.conversation_id().unwrap_or_default();
    let conv_key = ConversationState::key(channel, conversation_id);
    let user_key = activity.from_id().map(|id| user_key(channel, id));
    let keys: Vec<String> = std::iter::once(conv_key.clone())
        .chain(user_key.clone())
        .collect();
    let expect_replies = activity.delivery_mode() == DeliveryMode::ExpectReplies;
    let activity_id = activity.id.as_deref().filter(|s| !s.is_empty());
    let attempts = app.settings.bot.max_turn_attempts;
    let _turn_slot = app.conversation_locks.lock(&conv_key).await;

    for attempt in 0..attempts {
        let mut items = app
            .storage
            .read(&keys)
            .instrument(tracing::info_span!("state.read", attempt))
            .await?;
        let mut conversation = ConversationState(StateDoc::from_item(
            conv_key.clone(),
            items.remove(&conv_key),
        ));
        if let Some(id) = activity_id {
            if let Some(done) = conversation.processed(id) {
                tracing::info!(
                    activity_id = id,
                    "redelivered activity: not running the turn again"
                );
                return Ok(TurnOutcome::Redelivered(done.replies));
            }
        }
        let mut user = user_key
            .as_ref()
            .map(|k| StateDoc::from_item(k.clone(), items.remove(k)))
            .unwrap_or_default();
        let user_before = user.doc.clone();

        let mut replies = app
            .bot
            .on_turn(activity, &mut conversation, &mut user)
            .await?;
        // Trace activities are for the Emulator only.
        if activity.channel_id() != "emulator" {
            replies.retain(|r| !r.is_type(activity_types::TRACE));
        }
        if let Some(id) = activity_id {
            conversation.record_processed(id, expect_replies.then_some(replies.as_slice()));
        }

        // The conversation document is the turn's commit point: it carries the
        // processed-activity record, so it is written first and conditionally.
        let write = app
            .storage
            .write(vec![conversation.0.into_change()])
            .instrument(tracing::info_span!(
                "state.write",
                attempt,
                document = "conversation"
            ))
            .await;
        match write {
            Ok(_) => {}
            Err(StorageError::Conflict { .. }) => {
                metrics().etag_conflict("conversation");
                tracing::debug!(
                    attempt,
                    conversation = conversation_id,
                    "eTag conflict, re-running turn"
                );
                backoff(attempt).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        if user_key.is_some() && user.doc != user_before {
            save_user_changes(app, &user, &user_before).await?;
        }
        return Ok(TurnOutcome::Ran(replies));
    }
    Err(ApiError::TooManyConflicts {
        conversation: conversation_id.to_string(),
        attempts,
    })
}

/// User state is shared by all of a user's conversations. Its changes are
/// applied member by member onto a fresh read when it conflicts, instead of
/// re-running a turn that is already committed.
async fn save_user_changes(
    app: &AppState,
    user: &StateDoc,
    before: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ApiError> {
    let mut current = user.clone();
    for attempt in 0..app.settings.bot.max_turn_attempts {
        let write = app
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
                metrics().etag_conflict("user");
                backoff(attempt).await;
                let mut fresh = app.storage.read(std::slice::from_ref(&user.key)).await?;
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
    Err(ApiError::TooManyConflicts {
        conversation: user.key.clone(),
        attempts: app.settings.bot.max_turn_attempts,
    })
}

/// Jittered, growing pause so that contenders spread out instead of
/// colliding again in lock step.
async fn backoff(attempt: u32) {
    let cap_us = 200u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..=cap_us))).await;
}
