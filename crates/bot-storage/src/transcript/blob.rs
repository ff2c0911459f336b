//! Transcripts on Blob Storage in botbuilder's BlobsTranscriptStore layout:
//! one blob per activity named
//! `sanitize("{channelId}/{conversationId}/{ticksHex}-{activityId}.json")`,
//! holding the activity JSON, with metadata FromId, RecipientId, Id and
//! Timestamp.
//!
//! Names sort by channel, conversation, then time, so a conversation's
//! activities come out of a listing in order. The continuation token is
//! our own (base64 of the service's page marker plus the last name handed
//! out), so a page can end in the middle of a service page.

use std::collections::HashMap;

use async_trait::async_trait;
use azure_core::http::{RequestContent, StatusCode};
use azure_storage_blob::models::{
    BlobContainerClientListBlobsOptions, BlockBlobClientUploadOptions, ListBlobsIncludeItem,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bot_schema::Activity;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::ticks::{from_ticks_hex, ticks_hex};
use super::{parts, PagedResult, TranscriptInfo, TranscriptStore, PAGE_SIZE};
use crate::blob::naming::sanitize_blob_key;
use crate::blob::{map_err, BlobConfig, BlobContainers};
use crate::error::StorageError;

const BACKEND: &str = "blob";
/// Blobs asked for per service page.
const LIST_PAGE: i32 = 500;

pub struct BlobTranscriptStore {
    containers: BlobContainers,
}

/// Where a listing resumes: the service marker of the page it stopped in,
/// and the last blob name already handed out from that page.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<String>,
}

