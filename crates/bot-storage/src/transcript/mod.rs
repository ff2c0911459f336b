//! Transcripts: every incoming and outgoing activity of a conversation.
//!
//! Backends: Blob, in botbuilder's BlobsTranscriptStore layout (so a
//! botbuilder bot and this one read each other's transcripts), and SQLite
//! for local mode. Unlike botbuilder-js, paging is real: a page carries a
//! continuation token until the listing is exhausted, and the start-date
//! filter uses the activity's own timestamp.

pub mod blob;
pub mod sqlite;
pub mod ticks;

use async_trait::async_trait;
use bot_schema::Activity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StorageError;

pub use blob::BlobTranscriptStore;
pub use sqlite::SqliteTranscriptStore;

/// How many items a page holds at most.
pub const PAGE_SIZE: usize = 20;

/// One page of a listing; `continuation` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagedResult<T> {
    pub items: Vec<T>,
    pub continuation_token: Option<String>,
}

/// A conversation that has a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptInfo {
    pub channel_id: String,
    pub id: String,
    /// When its first logged activity happened.
    pub created: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait TranscriptStore: Send + Sync {
    /// Appends one activity. It needs a channel id, a conversation id, an
    /// id and a timestamp (the logger fills in id and timestamp when absent).
    async fn log(&self, activity: &Activity) -> Result<(), StorageError>;

    /// A conversation's activities in time order, from `start` on, one page
    /// at a time.
    async fn activities(
        &self,
        channel_id: &str,
        conversation_id: &str,
        continuation: Option<&str>,
        start: Option<DateTime<Utc>>,
    ) -> Result<PagedResult<Activity>, StorageError>;

    /// The conversations of a channel that have a transcript, one page at a time.
    async fn conversations(
        &self,
        channel_id: &str,
        continuation: Option<&str>,
    ) -> Result<PagedResult<TranscriptInfo>, StorageError>;

    /// Deletes a conversation's transcript (a missing one is not an error).
    async fn delete(&self, channel_id: &str, conversation_id: &str) -> Result<(), StorageError>;

    fn kind(&self) -> &'static str;
}

/// What a loggable activity must carry, checked the same way by every store.
pub(crate) struct Parts<'a> {
    pub channel_id: &'a str,
    pub conversation_id: &'a str,
    pub activity_id: &'a str,
    pub timestamp: DateTime<Utc>,
}

pub(crate) fn parts(activity: &Activity) -> Result<Parts<'_>, StorageError> {
    let invalid = |reason: &str| StorageError::InvalidKey {
        key: format!(
            "{}/{}/{}",
            activity.channel_id(),
            activity.conversation_id().unwrap_or(""),
            activity.id.as_deref().unwrap_or("")
        ),
        reason: reason.to_string(),
    };
    let channel_id = activity
        .channel_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("a transcript activity needs a channelId"))?;
    let conversation_id = activity
        .conversation_id()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("a transcript activity needs a conversation id"))?;
    let activity_id = activity
        .id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("a transcript activity needs an id"))?;
    let timestamp = activity
        .timestamp
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| invalid("a transcript activity needs an ISO 8601 timestamp"))?;
    Ok(Parts {
        channel_id,
        conversation_id,
        activity_id,
        timestamp,
    })
}
