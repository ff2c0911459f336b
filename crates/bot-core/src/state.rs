//! Conversation and user state as stored: JSON objects in botbuilder's shape
//! (one member per state property), so a botbuilder bot can share them.
//! Members this bot does not know are kept as they are.

use bot_schema::{Activity, ConversationReference};
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

/// A processed activity and what became of its replies.
#[derive(Debug, Clone)]
pub struct Processed {
    pub id: String,
    /// For expectReplies: the replies it got (the newest few keep them).
    pub replies: Option<Vec<Activity>>,
    /// For replies POSTed to the channel: those it has not accepted yet.
    pub outbox: Option<Outbox>,
}

/// A turn's replies that still have to reach the channel: the outbox, kept
/// in the processed record that the turn's commit writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbox {
    pub replies: Vec<Activity>,
    /// How many replies, from the first, are done: accepted by the channel,
    /// or refused by it for good. They go out in order.
    pub sent: usize,
    /// How many of the done ones the channel refused for good.
    pub failed: usize,
    pub claim: Option<Claim>,
}

/// Which instance may send an outbox's replies, until when. It is written
/// with the document's eTag, so of a background retry, a redelivery and the
/// next activity, in any region, only the holder sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub owner: String,
    /// Milliseconds since the Unix epoch.
    pub until_ms: u64,
}

