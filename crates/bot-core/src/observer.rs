//! What a turn reports as it goes: the service turns these into telemetry
//! events and metrics; the core only says what happened.

use bot_schema::Activity;
use qna::{QnaAnswer, ServedBy};

pub trait TurnObserver: Send + Sync {
    /// A reply the channel accepted (or, for expectReplies, that was handed out).
    fn message_sent(&self, _reply: &Activity) {}
    /// The knowledge base's verdict on a question (`best`: the answer given).
    fn qna_message(
        &self,
        _activity: &Activity,
        _knowledge_base_id: &str,
        _best: Option<&QnaAnswer>,
    ) {
    }
    fn answered(&self, _served_by: &ServedBy) {}
    fn unanswered(&self) {}
    /// A state write refused for a stale eTag: "conversation" (the turn
    /// re-runs), "user" (merged) or "outbox".
    fn etag_conflict(&self, _document: &'static str) {}
    /// A reply the channel refused for good (a 4xx other than 401/408/429).
    fn reply_refused(&self) {}
    /// A reply not accepted within its budget: kept in the outbox.
    fn reply_pending(&self) {}
}

/// Reports nothing: for tools and tests.
pub struct NoObserver;

impl TurnObserver for NoObserver {}
