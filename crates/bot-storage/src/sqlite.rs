//! Embedded storage on SQLite, the local default.
//!
//! One writer thread owns the write connection and commits every write that
//! is waiting in one transaction (group commit), each request inside its own
//! savepoint so that one request's conflict leaves the others intact.
//! Reads go to a small pool of read connections; WAL keeps them off the
//! writer's back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::oneshot;

use crate::error::StorageError;
use crate::storage::{new_etag, Change, Precondition, Storage, StoreItem, Written};

mod schema;

const BACKEND: &str = "sqlite";
/// How many waiting requests one transaction takes at most.
const MAX_BATCH: usize = 512;

/// A change as the writer takes it: the document already serialised, on the
/// caller's thread, so that the one writer thread only runs SQL.
struct Row {
    key: String,
    /// Shared with the cache in front, which keeps the text it wrote.
    document: Arc<str>,
    precondition: Precondition,
}

enum Job {
    Write(Vec<Row>, oneshot::Sender<Result<Vec<String>, StorageError>>),
    Delete(Vec<String>, oneshot::Sender<Result<(), StorageError>>),
}

pub struct SqliteStorage {
    writer: Mutex<mpsc::Sender<Job>>,
    /// Read connections, used inline on the caller's thread: a keyed read of
    /// a small row takes microseconds, less than a hop to the blocking pool.
    readers: Vec<Mutex<Option<Connection>>>,
    next_reader: AtomicUsize,
    path: PathBuf,
    /// Dropped with the storage, which ends the checkpoint thread.
    _checkpoint: mpsc::Sender<()>,
}

fn backend_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

fn writer_gone() -> StorageError {
    StorageError::Unavailable {
        backend: BACKEND,
        message: "the writer thread has stopped".to_string(),
    }
}

fn open(path: &Path, read_only: bool) -> Result<Connection, StorageError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| StorageError::Unavailable {
        backend: BACKEND,
        message: format!("cannot open {}: {e}", path.display()),
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(backend_err)?;
    if read_only {
        // Every commit of the writer empties a reader's page cache, so the
        // default 2 MB per reader only held pages it would read again
        // anyway: a small one is as fast and keeps that memory free.
        conn.execute_batch("PRAGMA cache_size=-256;")
            .map_err(backend_err)?;
    }
    Ok(conn)
}

impl SqliteStorage {
    /// Opens (and creates) the database file and starts the writer thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Unavailable {
                backend: BACKEND,
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let conn = open(&path, false)?;
        // WAL survives a process crash; only an OS crash can lose the last
        // commits, which is the usual trade for state (SQLite's
        // synchronous=NORMAL). Of NORMAL's syncs, the writer's only one is
        // of the WAL's header each time the WAL starts again from its top:
        // in the one writer thread, every turn waiting to commit waited for
        // it, and on a busy disk it took 0.1-0.6 s (the p99 of 280-600 ms at
        // 1,000 req/s in some runs). The writer runs with synchronous=OFF and
        // the checkpoint connection, which syncs the WAL before it copies it
        // and the database before the WAL may be reused, with NORMAL: an OS
        // crash then loses the same last commits and leaves the database
        // as consistent.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=OFF;",
        )
        .map_err(backend_err)?;
        schema::ensure(&conn).map_err(backend_err)?;
        // Checkpoints run on their own thread and connection: run by the
        // writer after a commit (SQLite's default), each one's copy and fsync
        // held up every turn waiting to commit behind it, which was the p99
        // of a turn at a steady 1,000 req/s (29 ms, against 3 ms with memory
        // state). A passive checkpoint never blocks the writer.
        conn.execute_batch("PRAGMA wal_autocheckpoint=0;")
            .map_err(backend_err)?;
        let checkpointer = open(&path, false)?;
        checkpointer
            .execute_batch("PRAGMA synchronous=NORMAL;")
            .map_err(backend_err)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, stopped))
            .map_err(backend_err)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(backend_err)?;
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        Ok(Self {
            writer: Mutex::new(tx),
            readers: (0..slots).map(|_| Mutex::new(None)).collect(),
            next_reader: AtomicUsize::new(0),
            path,
            _checkpoint: stop,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, job: Job) -> Result<(), StorageError> {
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| writer_gone())
    }

    /// Runs `f` on one of the read connections, opening it on first use.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let mut slot = self.readers[i].lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(open(&self.path, true)?);
        }
        match slot.as_ref() {
            Some(conn) => f(conn),
            None => Err(writer_gone()),
        }
    }
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// Past this many frames in the WAL (32 MB of 4 KB pages) a checkpoint also
/// waits for readers to leave the WAL, so that the next commit writes it
/// again from its start. Passive checkpoints alone copy every frame but,
/// under load, never find a moment without a reader, and the WAL then grew
/// by the size of every commit (78 MB/s at full load) without end.
const RESTART_FRAMES: i64 = 8192;
// No `journal_size_limit`: it made the writer cut the WAL file back (an
// ftruncate, 9 ms and more, in the commit path) at every restart, only for
// the next commits to grow it again. Under load the file keeps its largest
// size (bounded by RESTART_FRAMES); once idle, a TRUNCATE gives it all back.
/// How long an escalated checkpoint may hold up the writer while it waits
/// for readers; a reader is a single keyed SELECT, so this is ample, and
/// a busy pass is simply tried again on the next tick.
const ESCALATED_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// How soon a restart that could not complete is tried again.
const RETRY_RESTART_AFTER: std::time::Duration = std::time::Duration::from_millis(10);

