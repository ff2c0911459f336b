//! Hand-off to a person. An Escalate opens a hand-off: the conversation is
//! put on the list of open hand-offs, an operator's messages reach the user
//! (the proactive path), and the user's messages are recorded for the
//! operator instead of being answered, until the hand-off is closed.
//!
//! Both live in the configured storage, so they survive a restart and the
//! other region sees them:
//! - the conversation document's `handoff` member is what a turn obeys. The
//!   user's messages are recorded in it by the turn's own commit, so each is
//!   recorded once, however often it is redelivered;
//! - the document [`INDEX_KEY`] lists the open hand-offs, because storage
//!   has no query. An Escalate adds its entry before the turn commits, and
//!   a close takes it out after the conversation is back with the bot: a
//!   crash in between leaves an entry too many (listed as nothing, removed
//!   by the next close), never a hand-off nobody can see.

use std::time::Duration;

use bot_schema::activity::now_rfc3339;
use bot_schema::{Activity, ChannelAccount};
use bot_storage::{Storage, StorageError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::CoreError;
use crate::state::{ConversationState, StateDoc};

/// The document listing open hand-offs.
pub const INDEX_KEY: &str = "handoffs/open";
/// A hand-off keeps the user's newest messages, at most this many.
pub const MAX_RECORDED: usize = 100;
const MEMBER: &str = "handoff";
const ATTEMPTS: u32 = 16;

/// An open hand-off, as the conversation document keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handoff {
    pub opened_at: String,
    /// The activity that asked for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<ChannelAccount>,
    /// The user's messages since, oldest first.
    #[serde(default)]
    pub messages: Vec<RecordedMessage>,
    /// Older messages dropped to keep [`MAX_RECORDED`].
    #[serde(default)]
    pub dropped: u64,
}

/// A user's message kept for the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ChannelAccount>,
    #[serde(default)]
    pub text: String,
    /// How many attachments came with it (they are not copied).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attachments: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A hand-off as the operator sees it: the conversation and its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenHandoff {
    pub channel_id: String,
    pub conversation_id: String,
    #[serde(flatten)]
    pub handoff: Handoff,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    channel_id: String,
    conversation_id: String,
    opened_at: String,
}

impl ConversationState {
    /// Whether the conversation is with a person (cheaper than `handoff`).
    pub fn is_handed_off(&self) -> bool {
        self.0.doc.contains_key(MEMBER)
    }

    /// The open hand-off, if the conversation is with a person.
    pub fn handoff(&self) -> Option<Handoff> {
        Handoff::deserialize(self.0.doc.get(MEMBER)?).ok()
    }

    /// Hands the conversation to a person, from `activity` on.
    pub fn open_handoff(&mut self, activity: &Activity) {
        let h = Handoff {
            opened_at: now_rfc3339(),
            activity_id: activity.id.clone(),
            user: activity.from.clone(),
            messages: Vec::new(),
            dropped: 0,
        };
        if let Ok(v) = serde_json::to_value(h) {
            self.0.doc.insert(MEMBER.into(), v);
        }
    }

    /// Keeps the user's message for the operator. False when no hand-off is open.
    pub fn record_for_operator(&mut self, activity: &Activity) -> bool {
        let Some(mut h) = self.handoff() else {
            return false;
        };
        h.messages.push(RecordedMessage {
            id: activity.id.clone(),
            timestamp: activity.timestamp.clone().unwrap_or_else(now_rfc3339),
            from: activity.from.clone(),
            text: activity.text.clone().unwrap_or_default(),
            attachments: activity.attachments.as_ref().map_or(0, Vec::len),
        });
        let over = h.messages.len().saturating_sub(MAX_RECORDED);
        h.messages.drain(..over);
        h.dropped += over as u64;
        if let Ok(v) = serde_json::to_value(h) {
            self.0.doc.insert(MEMBER.into(), v);
        }
        true
    }

    fn take_handoff(&mut self) -> Option<Handoff> {
        let h = self.handoff();
        self.0.doc.remove(MEMBER);
        h
    }
}

/// Jittered pause before another eTag attempt.
async fn backoff(attempt: u32) {
    let cap_us = 500u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_micros(fastrand::u64(0..=cap_us))).await;
}

