//! Forwarding in SQLite: destinations and their outboxes. Writes run on the writer thread, as
//! closures (`Job::Exec`), so they share its transactions; reads use the read pool.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::store::{Attempt, DestinationRow, OutMessage, OutRecord, Requeue, Settle};

const DESTINATION_COLUMNS: &str =
    "name, state, event_cursor, lifecycle_cursor, last_success_ms, last_error";
const OUT_COLUMNS: &str = "seq, id, kind, sid, body, state, attempts, next_attempt_ms, \
    created_ms, delivered_ms, last_error";

fn destination_row(r: &Row) -> rusqlite::Result<DestinationRow> {
    Ok(DestinationRow {
        name: r.get(0)?,
        state: r.get(1)?,
        event_cursor: r.get(2)?,
        lifecycle_cursor: r.get(3)?,
        last_success_ms: r.get(4)?,
        last_error: r.get(5)?,
    })
}

fn out_row(r: &Row) -> rusqlite::Result<OutRecord> {
    Ok(OutRecord {
        seq: r.get(0)?,
        id: r.get(1)?,
        kind: r.get(2)?,
        sid: r.get(3)?,
        body: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_ms: r.get(7)?,
        created_ms: r.get(8)?,
        delivered_ms: r.get(9)?,
        last_error: r.get(10)?,
        attempt_log: Vec::new(),
    })
}

pub fn destination(c: &Connection, name: &str) -> rusqlite::Result<Option<DestinationRow>> {
    c.prepare_cached(&format!(
        "SELECT {DESTINATION_COLUMNS} FROM destinations WHERE name = ?1"
    ))?
    .query_row([name], destination_row)
    .optional()
}

pub fn open(tx: &Transaction, name: &str, events: i64, lifecycle: i64) -> rusqlite::Result<u64> {
    tx.prepare_cached(
        "INSERT INTO destinations (name, event_cursor, lifecycle_cursor) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO NOTHING",
    )?
    .execute(params![name, events, lifecycle])
    .map(|n| n as u64)
}

pub fn enqueue(
    tx: &Transaction,
    name: &str,
    messages: &[OutMessage],
    cursors: Option<(i64, i64)>,
    again: bool,
    now: i64,
) -> rusqlite::Result<u64> {
    let sql = if again {
        "INSERT INTO outbox (destination, id, kind, sid, body, next_attempt_ms, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (destination, id) DO UPDATE SET \
           state = 'pending', attempts = 0, next_attempt_ms = excluded.next_attempt_ms, \
           lease_owner = NULL, lease_until_ms = NULL"
    } else {
        "INSERT INTO outbox (destination, id, kind, sid, body, next_attempt_ms, created_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (destination, id) DO NOTHING"
    };
    let mut insert = tx.prepare_cached(sql)?;
    let mut n = 0;
    for m in messages {
        n += insert.execute(params![
            name,
            m.id,
            m.kind,
            m.sid,
            m.body,
            now,
            m.created_ms
        ])? as u64;
    }
    if let Some((events, lifecycle)) = cursors {
        tx.prepare_cached(
            "UPDATE destinations SET event_cursor = MAX(event_cursor, ?2), \
             lifecycle_cursor = MAX(lifecycle_cursor, ?3) WHERE name = ?1",
        )?
        .execute(params![name, events, lifecycle])?;
    }
    Ok(n)
}

pub fn claim(
    tx: &Transaction,
    name: &str,
    owner: &str,
    now: i64,
    until: i64,
    limit: i64,
    ordered: bool,
) -> rusqlite::Result<u64> {
    let order_rule = if ordered {
        " AND (o.sid IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.destination = o.destination \
           AND e.sid = o.sid AND e.state = 'pending' AND e.seq < o.seq))"
    } else {
        ""
    };
    tx.prepare_cached(&format!(
        "UPDATE outbox SET lease_owner = ?2, lease_until_ms = ?4 WHERE seq IN ( \
           SELECT o.seq FROM outbox o WHERE o.destination = ?1 AND o.state = 'pending' \
           AND o.next_attempt_ms <= ?3 AND (o.lease_until_ms IS NULL OR o.lease_until_ms < ?3)\
           {order_rule} ORDER BY o.seq LIMIT ?5)"
    ))?
    .execute(params![name, owner, now, until, limit])
    .map(|n| n as u64)
}

pub fn claimed(
    c: &Connection,
    name: &str,
    owner: &str,
    until: i64,
) -> rusqlite::Result<Vec<OutRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {OUT_COLUMNS} FROM outbox WHERE destination = ?1 AND lease_owner = ?2 \
         AND lease_until_ms = ?3 AND state = 'pending' ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![name, owner, until], out_row)?;
    rows.collect()
}