/// How a turn's record keeps its replies.
pub enum Recorded<'a> {
    /// Nothing to keep: no replies, or none that a redelivery needs.
    Nothing,
    /// expectReplies: a redelivery gets them again in its HTTP answer.
    ExpectedReplies(&'a [Activity]),
    /// Sent to the channel after the commit, by the claim's holder.
    Outbox(&'a [Activity], Claim),
}

/// The member of a processed record holding its replies as one JSON string.
/// Kept as a string, the replies cost one allocation to read, copy and write
/// on every turn instead of a tree of maps that only a redelivery looks into.
const REPLIES_JSON: &str = "repliesJson";
/// The same replies as a JSON array, as earlier versions recorded them
/// (still read, so a redelivery across an upgrade gets its replies).
const REPLIES_TREE: &str = "replies";
/// Outbox members; `sent` is present exactly while replies are pending.
const SENT: &str = "sent";
const FAILED: &str = "failed";
const CLAIM: &str = "claim";
const CLAIM_UNTIL: &str = "claimUntil";
/// The conversation's reference, for proactive messages.
const REFERENCE: &str = "conversationReference";

fn record_replies(record: &Value) -> Option<Vec<Activity>> {
    match (record.get(REPLIES_JSON), record.get(REPLIES_TREE)) {
        (Some(Value::String(json)), _) => serde_json::from_str(json).ok(),
        (_, Some(tree)) => Vec::<Activity>::deserialize(tree).ok(),
        _ => None,
    }
}

fn record_outbox(record: &Value) -> Option<Outbox> {
    let sent = record.get(SENT)?.as_u64()? as usize;
    let claim = match (record.get(CLAIM), record.get(CLAIM_UNTIL)) {
        (Some(Value::String(owner)), Some(until)) => Some(Claim {
            owner: owner.clone(),
            until_ms: until.as_u64().unwrap_or(0),
        }),
        _ => None,
    };
    Some(Outbox {
        replies: record_replies(record).unwrap_or_default(),
        sent,
        failed: record.get(FAILED).and_then(Value::as_u64).unwrap_or(0) as usize,
        claim,
    })
}

fn is_pending(record: &Value) -> bool {
    record.get(SENT).is_some()
}

/// A record is its activity id alone (a string: one allocation to read,
/// copy and write, where most of a conversation's 32 records are just that)
/// or an object with the id and its replies or outbox.
fn record_id(record: &Value) -> Option<&str> {
    match record {
        Value::String(id) => Some(id),
        other => other.get("id").and_then(Value::as_str),
    }
}

/// A record object with nothing but its id becomes the id alone.
fn compact(record: &mut Value) {
    if let Value::Object(m) = record {
        if m.len() == 1 {
            if let Some(Value::String(id)) = m.remove("id") {
                *record = Value::String(id);
            }
        }
    }
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

    /// Where proactive messages to this conversation go: the reference of
    /// its latest activity, in botbuilder's `ConversationReference` shape.
    pub fn reference(&self) -> Option<ConversationReference> {
        let r = self.0.doc.get(REFERENCE)?;
        ConversationReference::deserialize(r).ok()
    }

    pub fn set_reference(&mut self, reference: &ConversationReference) {
        if let Ok(v) = serde_json::to_value(reference) {
            self.0.doc.insert(REFERENCE.into(), v);
        }
    }

    fn records(&self) -> &[Value] {
        self.0
            .doc
            .get("processedActivities")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    fn record_mut(&mut self, activity_id: &str) -> Option<&mut Map<String, Value>> {
        self.0
            .doc
            .get_mut("processedActivities")?
            .as_array_mut()?
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .find(|p| p.get("id").and_then(Value::as_str) == Some(activity_id))
    }

    /// Turns the record of `activity_id` into its id alone, if nothing else
    /// is left in it.
    fn compact_record(&mut self, activity_id: &str) {
        if let Some(list) = self
            .0
            .doc
            .get_mut("processedActivities")
            .and_then(Value::as_array_mut)
        {
            if let Some(r) = list.iter_mut().find(|r| record_id(r) == Some(activity_id)) {
                compact(r);
            }
        }
    }

    /// The record of an activity this conversation already processed.
    pub fn processed(&self, activity_id: &str) -> Option<Processed> {
        let record = self
            .records()
            .iter()
            .find(|p| record_id(p) == Some(activity_id))?;
        let outbox = record_outbox(record);
        Some(Processed {
            id: activity_id.to_string(),
            replies: outbox.is_none().then(|| record_replies(record)).flatten(),
            outbox,
        })
    }

    /// The ids of earlier activities whose replies the channel has not all
    /// accepted yet, oldest first.
    pub fn pending(&self) -> Vec<String> {
        self.records()
            .iter()
            .filter(|p| is_pending(p))
            .filter_map(|p| record_id(p).map(str::to_string))
            .collect()
    }

    /// Remembers a processed activity. Works on the stored JSON directly:
    /// this runs on every turn, and older records are never parsed.
    pub fn record_processed(&mut self, activity_id: &str, replies: Recorded<'_>) {
        let mut record = Map::new();
        record.insert("id".into(), Value::String(activity_id.to_string()));
        let json = |r: &[Activity]| {
            Value::String(serde_json::to_string(r).unwrap_or_else(|_| "[]".into()))
        };
        match replies {
            Recorded::Nothing => {}
            Recorded::ExpectedReplies(r) => {
                record.insert(REPLIES_JSON.into(), json(r));
            }
            Recorded::Outbox([], _) => {}
            Recorded::Outbox(r, claim) => {
                record.insert(REPLIES_JSON.into(), json(r));
                record.insert(SENT.into(), 0.into());
                record.insert(CLAIM.into(), claim.owner.into());
                record.insert(CLAIM_UNTIL.into(), claim.until_ms.into());
            }
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
            let mut record = Value::Object(record);
            compact(&mut record);
            list.push(record);
            // The oldest go first, except records whose replies are still
            // pending: those are never forgotten, or a reply would be lost.
            let mut over = list.len().saturating_sub(PROCESSED_WINDOW);
            list.retain(|p| {
                let drop = over > 0 && !is_pending(p);
                over -= usize::from(drop);
                !drop
            });
            let keep_from = list.len().saturating_sub(REPLIES_WINDOW);
            for p in &mut list[..keep_from] {
                if let Value::Object(m) = p {
                    if !m.contains_key(SENT) {
                        m.remove(REPLIES_JSON);
                        m.remove(REPLIES_TREE);
                    }
                }
                compact(p);
            }
        }
    }

    /// Writes how far an outbox got. Once every reply is done the record is
    /// as small as any other (its replies are no longer needed); a count of
    /// replies the channel refused for good stays. Progress never goes back,
    /// so a stale caller cannot undo another's. Returns false when the
    /// record has no outbox (nothing to change).
    pub fn update_outbox(
        &mut self,
        activity_id: &str,
        progress: Progress,
        claim: Option<&Claim>,
    ) -> bool {
        let Some(record) = self.record_mut(activity_id) else {
            return false;
        };
        let Some(stored) = record.get(SENT).and_then(Value::as_u64) else {
            return false;
        };
        let sent = progress.sent.max(stored as usize);
        let failed = progress
            .failed
            .max(record.get(FAILED).and_then(Value::as_u64).unwrap_or(0) as usize);
        if failed > 0 {
            record.insert(FAILED.into(), failed.into());
        }
        if sent >= progress.total {
            for k in [SENT, REPLIES_JSON, REPLIES_TREE, CLAIM, CLAIM_UNTIL] {
                record.remove(k);
            }
            self.compact_record(activity_id);
            return true;
        }
        record.insert(SENT.into(), sent.into());
        match claim {
            Some(c) => {
                record.insert(CLAIM.into(), c.owner.clone().into());
                record.insert(CLAIM_UNTIL.into(), c.until_ms.into());
            }
            None => {
                record.remove(CLAIM);
                record.remove(CLAIM_UNTIL);
            }
        }
        true
    }
}

/// How far an outbox of `total` replies got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub total: usize,
    /// Done, from the first: accepted, or refused for good.
    pub sent: usize,
    /// Of the done ones, refused for good.
    pub failed: usize,
}

impl Progress {
    pub fn complete(&self) -> bool {
        self.sent >= self.total
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
            c.record_processed(&format!("a{i}"), Recorded::Nothing);
        }
        assert!(c.processed("a99").is_some());
        assert!(c.processed("a0").is_none());
        let list =
            |c: &ConversationState| c.0.doc["processedActivities"].as_array().unwrap().clone();
        assert_eq!(list(&c).len(), PROCESSED_WINDOW);
        for i in 0..100 {
            c.record_processed(&format!("r{i}"), Recorded::ExpectedReplies(&[]));
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
        c.record_processed(
            "new",
            Recorded::ExpectedReplies(std::slice::from_ref(&reply)),
        );
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
            c.record_processed(&format!("n{i}"), Recorded::Nothing);
        }
        let old = c.processed("old").unwrap();
        assert_eq!((old.id.as_str(), old.replies), ("old", None));
    }

    fn reply(text: &str) -> Activity {
        Activity {
            kind: Some("message".into()),
            text: Some(text.into()),
            ..Default::default()
        }
    }

    fn claim() -> Claim {
        Claim {
            owner: "a/1".into(),
            until_ms: 42,
        }
    }

    #[test]
    fn an_outbox_is_kept_until_every_reply_is_done_and_then_shrinks() {
        let mut c = ConversationState(StateDoc::default());
        c.0.doc.insert("botbuilderProperty".into(), "kept".into());
        let replies = [reply("one"), reply("two")];
        c.record_processed("a1", Recorded::Outbox(&replies, claim()));
        assert_eq!(c.pending(), ["a1"]);
        let outbox = c.processed("a1").unwrap().outbox.unwrap();
        assert_eq!(
            (outbox.replies.len(), outbox.sent, outbox.claim),
            (2, 0, Some(claim()))
        );

        let total = 2;
        assert!(c.update_outbox(
            "a1",
            Progress {
                total,
                sent: 1,
                failed: 0
            },
            Some(&claim())
        ));
        assert_eq!(c.processed("a1").unwrap().outbox.unwrap().sent, 1);
        // Progress never goes back.
        c.update_outbox(
            "a1",
            Progress {
                total,
                sent: 0,
                failed: 0,
            },
            None,
        );
        assert_eq!(c.processed("a1").unwrap().outbox.unwrap().sent, 1);

        c.update_outbox(
            "a1",
            Progress {
                total,
                sent: 2,
                failed: 1,
            },
            None,
        );
        assert!(c.pending().is_empty());
        let record = &c.0.doc["processedActivities"][0];
        assert_eq!(record, &serde_json::json!({"id": "a1", "failed": 1}));
        assert!(c.processed("a1").unwrap().outbox.is_none());
        // Nothing left to change.
        assert!(!c.update_outbox(
            "a1",
            Progress {
                total,
                sent: 2,
                failed: 0
            },
            None
        ));
        assert_eq!(c.0.doc["botbuilderProperty"], "kept");
    }

    #[test]
    fn a_done_record_is_its_id_alone_and_object_records_are_still_read() {
        let mut c = ConversationState(StateDoc::default());
        c.record_processed("plain", Recorded::Nothing);
        c.record_processed("out", Recorded::Outbox(&[reply("x")], claim()));
        let list = &c.0.doc["processedActivities"];
        assert_eq!(list[0], serde_json::json!("plain"));
        assert!(list[1].is_object());
        let done = Progress {
            total: 1,
            sent: 1,
            failed: 0,
        };
        assert!(c.update_outbox("out", done, None));
        assert_eq!(
            c.0.doc["processedActivities"],
            serde_json::json!(["plain", "out"])
        );
        assert!(c.processed("plain").is_some() && c.processed("out").is_some());
        assert!(c.pending().is_empty());
        // Records written as objects by earlier versions are found too.
        c.0.doc["processedActivities"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"id": "old"}));
        assert!(c.processed("old").is_some());
    }

    #[test]
    fn a_record_with_pending_replies_is_never_forgotten() {
        let mut c = ConversationState(StateDoc::default());
        c.record_processed("stuck", Recorded::Outbox(&[reply("x")], claim()));
        for i in 0..100 {
            c.record_processed(&format!("a{i}"), Recorded::ExpectedReplies(&[]));
        }
        assert_eq!(c.pending(), ["stuck"]);
        assert_eq!(
            c.processed("stuck").unwrap().outbox.unwrap().replies.len(),
            1
        );
        let list = c.0.doc["processedActivities"].as_array().unwrap();
        assert_eq!(list.len(), PROCESSED_WINDOW);
    }

    #[test]
    fn no_replies_leave_nothing_pending() {
        let mut c = ConversationState(StateDoc::default());
        c.record_processed("a1", Recorded::Outbox(&[], claim()));
        assert!(c.pending().is_empty());
        assert!(c.processed("a1").unwrap().outbox.is_none());
    }

    #[test]
    fn new_state_is_created_only_if_absent() {
        let s = StateDoc::from_item("k".into(), None);
        assert_eq!(s.to_change().precondition, Precondition::IfNotExists);
    }
}