impl Cursor {
    fn decode(token: Option<&str>) -> Result<Self, StorageError> {
        let Some(t) = token.filter(|t| !t.is_empty()) else {
            return Ok(Self::default());
        };
        URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| StorageError::InvalidKey {
                key: t.to_string(),
                reason: "not a continuation token this store issued".into(),
            })
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// `{channel}%2F{conversation}%2F`: exactly one conversation's blobs
/// (botbuilder lists by `{channel}%2F{conversation}`, which also matches
/// conversations whose id merely starts with this one's).
fn conversation_prefix(channel_id: &str, conversation_id: &str) -> String {
    let base = sanitize_blob_key(&format!("{channel_id}/{conversation_id}")).unwrap_or_default();
    format!("{base}%2F")
}

fn channel_prefix(channel_id: &str) -> String {
    format!("{}%2F", sanitize_blob_key(channel_id).unwrap_or_default())
}

/// Splits `{conversation}%2F{ticks}-{id}.json` (after the channel prefix).
fn split_name(rest: &str) -> Option<(&str, &str)> {
    let cut = rest.rfind("%2F")?;
    Some((&rest[..cut], &rest[cut + 3..]))
}

fn decode_component(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl BlobTranscriptStore {
    /// Connects and creates the container if missing.
    pub async fn open(config: &BlobConfig) -> Result<Self, StorageError> {
        let store = Self::unchecked(config)?;
        store.containers.ensure_container().await?;
        Ok(store)
    }

    /// The store without a call to the account: for a start that goes on
    /// while Blob does not answer. Writes fail until it does, and until the
    /// container exists (`open` again creates it).
    pub fn unchecked(config: &BlobConfig) -> Result<Self, StorageError> {
        Ok(Self {
            containers: BlobContainers::new(config)?,
        })
    }

    /// Walks blob names under `prefix` from `cursor`, offering each to
    /// `take` until it says the page is full. Returns the cursor to resume
    /// from, or `None` when the listing is exhausted.
    async fn walk(
        &self,
        prefix: &str,
        mut cursor: Cursor,
        mut take: impl FnMut(&str) -> Step,
    ) -> Result<Option<Cursor>, StorageError> {
        loop {
            let options = BlobContainerClientListBlobsOptions {
                prefix: Some(prefix.to_string()),
                marker: cursor.m.clone(),
                maxresults: Some(LIST_PAGE),
                include: Some(vec![ListBlobsIncludeItem::Metadata]),
                ..Default::default()
            };
            let mut pages = self
                .containers
                .primary
                .list_blobs(Some(options))
                .map_err(|e| map_err(e, prefix))?
                .into_pages();
            let Some(page) = self
                .containers
                .within(async { Ok::<_, azure_core::Error>(pages.next().await) })
                .await
                .map_err(|e| map_err(e, prefix))?
            else {
                return Ok(None);
            };
            let page = page
                .map_err(|e| map_err(e, prefix))?
                .into_model()
                .map_err(|e| map_err(e, prefix))?;
            let mut last: Option<String> = None;
            for item in &page.blob_items {
                let Some(name) = item.name.as_deref() else {
                    continue;
                };
                if cursor.a.as_deref().is_some_and(|a| name <= a) {
                    continue;
                }
                match take(name) {
                    Step::Took | Step::Skipped => last = Some(name.to_string()),
                    Step::Full => {
                        return Ok(Some(Cursor {
                            m: cursor.m,
                            a: last.or(cursor.a),
                        }))
                    }
                }
            }
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(next) => {
                    cursor = Cursor {
                        m: Some(next),
                        a: None,
                    }
                }
                None => return Ok(None),
            }
        }
    }

    async fn download(&self, name: &str) -> Result<Option<Activity>, StorageError> {
        let blob = self.containers.primary.blob_client(name);
        let fetched = self
            .containers
            .within(async {
                match blob.download(None).await {
                    Ok(rsp) => rsp.body.collect().await.map(Some),
                    // Deleted between listing and reading: it is simply gone.
                    Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| map_err(e, name))?;
        let Some(body) = fetched else {
            return Ok(None);
        };
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| StorageError::Corrupt {
                key: name.to_string(),
                message: e.to_string(),
            })
    }
}

enum Step {
    Took,
    Skipped,
    Full,
}

#[async_trait]
impl TranscriptStore for BlobTranscriptStore {
    async fn log(&self, activity: &Activity) -> Result<(), StorageError> {
        let p = parts(activity)?;
        let key = format!(
            "{}/{}/{}-{}.json",
            p.channel_id,
            p.conversation_id,
            ticks_hex(p.timestamp),
            p.activity_id
        );
        let name = sanitize_blob_key(&key).unwrap_or_default();
        let body = serde_json::to_vec(activity).map_err(|e| StorageError::Backend {
            backend: BACKEND,
            message: e.to_string(),
        })?;
        let mut metadata = HashMap::new();
        metadata.insert(
            "FromId".to_string(),
            activity.from_id().unwrap_or("").to_string(),
        );
        metadata.insert(
            "RecipientId".to_string(),
            activity.recipient_id().unwrap_or("").to_string(),
        );
        metadata.insert("Id".to_string(), p.activity_id.to_string());
        // `new Date(ts).toJSON()`: UTC, milliseconds, `Z`.
        metadata.insert(
            "Timestamp".to_string(),
            p.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        );
        let options = BlockBlobClientUploadOptions {
            metadata: Some(metadata),
            ..Default::default()
        };
        let blob = self.containers.primary.blob_client(&name);
        self.containers
            .within(blob.upload(RequestContent::from(body), Some(options)))
            .await
            .map_err(|e| map_err(e, &key))?;
        Ok(())
    }

    async fn activities(
        &self,
        channel_id: &str,
        conversation_id: &str,
        continuation: Option<&str>,
        start: Option<DateTime<Utc>>,
    ) -> Result<PagedResult<Activity>, StorageError> {
        let prefix = conversation_prefix(channel_id, conversation_id);
        let mut names = Vec::new();
        let next = self
            .walk(&prefix, Cursor::decode(continuation)?, |name| {
                let file = &name[prefix.len().min(name.len())..];
                // The time is in the name: filter without downloading.
                let when = file.split('-').next().and_then(from_ticks_hex);
                if let (Some(start), Some(when)) = (start, when) {
                    if when < start {
                        return Step::Skipped;
                    }
                }
                if names.len() == PAGE_SIZE {
                    return Step::Full;
                }
                names.push(name.to_string());
                Step::Took
            })
            .await?;
        let downloads = futures::future::join_all(names.iter().map(|n| self.download(n))).await;
        let mut items = Vec::with_capacity(names.len());
        for d in downloads {
            if let Some(a) = d? {
                items.push(a);
            }
        }
        Ok(PagedResult {
            items,
            continuation_token: next.map(|c| c.encode()),
        })
    }

    async fn conversations(
        &self,
        channel_id: &str,
        continuation: Option<&str>,
    ) -> Result<PagedResult<TranscriptInfo>, StorageError> {
        let prefix = channel_prefix(channel_id);
        let mut items: Vec<TranscriptInfo> = Vec::new();
        let mut current: Option<String> = None;
        let cursor = Cursor::decode(continuation)?;
        // A page ends before a conversation's first blob, so a resumed
        // listing never repeats the last conversation of the previous page.
        let next = self
            .walk(&prefix, cursor, |name| {
                let Some((conv, file)) = split_name(&name[prefix.len().min(name.len())..]) else {
                    return Step::Skipped;
                };
                if current.as_deref() == Some(conv) {
                    return Step::Skipped;
                }
                if items.len() == PAGE_SIZE {
                    return Step::Full;
                }
                current = Some(conv.to_string());
                items.push(TranscriptInfo {
                    channel_id: channel_id.to_string(),
                    id: decode_component(conv),
                    created: file.split('-').next().and_then(from_ticks_hex),
                });
                Step::Took
            })
            .await?;
        Ok(PagedResult {
            items,
            continuation_token: next.map(|c| c.encode()),
        })
    }

    async fn delete(&self, channel_id: &str, conversation_id: &str) -> Result<(), StorageError> {
        let prefix = conversation_prefix(channel_id, conversation_id);
        let mut names = Vec::new();
        self.walk(&prefix, Cursor::default(), |name| {
            names.push(name.to_string());
            Step::Took
        })
        .await?;
        for name in names {
            let blob = self.containers.primary.blob_client(&name);
            match self.containers.within(blob.delete(None)).await {
                Ok(_) => {}
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => {}
                Err(e) => return Err(map_err(e, &name)),
            }
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_names() {
        assert_eq!(
            conversation_prefix("emulator", "c/1"),
            "emulator%2Fc%2F1%2F"
        );
        assert_eq!(channel_prefix("msteams"), "msteams%2F");
        assert_eq!(
            split_name("a%3Ab%2F8dc-1.json"),
            Some(("a%3Ab", "8dc-1.json"))
        );
        assert_eq!(decode_component("a%3Ab"), "a:b");
        let c = Cursor {
            m: Some("m1".into()),
            a: Some("n".into()),
        };
        let back = Cursor::decode(Some(&c.encode())).unwrap();
        assert_eq!((back.m, back.a), (c.m, c.a));
        assert!(Cursor::decode(Some("%%%")).is_err());
    }
}
