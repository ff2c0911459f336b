//! Conversation and user state as stored: JSON objects in botbuilder's shape
//! (one member per state property), so a botbuilder bot can share them.
//! Members this bot does not know are kept as they are.

use bot_schema::Activity;
use bot_storage::{Change, Precondition, StoreItem};
use serde::Deserialize;
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
#[derive(Debug, Clone)]
pub struct Processed {
    pub id: String,
    pub replies: Option<Vec<Activity>>,
}

/// The member of a processed record holding its replies as one JSON string.
/// Kept as a string, the replies cost one allocation to read, copy and write
/// on every turn instead of a tree of maps that only a redelivery looks into.
const REPLIES_JSON: &str = "repliesJson";
/// The same replies as a JSON array, as earlier versions recorded them
/// (still read, so a redelivery across an upgrade gets its replies).
const REPLIES_TREE: &str = "replies";

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
        let record = list
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(activity_id))?;
        let replies = match (record.get(REPLIES_JSON), record.get(REPLIES_TREE)) {
            (Some(Value::String(json)), _) => serde_json::from_str(json).ok(),
            (_, Some(tree)) => Vec::<Activity>::deserialize(tree).ok(),
            _ => None,
        };
        Some(Processed {
            id: activity_id.to_string(),
            replies,
        })
    }

    /// Remembers a processed activity. Works on the stored JSON directly:
    /// this runs on every turn, and older records are never parsed.
    pub fn record_processed(&mut self, activity_id: &str, replies: Option<&[Activity]>) {
        let mut record = Map::new();
        record.insert("id".into(), Value::String(activity_id.to_string()));
        if let Some(r) = replies {
            record.insert(
                REPLIES_JSON.into(),
                Value::String(serde_json::to_string(r).unwrap_or_else(|_| "[]".into())),
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
                    m.remove(REPLIES_JSON);
                    m.remove(REPLIES_TREE);
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
            .filter(|p| p.get(REPLIES_JSON).is_some())
            .count();
        assert_eq!(with_replies, REPLIES_WINDOW);
        assert!(c.processed("r99").unwrap().replies.is_some());
        assert!(c.processed("r80").unwrap().replies.is_none());
        assert_eq!(c.0.doc["someBotbuilderProperty"], "kept");
    }

    #[test]
    fn replies_round_trip_and_earlier_records_are_read() {
        let mut c = ConversationState(StateDoc::default());
        let reply = Activity {
            kind: Some("message".into()),
            text: Some("an \"answer\"".into()),
            ..Default::default()
        };
        c.record_processed("new", Some(std::slice::from_ref(&reply)));
        assert_eq!(
            c.processed("new").unwrap().replies,
            Some(vec![reply.clone()])
        );
        // A record as earlier versions wrote it: the replies as a JSON array.
        c.0.doc["processedActivities"].as_array_mut().unwrap().push(
            serde_json::json!({"id": "old", "replies": [{"type": "message", "text": "then"}]}),
        );
        let old = c.processed("old").unwrap().replies.unwrap();
        assert_eq!(old[0].text.as_deref(), Some("then"));
        // A record that lost its replies is still a processed activity.
        for i in 0..REPLIES_WINDOW {
            c.record_processed(&format!("n{i}"), None);
        }
        let old = c.processed("old").unwrap();
        assert_eq!((old.id.as_str(), old.replies), ("old", None));
    }

    #[test]
    fn new_state_is_created_only_if_absent() {
        let s = StateDoc::from_item("k".into(), None);
        assert_eq!(s.to_change().precondition, Precondition::IfNotExists);
    }
}
