//! Read queries for the SQLite adapter; each runs on a pooled read connection.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use crate::store::{
    DeliveryRecord, EventQuery, EventRecord, KeptState, QuarantineRecord, SessionQuery, SessionRow,
    StatesProgress,
};
use crate::summary::PHASE_SQL;

const EVENT_COLUMNS: &str = "seq, notice_id, product_id, event_type, notify_ms, sid, cname, uid, \
    sequence, sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, copy_of, \
    content_key, session_flags, project";

fn event_row(r: &Row) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        seq: r.get(0)?,
        notice_id: r.get(1)?,
        product_id: r.get(2)?,
        event_type: r.get(3)?,
        notify_ms: r.get(4)?,
        sid: r.get(5)?,
        cname: r.get(6)?,
        uid: r.get(7)?,
        sequence: r.get(8)?,
        sendts: r.get(9)?,
        body: r.get(10)?,
        headers: r.get(11)?,
        received_at_ms: r.get(12)?,
        last_received_at_ms: r.get(13)?,
        deliveries: r.get(14)?,
        copy_of: r.get(15)?,
        content_key: r.get(16)?,
        session_flags: r.get(17)?,
        project: r.get(18)?,
    })
}

pub fn event(c: &Connection, notice_id: &str) -> rusqlite::Result<Option<EventRecord>> {
    c.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE notice_id = ?1"
    ))?
    .query_row([notice_id], event_row)
    .optional()
}

pub fn events(c: &Connection, q: &EventQuery) -> rusqlite::Result<Vec<EventRecord>> {
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?");
    let mut args: Vec<Value> = vec![q.after.into()];
    let mut filter = |clause: &str, v: Value| {
        sql.push_str(clause);
        args.push(v);
    };
    if let Some(t) = q.event_type {
        filter(" AND event_type = ?", t.into());
    }
    if let Some(p) = q.product_id {
        filter(" AND product_id = ?", p.into());
    }
    if let Some(s) = &q.sid {
        filter(" AND sid = ?", s.clone().into());
    }
    if let Some(n) = &q.cname {
        filter(" AND cname = ?", n.clone().into());
    }
    if let Some(t) = q.since {
        filter(" AND received_at_ms >= ?", t.into());
    }
    if let Some(b) = q.before {
        filter(" AND seq < ?", b.into());
    }
    if let Some(p) = &q.project {
        filter(" AND project = ?", p.clone().into());
    }
    sql.push_str(if q.before.is_some() {
        " ORDER BY seq DESC LIMIT ?"
    } else {
        " ORDER BY seq LIMIT ?"
    });
    args.push(q.limit.into());
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), event_row)?;
    rows.collect()
}

/// `seq > after` is checked on the `(sid, sequence)` index entries (they carry the rowid), so
/// catching up reads only the new rows. `+product_id` keeps SQLite (which has no statistics
/// here) off the `(product_id, seq)` index: with it the query read every recording event after
/// `after`, hundreds of milliseconds at 1M events.
pub fn session_events(c: &Connection, sid: &str, after: i64) -> rusqlite::Result<Vec<EventRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE sid = ?1 AND +product_id = 3 AND seq > ?2 \
         ORDER BY sequence, seq"
    ))?;
    let rows = stmt.query_map(rusqlite::params![sid, after], event_row)?;
    rows.collect()
}

pub(super) const SESSION_COLUMNS: &str =
    "sid, cname, flags, event_count, first_event_ms, last_event_ms, last_activity_ms, last_seq, \
     exit_key, project";

pub(super) fn session_row(r: &rusqlite::Row) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        sid: r.get(0)?,
        cname: r.get(1)?,
        flags: r.get(2)?,
        event_count: r.get(3)?,
        first_event_ms: r.get(4)?,
        last_event_ms: r.get(5)?,
        last_activity_ms: r.get(6)?,
        last_seq: r.get(7)?,
        exit_key: r.get(8)?,
        project: r.get(9)?,
    })
}

pub fn session(c: &Connection, sid: &str) -> rusqlite::Result<Option<SessionRow>> {
    c.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE sid = ?1"
    ))?
    .query_row([sid], session_row)
    .optional()
}

