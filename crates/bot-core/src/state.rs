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

    /// The document a write stored, under the eTag it was stored with: what
    /// a read would now give, without reading or parsing it again.
    pub fn committed(change: Change, etag: String) -> Self {
        Self {
            key: change.key,
            doc: match change.document {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            etag: Some(etag),
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
mod tests;
