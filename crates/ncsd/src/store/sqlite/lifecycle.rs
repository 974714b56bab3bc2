//! Lifecycle events in SQLite: what the deriver reads (events as evidence, in commit order), the
//! write job that records lifecycle events with the deriver's cursor, and the listing.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, Transaction};

use crate::store::{Evidence, LifecycleQuery, LifecycleRecord, NewLifecycle, SessionRow};

const EVIDENCE_COLUMNS: &str =
    "seq, notice_id, product_id, event_type, sid, cname, uid, sequence, session_flags";

fn evidence_row(r: &Row) -> rusqlite::Result<Evidence> {
    Ok(Evidence {
        seq: r.get(0)?,
        notice_id: r.get(1)?,
        product_id: r.get(2)?,
        event_type: r.get(3)?,
        sid: r.get(4)?,
        cname: r.get(5)?,
        uid: r.get(6)?,
        sequence: r.get(7)?,
        session_flags: r.get(8)?,
    })
}

pub fn evidence_after(c: &Connection, after: i64, limit: i64) -> rusqlite::Result<Vec<Evidence>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {EVIDENCE_COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after, limit], evidence_row)?;
    rows.collect()
}

/// `+product_id`: see `reads::session_events` (the `(sid, sequence)` index, not a range of the
/// `(product_id, seq)` one, which made the deriver quadratic in the store's size).
pub fn session_evidence(c: &Connection, sid: &str, up_to: i64) -> rusqlite::Result<Vec<Evidence>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {EVIDENCE_COLUMNS} FROM events WHERE sid = ?1 AND +product_id = 3 AND seq <= ?2"
    ))?;
    let mut rows: Vec<Evidence> = stmt
        .query_map(params![sid, up_to], evidence_row)?
        .collect::<rusqlite::Result<_>>()?;
    rows.sort_by_key(|e| e.seq);
    Ok(rows)
}

pub fn cursor(c: &Connection) -> rusqlite::Result<i64> {
    let v: Option<String> = c
        .prepare_cached("SELECT v FROM meta WHERE k = 'lifecycle_cursor'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// The write job: rows new by (sid, kind), placed after the newest event; the cursor only
/// moves forward. Returns how many rows were new.
pub(super) fn record(
    tx: &Transaction,
    records: &[NewLifecycle],
    to: Option<i64>,
) -> rusqlite::Result<u64> {
    let placement: i64 = tx
        .prepare_cached("SELECT COALESCE(max(seq), 0) FROM events")?
        .query_row([], |r| r.get(0))?;
    let mut added = 0;
    let mut insert = tx.prepare_cached(
        "INSERT INTO lifecycle (placement, id, sid, kind, cname, recorded_at_ms, message, project) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
                 COALESCE((SELECT project FROM sessions WHERE sid = ?3), 'default')) \
         ON CONFLICT (sid, kind) DO NOTHING",
    )?;
    for r in records {
        added += insert.execute(params![
            placement,
            r.id,
            r.sid,
            r.kind,
            r.cname,
            r.recorded_at_ms,
            r.message
        ])? as u64;
    }
    if let Some(to) = to {
        if to > cursor(tx)? {
            tx.prepare_cached(
                "INSERT INTO meta (k, v) VALUES ('lifecycle_cursor', ?1) \
                 ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            )?
            .execute([to.to_string()])?;
        }
    }
    Ok(added)
}

fn lifecycle_row(r: &Row) -> rusqlite::Result<LifecycleRecord> {
    Ok(LifecycleRecord {
        seq: r.get(0)?,
        placement: r.get(1)?,
        id: r.get(2)?,
        sid: r.get(3)?,
        kind: r.get(4)?,
        cname: r.get(5)?,
        recorded_at_ms: r.get(6)?,
        message: r.get(7)?,
        project: r.get(8)?,
    })
}

pub fn list(c: &Connection, q: &LifecycleQuery) -> rusqlite::Result<Vec<LifecycleRecord>> {
    let mut sql = String::from(
        "SELECT seq, placement, id, sid, kind, cname, recorded_at_ms, message, project \
         FROM lifecycle WHERE seq > ? AND placement >= ?",
    );
    let mut args: Vec<Value> = vec![q.after_seq.into(), q.after_placement.into()];
    let mut filter = |clause: &str, v: Value| {
        sql.push_str(clause);
        args.push(v);
    };
    if let Some(p) = q.up_to_placement {
        filter(" AND placement <= ?", p.into());
    }
    if let Some(k) = &q.kind {
        filter(" AND kind = ?", k.clone().into());
    }
    if let Some(s) = &q.sid {
        filter(" AND sid = ?", s.clone().into());
    }
    if let Some(n) = &q.cname {
        filter(" AND cname = ?", n.clone().into());
    }
    if let Some(p) = &q.project {
        filter(" AND project = ?", p.clone().into());
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    args.push(q.limit.into());
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), lifecycle_row)?;
    rows.collect()
}

pub fn latest(c: &Connection) -> rusqlite::Result<i64> {
    c.prepare_cached("SELECT COALESCE(max(seq), 0) FROM lifecycle")?
        .query_row([], |r| r.get(0))
}

pub fn quiet_sessions(
    c: &Connection,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> rusqlite::Result<Vec<SessionRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {} FROM sessions WHERE last_activity_ms >= ?1 AND last_activity_ms < ?2 \
         ORDER BY last_activity_ms LIMIT ?3",
        super::reads::SESSION_COLUMNS
    ))?;
    let rows = stmt.query_map(params![from_ms, to_ms, limit], super::reads::session_row)?;
    rows.collect()
}