/// Changes the index with `f` (false: nothing to write), with its eTag.
async fn update_index(
    storage: &dyn Storage,
    f: impl Fn(&mut Vec<IndexEntry>) -> bool,
) -> Result<(), CoreError> {
    for attempt in 0..ATTEMPTS {
        let mut items = storage.read(&[INDEX_KEY.to_string()]).await?;
        let doc = StateDoc::from_item(INDEX_KEY.to_string(), items.remove(INDEX_KEY));
        let mut entries = read_entries(&doc.doc);
        if !f(&mut entries) {
            return Ok(());
        }
        let mut change = doc.into_change();
        change.document["open"] = serde_json::to_value(&entries).unwrap_or_default();
        match storage.write(vec![change]).await {
            Ok(_) => return Ok(()),
            Err(StorageError::Conflict { .. }) => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(CoreError::TooManyConflicts {
        conversation: INDEX_KEY.to_string(),
        attempts: ATTEMPTS,
    })
}

fn read_entries(doc: &Map<String, Value>) -> Vec<IndexEntry> {
    doc.get("open")
        .and_then(|v| Vec::<IndexEntry>::deserialize(v).ok())
        .unwrap_or_default()
}

/// Puts a conversation on the list of open hand-offs (once).
pub async fn register(
    storage: &dyn Storage,
    channel_id: &str,
    conversation_id: &str,
) -> Result<(), CoreError> {
    let opened_at = now_rfc3339();
    update_index(storage, |entries| {
        let listed = entries
            .iter()
            .any(|e| e.channel_id == channel_id && e.conversation_id == conversation_id);
        if !listed {
            entries.push(IndexEntry {
                channel_id: channel_id.to_string(),
                conversation_id: conversation_id.to_string(),
                opened_at: opened_at.clone(),
            });
        }
        !listed
    })
    .await
}

/// The open hand-offs, oldest first, with what their users said since.
pub async fn list(storage: &dyn Storage) -> Result<Vec<OpenHandoff>, CoreError> {
    let mut items = storage.read(&[INDEX_KEY.to_string()]).await?;
    let index = StateDoc::from_item(INDEX_KEY.to_string(), items.remove(INDEX_KEY));
    let entries = read_entries(&index.doc);
    let keys: Vec<String> = entries
        .iter()
        .map(|e| ConversationState::key(&e.channel_id, &e.conversation_id))
        .collect();
    let mut docs = if keys.is_empty() {
        Default::default()
    } else {
        storage.read(&keys).await?
    };
    Ok(entries
        .into_iter()
        .zip(keys)
        .filter_map(|(e, key)| {
            let conversation =
                ConversationState(StateDoc::from_item(key.clone(), docs.remove(&key)));
            // Listed but not open: an Escalate not committed yet, or a close
            // that did not get to the index.
            conversation.handoff().map(|handoff| OpenHandoff {
                channel_id: e.channel_id,
                conversation_id: e.conversation_id,
                handoff,
            })
        })
        .collect())
}

/// Gives the conversation back to the bot and takes it off the list.
/// Answers what the hand-off recorded.
pub async fn close(
    storage: &dyn Storage,
    channel_id: &str,
    conversation_id: &str,
) -> Result<OpenHandoff, CoreError> {
    let key = ConversationState::key(channel_id, conversation_id);
    let mut attempt = 0;
    let closed = loop {
        let mut items = storage.read(std::slice::from_ref(&key)).await?;
        let mut conversation =
            ConversationState(StateDoc::from_item(key.clone(), items.remove(&key)));
        let Some(handoff) = conversation.take_handoff() else {
            break None;
        };
        match storage.write(vec![conversation.0.into_change()]).await {
            Ok(_) => break Some(handoff),
            Err(StorageError::Conflict { .. }) if attempt + 1 < ATTEMPTS => {
                backoff(attempt).await;
                attempt += 1;
            }
            Err(StorageError::Conflict { .. }) => {
                return Err(CoreError::TooManyConflicts {
                    conversation: key,
                    attempts: ATTEMPTS,
                })
            }
            Err(e) => return Err(e.into()),
        }
    };
    // Whether or not it was open, it is not listed any more.
    update_index(storage, |entries| {
        let before = entries.len();
        entries.retain(|e| !(e.channel_id == channel_id && e.conversation_id == conversation_id));
        entries.len() != before
    })
    .await?;
    closed
        .map(|handoff| OpenHandoff {
            channel_id: channel_id.to_string(),
            conversation_id: conversation_id.to_string(),
            handoff,
        })
        .ok_or_else(|| CoreError::NotHandedOff {
            channel: channel_id.to_string(),
            conversation: conversation_id.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_storage::MemoryStorage;

    fn message(id: &str, text: &str) -> Activity {
        serde_json::from_value(serde_json::json!({
            "type": "message", "id": id, "text": text, "channelId": "msteams",
            "conversation": {"id": "a:1"}, "from": {"id": "29:u", "name": "Megan"},
        }))
        .unwrap()
    }

    #[test]
    fn the_record_keeps_the_newest_messages() {
        let mut c = ConversationState::default();
        assert!(!c.record_for_operator(&message("0", "not open")));
        c.open_handoff(&message("e", "talk to a person"));
        for i in 0..(MAX_RECORDED + 5) {
            assert!(c.record_for_operator(&message(&i.to_string(), &format!("m{i}"))));
        }
        let h = c.handoff().unwrap();
        assert_eq!(h.activity_id.as_deref(), Some("e"));
        assert_eq!(h.user.unwrap().name.as_deref(), Some("Megan"));
        assert_eq!(h.messages.len(), MAX_RECORDED);
        assert_eq!(h.dropped, 5);
        assert_eq!(h.messages[0].text, "m5");
    }

    #[tokio::test]
    async fn register_list_and_close() {
        let storage = MemoryStorage::new();
        // Listed but not committed: not shown.
        register(&storage, "msteams", "a:1").await.unwrap();
        register(&storage, "msteams", "a:1").await.unwrap();
        assert!(list(&storage).await.unwrap().is_empty());
        let mut c = ConversationState(StateDoc::from_item(
            ConversationState::key("msteams", "a:1"),
            None,
        ));
        c.0.doc.insert("turnCount".into(), 3.into());
        c.open_handoff(&message("e", "talk to a person"));
        c.record_for_operator(&message("m1", "are you there?"));
        storage.write(vec![c.0.into_change()]).await.unwrap();
        let open = list(&storage).await.unwrap();
        assert_eq!(open.len(), 1, "registered twice, listed once");
        assert_eq!(open[0].handoff.messages[0].text, "are you there?");

        let closed = close(&storage, "msteams", "a:1").await.unwrap();
        assert_eq!(closed.conversation_id, "a:1");
        assert!(list(&storage).await.unwrap().is_empty());
        let key = ConversationState::key("msteams", "a:1");
        let doc = storage.read(std::slice::from_ref(&key)).await.unwrap();
        let doc = &doc[&key].document;
        assert!(doc.get("handoff").is_none());
        assert_eq!(doc["turnCount"], 3, "the rest of the document is kept");
        assert!(matches!(
            close(&storage, "msteams", "a:1").await,
            Err(CoreError::NotHandedOff { .. })
        ));
    }
}