pub fn session_with_kept(
    c: &Connection,
    sid: &str,
) -> rusqlite::Result<Option<(SessionRow, Option<KeptState>)>> {
    c.prepare_cached(
        "SELECT s.sid, s.cname, s.flags, s.event_count, s.first_event_ms, s.last_event_ms, \
         s.last_activity_ms, s.last_seq, s.exit_key, s.project, k.format, k.state \
         FROM sessions s LEFT JOIN session_states k ON k.sid = s.sid AND k.last_seq = s.last_seq \
         WHERE s.sid = ?1",
    )?
    .query_row([sid], |r| {
        let row = session_row(r)?;
        let kept = KeptState::joined(&row, r.get(10)?, r.get(11)?);
        Ok((row, kept))
    })
    .optional()
}

pub fn kept_state(c: &Connection, sid: &str) -> rusqlite::Result<Option<KeptState>> {
    c.prepare_cached("SELECT last_seq, format, state FROM session_states WHERE sid = ?1")?
        .query_row([sid], |r| {
            Ok(KeptState {
                sid: sid.to_string(),
                last_seq: r.get(0)?,
                format: r.get(1)?,
                json: r.get(2)?,
            })
        })
        .optional()
}

pub fn states_progress(c: &Connection) -> rusqlite::Result<Option<StatesProgress>> {
    let v = |k: &str| -> rusqlite::Result<Option<String>> {
        c.prepare_cached("SELECT v FROM meta WHERE k = ?1")?
            .query_row([k], |r| r.get(0))
            .optional()
    };
    Ok(match (v("states_cursor")?, v("states_format")?) {
        (Some(cursor), Some(format)) => cursor
            .parse()
            .ok()
            .map(|cursor| StatesProgress { cursor, format }),
        _ => None,
    })
}

pub fn sessions(c: &Connection, q: &SessionQuery) -> rusqlite::Result<Vec<SessionRow>> {
    let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(n) = &q.cname {
        sql.push_str(" AND cname = ?");
        args.push(n.clone().into());
    }
    if let Some(p) = &q.phase {
        sql.push_str(&format!(" AND ({PHASE_SQL}) = ?"));
        args.push(p.clone().into());
    }
    if let Some(t) = q.since {
        sql.push_str(" AND last_activity_ms >= ?");
        args.push(t.into());
    }
    if let Some(t) = q.until {
        sql.push_str(" AND last_activity_ms < ?");
        args.push(t.into());
    }
    if let Some(p) = &q.project {
        sql.push_str(" AND project = ?");
        args.push(p.clone().into());
    }
    if let Some(bits) = q.flags_any {
        sql.push_str(" AND flags & ? <> 0");
        args.push(bits.into());
    }
    if let Some(t) = q.unfinished_before {
        sql.push_str(&format!(
            " AND ({PHASE_SQL}) NOT IN ('completed', 'failed') AND last_activity_ms < ?"
        ));
        args.push(t.into());
    }
    if let Some((ms, sid)) = &q.cursor {
        sql.push_str(" AND (last_activity_ms < ? OR (last_activity_ms = ? AND sid < ?))");
        args.extend([(*ms).into(), (*ms).into(), sid.clone().into()]);
    }
    sql.push_str(" ORDER BY last_activity_ms DESC, sid DESC LIMIT ?");
    args.push(q.limit.into());
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), session_row)?;
    rows.collect()
}

pub fn quarantined(
    c: &Connection,
    after: i64,
    limit: i64,
) -> rusqlite::Result<Vec<QuarantineRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, received_at_ms, reason, body, headers, deliveries, last_received_at_ms \
         FROM quarantine WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit], |r| {
        Ok(QuarantineRecord {
            id: r.get(0)?,
            received_at_ms: r.get(1)?,
            reason: r.get(2)?,
            body: r.get(3)?,
            headers: r.get(4)?,
            deliveries: r.get(5)?,
            last_received_at_ms: r.get(6)?,
        })
    })?;
    rows.collect()
}

pub fn repeat_deliveries(
    c: &Connection,
    after: i64,
    limit: i64,
) -> rusqlite::Result<Vec<DeliveryRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, notice_id, received_at_ms, notify_ms FROM deliveries WHERE id > ?1 \
         ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit], |r| {
        Ok(DeliveryRecord {
            id: r.get(0)?,
            notice_id: r.get(1)?,
            received_at_ms: r.get(2)?,
            notify_ms: r.get(3)?,
        })
    })?;
    rows.collect()
}

pub fn latest_seq(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
}