/// An escalated checkpoint that held the writer this long is logged: every
/// turn waiting to commit waited with it.
const SLOW_ESCALATED: std::time::Duration = std::time::Duration::from_millis(50);

/// What `PRAGMA wal_checkpoint` reports: (busy, frames in the WAL, frames
/// copied back).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64, i64)> {
    let start = std::time::Instant::now();
    let r = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    // RESTART and TRUNCATE hold SQLite's write lock while they copy the
    // last frames and sync the database; PASSIVE never blocks the writer.
    let took = start.elapsed();
    if mode != "PASSIVE" && took >= SLOW_ESCALATED {
        tracing::warn!(
            mode,
            ms = took.as_millis() as u64,
            frames = r.1,
            "a SQLite checkpoint held up writes (slow disk sync)"
        );
    }
    Ok(r)
}

fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    if let Err(e) = conn.busy_timeout(ESCALATED_WAIT) {
        tracing::warn!(error = %e, "SQLite checkpoint connection: busy timeout not set");
    }
    let mut frames_before = -1;
    let mut wait = CHECKPOINT_EVERY;
    loop {
        let last = match stop.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            // The storage is gone: one last pass, then stop.
            _ => true,
        };
        // Busy or failed passes are retried on the next tick; the WAL only
        // grows meanwhile, nothing is lost.
        let pass = checkpoint(&conn, "PASSIVE").and_then(|(busy, frames, copied)| {
            let idle = frames > 0 && frames == frames_before && copied == frames;
            frames_before = frames;
            if idle || last {
                // Nothing was written since the last tick: give the disk back.
                checkpoint(&conn, "TRUNCATE").map(|_| {
                    frames_before = 0;
                    false
                })
            } else if busy == 0 && frames >= RESTART_FRAMES {
                checkpoint(&conn, "RESTART").map(|(busy, _, _)| busy != 0)
            } else {
                Ok(false)
            }
        });
        // A restart that found readers in the way is tried again soon, not
        // a whole tick later: under full load the WAL grows ~20 MB a second.
        wait = match pass {
            Ok(true) => RETRY_RESTART_AFTER,
            Ok(false) => CHECKPOINT_EVERY,
            Err(e) => {
                tracing::debug!(error = %e, "SQLite checkpoint did not run");
                CHECKPOINT_EVERY
            }
        };
        if last {
            return;
        }
    }
}

/// A batch that took this long held up every turn waiting to commit.
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(50);
/// Slow batches are logged at most this often, with how many there were.
const SLOW_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    let mut slow = 0u64;
    let mut slowest = std::time::Duration::ZERO;
    let mut logged: Option<std::time::Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let start = std::time::Instant::now();
        run_batch(&mut conn, jobs);
        let took = start.elapsed();
        if took >= SLOW_BATCH {
            slow += 1;
            slowest = slowest.max(took);
            if logged.is_none_or(|t| t.elapsed() >= SLOW_LOG_EVERY) {
                // With synchronous=OFF a commit only writes the WAL: a slow
                // one waited for the kernel, which holds back writers when
                // the disk is behind on flushing.
                tracing::warn!(
                    batches = slow,
                    slowest_ms = slowest.as_millis() as u64,
                    "SQLite commits were slow (the disk is behind)"
                );
                logged = Some(std::time::Instant::now());
                slow = 0;
                slowest = std::time::Duration::ZERO;
            }
        }
    }
}

enum Outcome {
    Write(Result<Vec<String>, StorageError>),
    Delete(Result<(), StorageError>),
}

/// Runs one cached statement that returns no rows (transaction control).
fn exec(conn: &Connection, sql: &str) -> Result<(), StorageError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(backend_err)
}

/// Runs one request inside the batch's transaction. A request of one
/// statement needs no savepoint: a statement that fails or matches no row
/// changes nothing. Several statements are wrapped so that a conflict on a
/// later one undoes the earlier ones, and the other requests stay intact.
fn run_job(conn: &Connection, job: &Job) -> Result<Outcome, StorageError> {
    let statements = match job {
        Job::Write(changes, _) => changes.len(),
        Job::Delete(keys, _) => keys.len(),
    };
    let wrap = statements > 1;
    if wrap {
        exec(conn, "SAVEPOINT job")?;
    }
    let outcome = match job {
        Job::Write(changes, _) => Outcome::Write(apply_writes(conn, changes)),
        Job::Delete(keys, _) => Outcome::Delete(apply_deletes(conn, keys)),
    };
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back on an error (disk full,
        // I/O): the batch's earlier writes are gone, so it fails as a whole.
        return Err(backend_err("the transaction was rolled back"));
    }
    if wrap {
        if !matches!(outcome, Outcome::Write(Ok(_)) | Outcome::Delete(Ok(()))) {
            exec(conn, "ROLLBACK TO job")?;
        }
        exec(conn, "RELEASE job")?;
    }
    Ok(outcome)
}

