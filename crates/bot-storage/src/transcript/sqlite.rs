//! Transcripts in SQLite, for local mode. Activities are kept in time
//! order (then arrival order); tokens are the position of the last item
//! handed out, so pages never skip or repeat.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bot_schema::Activity;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection};

use super::{parts, PagedResult, TranscriptInfo, TranscriptStore, PAGE_SIZE};
use crate::error::StorageError;

const BACKEND: &str = "sqlite";

pub struct SqliteTranscriptStore {
    conn: Arc<Mutex<Connection>>,
}

fn backend_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

fn bad_token(t: &str) -> StorageError {
    StorageError::InvalidKey {
        key: t.to_string(),
        reason: "not a continuation token this store issued".into(),
    }
}

impl SqliteTranscriptStore {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Unavailable {
                backend: BACKEND,
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StorageError::Unavailable {
            backend: BACKEND,
            message: format!("cannot open {}: {e}", path.display()),
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS transcript (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 channel_id TEXT NOT NULL,
                 conversation_id TEXT NOT NULL,
                 ts_ms INTEGER NOT NULL,
                 activity TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS transcript_conv
                 ON transcript (channel_id, conversation_id, ts_ms, seq);",
        )
        .map_err(backend_err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&c)
        })
        .await
        .map_err(backend_err)?
    }
}

#[async_trait]
impl TranscriptStore for SqliteTranscriptStore {
    async fn log(&self, activity: &Activity) -> Result<(), StorageError> {
        let p = parts(activity)?;
        let (ch, conv, ts) = (
            p.channel_id.to_string(),
            p.conversation_id.to_string(),
            p.timestamp.timestamp_millis(),
        );
        let json = serde_json::to_string(activity).map_err(backend_err)?;
        self.with(move |c| {
            c.execute(
                "INSERT INTO transcript (channel_id, conversation_id, ts_ms, activity)
                 VALUES (?1, ?2, ?3, ?4)",
                params![ch, conv, ts, json],
            )
            .map(|_| ())
            .map_err(backend_err)
        })
        .await
    }

    async fn activities(
        &self,
        channel_id: &str,
        conversation_id: &str,
        continuation: Option<&str>,
        start: Option<DateTime<Utc>>,
    ) -> Result<PagedResult<Activity>, StorageError> {
        // Token: "ts_ms:seq" of the last activity handed out.
        let after = match continuation.filter(|t| !t.is_empty()) {
            None => (i64::MIN, i64::MIN),
            Some(t) => {
                let (a, b) = t.split_once(':').ok_or_else(|| bad_token(t))?;
                (
                    a.parse().map_err(|_| bad_token(t))?,
                    b.parse().map_err(|_| bad_token(t))?,
                )
            }
        };
        let from = start.map(|s| s.timestamp_millis()).unwrap_or(i64::MIN);
        let (ch, conv) = (channel_id.to_string(), conversation_id.to_string());
        let rows: Vec<(i64, i64, String)> = self
            .with(move |c| {
                let mut st = c
                    .prepare(
                        "SELECT ts_ms, seq, activity FROM transcript
                         WHERE channel_id = ?1 AND conversation_id = ?2 AND ts_ms >= ?3
                           AND (ts_ms > ?4 OR (ts_ms = ?4 AND seq > ?5))
                         ORDER BY ts_ms, seq LIMIT ?6",
                    )
                    .map_err(backend_err)?;
                let rows = st
                    .query_map(
                        params![ch, conv, from, after.0, after.1, PAGE_SIZE as i64 + 1],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .map_err(backend_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend_err)?;
                Ok(rows)
            })
            .await?;
        let more = rows.len() > PAGE_SIZE;
        let page = &rows[..rows.len().min(PAGE_SIZE)];
        let items = page
            .iter()
            .map(|(_, seq, json)| {
                serde_json::from_str(json).map_err(|e| StorageError::Corrupt {
                    key: format!("transcript row {seq}"),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<Activity>, _>>()?;
        Ok(PagedResult {
            items,
            continuation_token: more
                .then(|| page.last().map(|(ts, seq, _)| format!("{ts}:{seq}")))
                .flatten(),
        })
    }

    async fn conversations(
        &self,
        channel_id: &str,
        continuation: Option<&str>,
    ) -> Result<PagedResult<TranscriptInfo>, StorageError> {
        // Token: the last conversation id handed out (ids sort as text).
        let after = continuation.unwrap_or("").to_string();
        let ch = channel_id.to_string();
        let rows: Vec<(String, i64)> = self
            .with(move |c| {
                let mut st = c
                    .prepare(
                        "SELECT conversation_id, MIN(ts_ms) FROM transcript
                         WHERE channel_id = ?1 AND conversation_id > ?2
                         GROUP BY conversation_id ORDER BY conversation_id LIMIT ?3",
                    )
                    .map_err(backend_err)?;
                let rows = st
                    .query_map(params![ch, after, PAGE_SIZE as i64 + 1], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(backend_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend_err)?;
                Ok(rows)
            })
            .await?;
        let more = rows.len() > PAGE_SIZE;
        let items: Vec<TranscriptInfo> = rows
            .into_iter()
            .take(PAGE_SIZE)
            .map(|(id, ms)| TranscriptInfo {
                channel_id: channel_id.to_string(),
                id,
                created: Utc.timestamp_millis_opt(ms).single(),
            })
            .collect();
        Ok(PagedResult {
            continuation_token: more.then(|| items.last().map(|i| i.id.clone())).flatten(),
            items,
        })
    }

    async fn delete(&self, channel_id: &str, conversation_id: &str) -> Result<(), StorageError> {
        let (ch, conv) = (channel_id.to_string(), conversation_id.to_string());
        self.with(move |c| {
            c.execute(
                "DELETE FROM transcript WHERE channel_id = ?1 AND conversation_id = ?2",
                params![ch, conv],
            )
            .map(|_| ())
            .map_err(backend_err)
        })
        .await
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}
