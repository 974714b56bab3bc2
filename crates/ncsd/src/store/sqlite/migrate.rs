//! Bringing a database file to the current schema, in place, in one exclusive transaction:
//! `schema.sql` for a new file, the columns later versions added (only where missing: ALTER
//! TABLE has no IF NOT EXISTS), then `schema_later.sql`, whose statements are all idempotent.

use rusqlite::{Connection, Transaction};

const SCHEMA_VERSION: i64 = 9;

/// Columns added after the tables existed, as (table, column, definition), in version order:
/// version 5 counts quarantine replays (see `schema_later.sql`); version 6 keeps each session's
/// exits merged with max (`summary::exit_key`; -1: none).
const ADDED_COLUMNS: [(&str, &str, &str); 4] = [
    ("quarantine", "body_digest", "TEXT"),
    ("quarantine", "deliveries", "INTEGER NOT NULL DEFAULT 1"),
    ("quarantine", "last_received_at_ms", "INTEGER"),
    ("sessions", "exit_key", "INTEGER NOT NULL DEFAULT -1"),
];

/// Version 9: the Agora project of each event, session and lifecycle event; rows stored before
/// there were projects belong to `default`. Added after `schema_later.sql`, which creates the
/// lifecycle table.
const PROJECT_COLUMNS: [(&str, &str, &str); 3] = [
    ("events", "project", "TEXT NOT NULL DEFAULT 'default'"),
    ("sessions", "project", "TEXT NOT NULL DEFAULT 'default'"),
    ("lifecycle", "project", "TEXT NOT NULL DEFAULT 'default'"),
];

pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    if version < 4 {
        tx.execute_batch(include_str!("schema.sql"))?;
    }
    add_missing(&tx, &ADDED_COLUMNS)?;
    tx.execute_batch(include_str!("schema_later.sql"))?;
    add_missing(&tx, &PROJECT_COLUMNS)?;
    // No index on events.project: each would cost every delivery a B-tree insert; a project
    // filter on the event list walks the log in order instead.
    tx.execute_batch(
        "CREATE INDEX IF NOT EXISTS sessions_project \
           ON sessions (project, last_activity_ms DESC, sid DESC); \
         CREATE INDEX IF NOT EXISTS lifecycle_project ON lifecycle (project, seq);",
    )?;
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()
}

fn add_missing(tx: &Transaction, columns: &[(&str, &str, &str)]) -> rusqlite::Result<()> {
    for (table, column, definition) in columns {
        let present: bool = tx.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )?;
        if !present {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))?;
        }
    }
    Ok(())
}
