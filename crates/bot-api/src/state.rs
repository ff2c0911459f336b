//! Conversation and user state as stored: JSON objects in botbuilder's shape
//! (one member per state property), so a botbuilder bot can share them.
//! Members this bot does not know are kept as they are.

use bot_schema::Activity;
use bot_storage::{Change, Precondition, StoreItem};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How many processed activity ids a conversation remembers, to answer a
/// redelivery without running the turn twice.
pub const PROCESSED_WINDOW: usize = 32;
/// How many of those keep their replies (for expectReplies redeliveries).
/// Replies are most of the document's size, and a redelivery comes within
/// seconds of the original, so only the newest keep them.
pub const REPLIES_WINDOW: usize = 4;

/// A state document and the eTag it was read with (none: it did not exist).
#[derive(Debug, Clone, Default)]
pub struct StateDoc {
    pub key: String,
    pub doc: Map<String, Value>,
    pub etag: Option<String>,
}

impl StateDoc {
    /// Takes the item over: the document is not copied.
    pub fn from_item(key: String, item: Option<StoreItem>) -> Self {
        match item {
            Some(i) => Self {
                key,
                doc: match i.document {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                etag: Some(i.etag),
            },
            None => Self {
                key,
                doc: Map::new(),
                etag: None,
            },
        }
    }

    /// The write that saves this document only if nobody else has since.
    pub fn to_change(&self) -> Change {
        self.clone().into_change()
    }

    /// `to_change` without copying the document, for the last use.
    pub fn into_change(self) -> Change {
        Change {
            key: self.key,
            document: Value::Object(self.doc),
            precondition: match self.etag {
                Some(e) => Precondition::IfMatch(e),
                None => Precondition::IfNotExists,
            },
        }
    }
}

/// A processed activity and, for expectReplies, the replies it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Processed {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<Vec<Activity>>,
}

/// The conversation state this bot keeps.
#[derive(Debug, Clone, Default)]
pub struct ConversationState(pub StateDoc);

impl ConversationState {
    pub fn key(channel_id: &str, conversation_id: &str) -> String {
        format!("{channel_id}/conversations/{conversation_id}/")
    }

    pub fn turn_count(&self) -> u64 {
        self.0
            .doc
            .get("turnCount")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    pub fn set_turn_count(&mut self, n: u64) {
        self.0.doc.insert("turnCount".into(), n.into());
    }

    pub fn previous_qna_id(&self) -> Option<u64> {
        self.0.doc.get("previousQnaId").and_then(Value::as_u64)
    }

    pub fn previous_user_query(&self) -> Option<String> {
        self.0
            .doc
            .get("previousUserQuery")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    pub fn set_previous(&mut self, qna_id: Option<u64>, query: &str) {
        match qna_id {
            Some(id) => {
                self.0.doc.insert("previousQnaId".into(), id.into());
                self.0.doc.insert("previousUserQuery".into(), query.into());
            }
            None => {
                self.0.doc.remove("previousQnaId");
                self.0.doc.remove("previousUserQuery");
            }
        }
    }

    /// The record of an activity this conversation already processed.
    pub fn processed(&self, activity_id: &str) -> Option<Processed> {
        let list = self.0.doc.get("processedActivities")?.as_array()?;
        list.iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(activity_id))
            .and_then(|p| serde_json::from_value(p.clone()).ok())
    }

    /// Remembers a processed activity. Works on the stored JSON directly:
    /// this runs on every turn, and older records are never parsed.
    pub fn record_processed(&mut self, activity_id: &str, replies: Option<&[Activity]>) {
        let mut record = Map::new();
        record.insert("id".into(), Value::String(activity_id.to_string()));
        if let Some(r) = replies {
            record.insert(
                "replies".into(),
                serde_json::to_value(r).unwrap_or(Value::Array(Vec::new())),
            );
        }
        let entry = self
            .0
            .doc
            .entry("processedActivities")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        if let Value::Array(list) = entry {
            list.push(Value::Object(record));
            if list.len() > PROCESSED_WINDOW {
                list.drain(..list.len() - PROCESSED_WINDOW);
            }
            let keep_from = list.len().saturating_sub(REPLIES_WINDOW);
            for p in &mut list[..keep_from] {
                if let Value::Object(m) = p {
                    m.remove("replies");
                }
            }
        }
    }
}

pub fn user_key(channel_id: &str, user_id: &str) -> String {
    format!("{channel_id}/users/{user_id}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_botbuilder() {
        assert_eq!(
            ConversationState::key("emulator", "c 1"),
            "emulator/conversations/c 1/"
        );
        assert_eq!(user_key("msteams", "29:x"), "msteams/users/29:x/");
    }

    #[test]
    fn processed_window_is_bounded_and_unknown_members_kept() {
        let mut c = ConversationState(StateDoc::default());
        c.0.doc
            .insert("someBotbuilderProperty".into(), "kept".into());
        for i in 0..100 {
            c.record_processed(&format!("a{i}"), None);
        }
        assert!(c.processed("a99").is_some());
        assert!(c.processed("a0").is_none());
        let list =
            |c: &ConversationState| c.0.doc["processedActivities"].as_array().unwrap().clone();
        assert_eq!(list(&c).len(), PROCESSED_WINDOW);
        for i in 0..100 {
            c.record_processed(&format!("r{i}"), Some(&[]));
        }
        let with_replies = list(&c)
            .iter()
            .filter(|p| p.get("replies").is_some())
            .count();
        assert_eq!(with_replies, REPLIES_WINDOW);
        assert!(c.processed("r99").unwrap().replies.is_some());
        assert!(c.processed("r80").unwrap().replies.is_none());
        assert_eq!(c.0.doc["someBotbuilderProperty"], "kept");
    }

    #[test]
    fn new_state_is_created_only_if_absent() {
        let s = StateDoc::from_item("k".into(), None);
        assert_eq!(s.to_change().precondition, Precondition::IfNotExists);
    }
}
