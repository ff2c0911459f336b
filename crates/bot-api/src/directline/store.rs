//! The local Direct Line's own storage: conversations and their activities
//! in order, in a small SQLite file so a restart keeps them. Bounded: the
//! least recently used conversations are evicted past `max_conversations`,
//! and a conversation keeps its last `max_activities` activities.
//!
//! Calls are short single-row statements on a local file, run under one
//! mutex; this serves one developer's browser, not channel traffic.

use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

pub type StoreResult<T> = Result<T, String>;

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub token: String,
    pub user_id: Option<String>,
    /// Whether `POST /conversations` has started it (the bot got its
    /// conversationUpdate); `/tokens/generate` only reserves it.
    pub started: bool,
    /// The sequence number of its last activity: the watermark.
    pub last_seq: u64,
}

pub struct Store {
    conn: Mutex<Connection>,
    max_conversations: usize,
    max_activities: usize,
}

fn err(e: rusqlite::Error) -> String {
    format!("Direct Line store: {e}")
}

impl Store {
    /// Opens (creating) the file at `path`; "" keeps everything in memory.
    pub fn open(path: &str, max_conversations: usize, max_activities: usize) -> StoreResult<Self> {
        let conn = if path.is_empty() {
            Connection::open_in_memory()
        } else {
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                }
            }
            Connection::open(path)
        }
        .map_err(|e| format!("opening {path:?}: {e}"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS dl_conversations (
                 id TEXT PRIMARY KEY,
                 token TEXT NOT NULL,
                 user_id TEXT,
                 started INTEGER NOT NULL DEFAULT 0,
                 last_seq INTEGER NOT NULL DEFAULT 0,
                 touched INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS dl_conversations_touched ON dl_conversations(touched);
             CREATE INDEX IF NOT EXISTS dl_conversations_token ON dl_conversations(token);
             CREATE TABLE IF NOT EXISTS dl_activities (
                 conversation TEXT NOT NULL,
                 seq INTEGER NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (conversation, seq)
             ) WITHOUT ROWID;",
        )
        .map_err(err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            max_conversations,
            max_activities,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding it cannot leave SQLite half-written (each
        // change is one transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new conversation, evicting the least recently used ones beyond the
    /// bound.
    pub fn create(&self, id: &str, token: &str, user_id: Option<&str>) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO dl_conversations (id, token, user_id, touched)
             VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(touched), 0) + 1 FROM dl_conversations))",
            params![id, token, user_id],
        )
        .map_err(err)?;
        let count: i64 = tx
            .query_row("SELECT COUNT(*) FROM dl_conversations", [], |r| r.get(0))
            .map_err(err)?;
        let excess = count - self.max_conversations as i64;
        if excess > 0 {
            let evicted: Vec<String> = {
                let mut stmt = tx
                    .prepare("SELECT id FROM dl_conversations ORDER BY touched ASC LIMIT ?1")
                    .map_err(err)?;
                let rows = stmt
                    .query_map([excess], |r| r.get::<_, String>(0))
                    .map_err(err)?;
                rows.collect::<Result<_, _>>().map_err(err)?
            };
            for old in &evicted {
                tx.execute("DELETE FROM dl_activities WHERE conversation = ?1", [old])
                    .map_err(err)?;
                tx.execute("DELETE FROM dl_conversations WHERE id = ?1", [old])
                    .map_err(err)?;
            }
            tracing::info!(
                evicted = evicted.len(),
                max = self.max_conversations,
                "Direct Line: oldest conversations evicted"
            );
        }
        tx.commit().map_err(err)
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Conversation> {
        Ok(Conversation {
            id: r.get(0)?,
            token: r.get(1)?,
            user_id: r.get(2)?,
            started: r.get::<_, i64>(3)? != 0,
            last_seq: r.get::<_, i64>(4)? as u64,
        })
    }

    pub fn get(&self, id: &str) -> StoreResult<Option<Conversation>> {
        self.lock()
            .query_row(
                "SELECT id, token, user_id, started, last_seq FROM dl_conversations WHERE id = ?1",
                [id],
                Self::row,
            )
            .optional()
            .map_err(err)
    }

    pub fn by_token(&self, token: &str) -> StoreResult<Option<Conversation>> {
        self.lock()
            .query_row(
                "SELECT id, token, user_id, started, last_seq FROM dl_conversations WHERE token = ?1",
                [token],
                Self::row,
            )
            .optional()
            .map_err(err)
    }

    /// Marks it started; true if it was not before (so the bot is told once).
    pub fn start(&self, id: &str) -> StoreResult<bool> {
        let n = self
            .lock()
            .execute(
                "UPDATE dl_conversations SET started = 1 WHERE id = ?1 AND started = 0",
                [id],
            )
            .map_err(err)?;
        Ok(n == 1)
    }

    /// Appends an activity, giving it its id (`{conversation}|{seq:07}`, as
    /// Direct Line does). Returns the sequence number, or `None` when the
    /// conversation is unknown (never created, or evicted).
    pub fn append(&self, id: &str, activity: &mut Value) -> StoreResult<Option<u64>> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(err)?;
        let seq: Option<i64> = tx
            .query_row(
                "UPDATE dl_conversations SET last_seq = last_seq + 1,
                     touched = (SELECT MAX(touched) + 1 FROM dl_conversations)
                 WHERE id = ?1 RETURNING last_seq",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        let Some(seq) = seq else {
            return Ok(None);
        };
        activity["id"] = Value::String(format!("{id}|{seq:07}"));
        tx.execute(
            "INSERT INTO dl_activities (conversation, seq, body) VALUES (?1, ?2, ?3)",
            params![id, seq, activity.to_string()],
        )
        .map_err(err)?;
        tx.execute(
            "DELETE FROM dl_activities WHERE conversation = ?1 AND seq <= ?2",
            params![id, seq - self.max_activities as i64],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Some(seq as u64))
    }

    /// The activities after `watermark`, in order, with their sequence numbers.
    pub fn since(&self, id: &str, watermark: u64) -> StoreResult<Vec<(u64, Value)>> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, body FROM dl_activities WHERE conversation = ?1 AND seq > ?2 ORDER BY seq",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![id, watermark as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, body) = row.map_err(err)?;
            // Written by `append` from a Value, so it parses; a damaged row
            // is skipped rather than failing the whole conversation.
            match serde_json::from_str(&body) {
                Ok(v) => out.push((seq, v)),
                Err(e) => {
                    tracing::warn!(conversation = id, seq, error = %e, "Direct Line: unreadable activity skipped")
                }
            }
        }
        Ok(out)
    }

    pub fn conversation_count(&self) -> StoreResult<usize> {
        self.lock()
            .query_row("SELECT COUNT(*) FROM dl_conversations", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn activities_get_ids_and_watermarks_in_order() {
        let s = Store::open("", 10, 3).unwrap();
        s.create("c1", "t1", Some("u")).unwrap();
        for i in 1..=5u64 {
            let mut a = json!({"type": "message", "text": i.to_string()});
            assert_eq!(s.append("c1", &mut a).unwrap(), Some(i));
            assert_eq!(a["id"], format!("c1|{i:07}"));
        }
        // Only the last three are kept; the watermark keeps counting.
        let all = s.since("c1", 0).unwrap();
        assert_eq!(all.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(s.since("c1", 4).unwrap().len(), 1);
        assert_eq!(s.get("c1").unwrap().unwrap().last_seq, 5);
        assert_eq!(s.append("nope", &mut json!({})).unwrap(), None);
    }

    #[test]
    fn least_recently_used_conversations_are_evicted() {
        let s = Store::open("", 2, 10).unwrap();
        s.create("a", "ta", None).unwrap();
        s.create("b", "tb", None).unwrap();
        // `a` is used again, so `b` is now the oldest.
        s.append("a", &mut json!({})).unwrap();
        s.create("c", "tc", None).unwrap();
        assert!(s.get("a").unwrap().is_some());
        assert!(s.get("b").unwrap().is_none());
        assert!(s.get("c").unwrap().is_some());
        assert_eq!(s.conversation_count().unwrap(), 2);
        assert_eq!(s.by_token("tc").unwrap().unwrap().id, "c");
    }
}
