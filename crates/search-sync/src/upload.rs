//! Writing documents in batches of at most 1000 actions or about 16 MB, with
//! `mergeOrUpload`. A 207 partial failure retries only the documents that
//! failed with a retriable status; the others are reported, never dropped.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::client::IndexClient;
use crate::error::{Result, SyncError};
use crate::paging::Document;
use crate::retry::is_retriable_status;

/// The service's limits for one documents/index request.
pub const MAX_BATCH_DOCS: usize = 1000;
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Default, Serialize)]
pub struct UploadStats {
    pub upserted: u64,
    pub deleted: u64,
    pub batches: u64,
    /// Documents sent again after a per-document failure (207).
    pub retried_documents: u64,
    /// Documents that could not be written: key and the service's reason.
    pub failed: Vec<FailedDocument>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedDocument {
    pub key: String,
    pub status_code: u16,
    pub message: String,
}

impl UploadStats {
    /// Ok when every document was written, else `DocumentsFailed`.
    pub fn into_result(self) -> Result<UploadStats> {
        match self.failed.first() {
            None => Ok(self),
            Some(f) => Err(SyncError::DocumentsFailed {
                count: self.failed.len(),
                first: format!("{} (HTTP {}: {})", f.key, f.status_code, f.message),
                keys: self.failed.iter().map(|f| f.key.clone()).collect(),
            }),
        }
    }
}

pub struct Uploader {
    client: IndexClient,
    key_field: String,
    max_docs: usize,
    max_bytes: usize,
    /// (key, is_delete, serialized action)
    pending: Vec<(String, bool, Vec<u8>)>,
    pending_bytes: usize,
    pub stats: UploadStats,
}

/// `{"value":[` + `]}`
const ENVELOPE: usize = 12;

impl Uploader {
    pub fn new(client: IndexClient, key_field: &str) -> Self {
        Self {
            client,
            key_field: key_field.to_string(),
            max_docs: MAX_BATCH_DOCS,
            max_bytes: MAX_BATCH_BYTES,
            pending: Vec::new(),
            pending_bytes: ENVELOPE,
            stats: UploadStats::default(),
        }
    }

    /// Smaller limits (never larger than the service's).
    pub fn with_limits(mut self, max_docs: usize, max_bytes: usize) -> Self {
        self.max_docs = max_docs.clamp(1, MAX_BATCH_DOCS);
        self.max_bytes = max_bytes.clamp(1024, MAX_BATCH_BYTES);
        self
    }

    /// Queue a `mergeOrUpload` of `doc`; sends a batch when one is full.
    pub async fn upsert(&mut self, mut doc: Document) -> Result<()> {
        let key = match doc.get(&self.key_field) {
            Some(Value::String(k)) => k.clone(),
            _ => {
                return Err(SyncError::Invalid(format!(
                    "a document without the key field {}",
                    self.key_field
                )))
            }
        };
        doc.retain(|k, _| !k.starts_with("@search."));
        doc.insert("@search.action".into(), "mergeOrUpload".into());
        self.queue(key, false, &Value::Object(doc)).await
    }

    /// Queue a `delete` of the document with `key`.
    pub async fn delete(&mut self, key: &str) -> Result<()> {
        let mut doc = Document::new();
        doc.insert("@search.action".into(), "delete".into());
        doc.insert(self.key_field.clone(), key.into());
        self.queue(key.to_string(), true, &Value::Object(doc)).await
    }

    async fn queue(&mut self, key: String, delete: bool, action: &Value) -> Result<()> {
        let bytes = serde_json::to_vec(action).map_err(|e| SyncError::Invalid(e.to_string()))?;
        if bytes.len() + ENVELOPE > self.max_bytes {
            return Err(SyncError::Invalid(format!(
                "document {key} is {} bytes, more than one request may carry ({} bytes)",
                bytes.len(),
                self.max_bytes
            )));
        }
        if self.pending.len() >= self.max_docs
            || self.pending_bytes + bytes.len() + 1 > self.max_bytes
        {
            self.flush().await?;
        }
        self.pending_bytes += bytes.len() + 1;
        self.pending.push((key, delete, bytes));
        Ok(())
    }

    /// Send what is queued. Per-document failures are retried (retriable
    /// status codes) or recorded in `stats.failed`; request-level errors
    /// (the service down past all retries) are returned.
    pub async fn flush(&mut self) -> Result<()> {
        let mut batch = std::mem::take(&mut self.pending);
        self.pending_bytes = ENVELOPE;
        let mut attempt = 0;
        while !batch.is_empty() {
            attempt += 1;
            let mut body =
                Vec::with_capacity(batch.iter().map(|b| b.2.len() + 1).sum::<usize>() + ENVELOPE);
            body.extend_from_slice(b"{\"value\":[");
            for (i, (_, _, b)) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(b);
            }
            body.extend_from_slice(b"]}");
            self.stats.batches += 1;
            let results = self.client.index_batch(body.into()).await?;
            let by_key: HashMap<&str, &crate::client::IndexingResult> =
                results.iter().map(|r| (r.key.as_str(), r)).collect();
            let mut retry = Vec::new();
            for item in batch {
                let Some(r) = by_key.get(item.0.as_str()) else {
                    return Err(SyncError::Protocol {
                        what: format!("index documents {}", self.client.label()),
                        message: format!("no result for key {}", item.0),
                    });
                };
                if r.status {
                    if item.1 {
                        self.stats.deleted += 1;
                    } else {
                        self.stats.upserted += 1;
                    }
                } else if is_retriable_status(r.status_code)
                    || r.status_code == 409
                    || r.status_code == 422
                {
                    // 409/422: a version conflict on the service; the docs
                    // say to retry those.
                    if attempt < self.client.retry.max_attempts {
                        retry.push(item);
                    } else {
                        self.stats.failed.push(failed(r));
                    }
                } else {
                    self.stats.failed.push(failed(r));
                }
            }
            if !retry.is_empty() {
                self.stats.retried_documents += retry.len() as u64;
                tokio::time::sleep(self.client.retry.delay(attempt, None)).await;
            }
            batch = retry;
        }
        Ok(())
    }

    /// Flush and hand back the counts.
    pub async fn finish(mut self) -> Result<UploadStats> {
        self.flush().await?;
        Ok(self.stats)
    }
}

fn failed(r: &crate::client::IndexingResult) -> FailedDocument {
    FailedDocument {
        key: r.key.clone(),
        status_code: r.status_code,
        message: r.error_message.clone().unwrap_or_default(),
    }
}