pub fn settle(
    tx: &Transaction,
    name: &str,
    owner: &str,
    settled: &[(i64, Attempt, Settle)],
) -> rusqlite::Result<u64> {
    let mut update = tx.prepare_cached(
        "UPDATE outbox SET state = ?3, attempts = attempts + 1, \
           next_attempt_ms = COALESCE(?4, next_attempt_ms), delivered_ms = ?5, last_error = ?6, \
           lease_owner = NULL, lease_until_ms = NULL \
         WHERE seq = ?1 AND destination = ?2 AND lease_owner = ?7",
    )?;
    let mut attempt = tx.prepare_cached(
        "INSERT INTO outbox_attempts (outbox_seq, at_ms, status, error, latency_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let (mut n, mut success, mut error, mut disable) = (0, None, None, None);
    for (seq, a, outcome) in settled {
        let (state, next, delivered) = row_update(a, *outcome);
        // Only while the lease is ours: a message whose lease ran out may be another's now.
        if update.execute(params![seq, name, state, next, delivered, a.error, owner])? == 0 {
            continue;
        }
        attempt.execute(params![seq, a.at_ms, a.status, a.error, a.latency_ms])?;
        n += 1;
        match outcome {
            Settle::Delivered => success = success.max(Some(a.at_ms)),
            Settle::Disable => disable = a.error.clone(),
            _ => error = a.error.clone(),
        }
    }
    if let Some(at) = success {
        tx.prepare_cached(
            "UPDATE destinations SET last_success_ms = max(COALESCE(last_success_ms, 0), ?2) \
             WHERE name = ?1",
        )?
        .execute(params![name, at])?;
    }
    if error.is_some() {
        tx.prepare_cached("UPDATE destinations SET last_error = ?2 WHERE name = ?1")?
            .execute(params![name, error])?;
    }
    if disable.is_some() {
        tx.prepare_cached(
            "UPDATE destinations SET state = 'disabled', last_error = ?2 WHERE name = ?1",
        )?
        .execute(params![name, disable])?;
    }
    Ok(n)
}

/// The outbox row an outcome leaves: (state, next attempt, delivered at).
pub(crate) fn row_update(a: &Attempt, outcome: Settle) -> (&'static str, Option<i64>, Option<i64>) {
    match outcome {
        Settle::Delivered => ("delivered", None, Some(a.at_ms)),
        Settle::Retry { next_attempt_ms } => ("pending", Some(next_attempt_ms), None),
        Settle::Failed => ("failed", None, None),
        Settle::Disable => ("pending", None, None),
    }
}

pub fn messages(
    c: &Connection,
    name: &str,
    state: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<OutRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {OUT_COLUMNS} FROM outbox WHERE destination = ?1 \
         AND (?2 IS NULL OR state = ?2) AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
    ))?;
    let mut rows: Vec<OutRecord> = stmt
        .query_map(
            params![name, state, before.unwrap_or(i64::MAX), limit],
            out_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut attempts = c.prepare_cached(
        "SELECT at_ms, status, error, latency_ms FROM outbox_attempts WHERE outbox_seq = ?1 \
         ORDER BY id",
    )?;
    for r in &mut rows {
        r.attempt_log = attempts
            .query_map([r.seq], |a| {
                Ok(Attempt {
                    at_ms: a.get(0)?,
                    status: a.get(1)?,
                    error: a.get(2)?,
                    latency_ms: a.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(rows)
}

pub fn requeue(tx: &Transaction, name: &str, which: &Requeue, now: i64) -> rusqlite::Result<u64> {
    let n = match which {
        Requeue::One(id) => tx
            .prepare_cached(
                "UPDATE outbox SET state = 'pending', next_attempt_ms = ?3, lease_owner = NULL, \
                 lease_until_ms = NULL WHERE destination = ?1 AND id = ?2",
            )?
            .execute(params![name, id, now])?,
        Requeue::Failed => tx
            .prepare_cached(
                "UPDATE outbox SET state = 'pending', next_attempt_ms = ?2, lease_owner = NULL, \
                 lease_until_ms = NULL WHERE destination = ?1 AND state = 'failed'",
            )?
            .execute(params![name, now])?,
    };
    Ok(n as u64)
}

pub fn set_state(
    tx: &Transaction,
    name: &str,
    state: &str,
    error: Option<&str>,
) -> rusqlite::Result<u64> {
    tx.prepare_cached("UPDATE destinations SET state = ?2, last_error = ?3 WHERE name = ?1")?
        .execute(params![name, state, error])
        .map(|n| n as u64)
}

pub fn counts(c: &Connection, name: &str) -> rusqlite::Result<(i64, i64)> {
    c.prepare_cached(
        "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed') \
         FROM outbox WHERE destination = ?1 AND state <> 'delivered'",
    )?
    .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
}
