//! The state table's layout, and the move from the first one.
//!
//! Version 1 keeps each document in a rowid table, with the key in an index
//! of its own. The first layout was a `WITHOUT ROWID` table keyed by `key`:
//! there a row keeps at most about 1 KB in its b-tree page, so a typical
//! conversation document (2-3 KB) spilled into overflow pages, and every
//! commit wrote 2-3 pages to the WAL (about 9.9 KB per turn) where a rowid
//! row of up to 4 KB stays in its one leaf page (4.1 KB per turn).

use rusqlite::Connection;

/// `PRAGMA user_version` of the current layout.
const VERSION: i64 = 1;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS state (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    etag TEXT NOT NULL,
    document TEXT NOT NULL
);";

/// Creates the table, or moves a first-layout table's rows (eTags kept) to
/// the current layout in one transaction.
pub(super) fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= VERSION {
        return Ok(());
    }
    let first_layout: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'state'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    let mut sql = String::from("BEGIN IMMEDIATE;");
    if first_layout {
        sql.push_str("ALTER TABLE state RENAME TO state_v0;");
    }
    sql.push_str(CREATE);
    if first_layout {
        sql.push_str(
            "INSERT INTO state(key, etag, document) SELECT key, etag, document FROM state_v0;
             DROP TABLE state_v0;",
        );
    }
    sql.push_str(&format!("PRAGMA user_version = {VERSION}; COMMIT;"));
    conn.execute_batch(&sql)
}