fn run_batch(conn: &mut Connection, jobs: Vec<Job>) {
    // Transaction control goes through cached statements: re-preparing
    // BEGIN/SAVEPOINT/COMMIT for every batch cost as much as the writes.
    let result = (|| -> Result<Vec<Outcome>, StorageError> {
        exec(conn, "BEGIN IMMEDIATE")?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in &jobs {
            outcomes.push(run_job(conn, job)?);
        }
        exec(conn, "COMMIT")?;
        Ok(outcomes)
    })();
    if result.is_err() && !conn.is_autocommit() {
        let _ = exec(conn, "ROLLBACK");
    }
    match result {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                match (job, outcome) {
                    (Job::Write(_, reply), Outcome::Write(r)) => {
                        let _ = reply.send(r);
                    }
                    (Job::Delete(_, reply), Outcome::Delete(r)) => {
                        let _ = reply.send(r);
                    }
                    _ => {}
                }
            }
        }
        Err(e) => {
            // The transaction failed as a whole: nothing was written.
            let msg = e.to_string();
            for job in jobs {
                let err = || StorageError::Backend {
                    backend: BACKEND,
                    message: msg.clone(),
                };
                match job {
                    Job::Write(_, reply) => {
                        let _ = reply.send(Err(err()));
                    }
                    Job::Delete(_, reply) => {
                        let _ = reply.send(Err(err()));
                    }
                }
            }
        }
    }
}

fn apply_writes(conn: &Connection, rows: &[Row]) -> Result<Vec<String>, StorageError> {
    let mut etags = Vec::with_capacity(rows.len());
    for row in rows {
        let etag = new_etag();
        let n = match &row.precondition {
            Precondition::None => conn
                .prepare_cached(
                    "INSERT INTO state(key, etag, document) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET etag = excluded.etag, document = excluded.document",
                )
                .and_then(|mut s| s.execute(params![row.key, etag, &*row.document])),
            Precondition::IfMatch(want) => conn
                .prepare_cached("UPDATE state SET etag = ?2, document = ?3 WHERE key = ?1 AND etag = ?4")
                .and_then(|mut s| s.execute(params![row.key, etag, &*row.document, want])),
            Precondition::IfNotExists => conn
                .prepare_cached(
                    "INSERT INTO state(key, etag, document) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![row.key, etag, &*row.document])),
        }
        .map_err(backend_err)?;
        if n == 0 {
            return Err(StorageError::Conflict {
                key: row.key.clone(),
            });
        }
        etags.push(etag);
    }
    Ok(etags)
}

fn apply_deletes(conn: &Connection, keys: &[String]) -> Result<(), StorageError> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM state WHERE key = ?1")
        .map_err(backend_err)?;
    for k in keys {
        stmt.execute([k]).map_err(backend_err)?;
    }
    Ok(())
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn read(&self, keys: &[String]) -> Result<HashMap<String, StoreItem>, StorageError> {
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT etag, document FROM state WHERE key = ?1")
                .map_err(backend_err)?;
            let mut out = HashMap::with_capacity(keys.len());
            for key in keys {
                let row: Option<(String, String)> = stmt
                    .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(backend_err)?;
                if let Some((etag, doc)) = row {
                    let document =
                        serde_json::from_str(&doc).map_err(|e| StorageError::Corrupt {
                            key: key.clone(),
                            message: e.to_string(),
                        })?;
                    out.insert(key.clone(), StoreItem { document, etag });
                }
            }
            Ok(out)
        })
    }

    async fn write(&self, changes: Vec<Change>) -> Result<Vec<String>, StorageError> {
        self.write_ref(&changes).await
    }

    async fn write_ref(&self, changes: &[Change]) -> Result<Vec<String>, StorageError> {
        Ok(self
            .write_text(changes)
            .await?
            .into_iter()
            .map(|w| w.etag)
            .collect())
    }

    async fn write_text(&self, changes: &[Change]) -> Result<Vec<Written>, StorageError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let rows = changes
            .iter()
            .map(|c| {
                Ok(Row {
                    key: c.key.clone(),
                    document: serde_json::to_string(&c.document)
                        .map_err(backend_err)?
                        .into(),
                    precondition: c.precondition.clone(),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let texts: Vec<Arc<str>> = rows.iter().map(|r| r.document.clone()).collect();
        let (tx, rx) = oneshot::channel();
        self.send(Job::Write(rows, tx))?;
        let etags = rx.await.map_err(|_| writer_gone())??;
        Ok(etags
            .into_iter()
            .zip(texts)
            .map(|(etag, text)| Written { etag, text })
            .collect())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StorageError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Delete(keys.to_vec(), tx))?;
        rx.await.map_err(|_| writer_gone())?
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(|e| StorageError::Unavailable {
                    backend: BACKEND,
                    message: e.to_string(),
                })
        })
    }

    fn kind(&self) -> &'static str {
        BACKEND
    }
}
