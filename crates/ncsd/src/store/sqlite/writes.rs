//! The SQL of each write job (ingest, quarantine, import, purge, probe), run by the writer
//! thread inside its transaction. Every decision that must hold across deliveries (a noticeId
//! stored once, which copy came first) rests on a unique key here, not in memory.

use rusqlite::{params, OptionalExtension, Transaction};

use crate::store::{
    EventRecord, ImportBatch, ImportCounts, IngestOutcome, KeptState, NewDelivery, NewQuarantine,
    PurgeChunk, QuarantineRecord, StatesProgress,
};

/// Most events one purge job deletes, so the writer (and ingest behind it) is never held long.
const PURGE_CHUNK: i64 = 2000;

/// Keeps sessions' answers (an older one, lower `last_seq`, never replaces a newer) and the
/// state keeper's progress.
pub(super) fn keep_states(
    tx: &Transaction,
    states: &[KeptState],
    progress: Option<&StatesProgress>,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO session_states (sid, last_seq, format, state) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (sid) DO UPDATE SET last_seq = excluded.last_seq, \
           format = excluded.format, state = excluded.state \
         WHERE excluded.last_seq >= session_states.last_seq",
    )?;
    for s in states {
        stmt.execute(params![s.sid, s.last_seq, s.format, s.json])?;
    }
    if let Some(p) = progress {
        let mut meta = tx.prepare_cached("INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)")?;
        meta.execute(params!["states_cursor", p.cursor.to_string()])?;
        meta.execute(params!["states_format", p.format])?;
    }
    Ok(())
}

pub(super) fn probe(tx: &Transaction) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO meta (k, v) VALUES ('write_probe', ?1)")?
        .execute([crate::clock::now_ms().to_string()])?;
    Ok(())
}

/// The columns of a new `events` row, borrowed from a delivery or an imported record, so a job
/// stays intact for a retry.
struct NewEvent<'a> {
    notice_id: &'a str,
    product_id: i64,
    event_type: i64,
    notify_ms: Option<i64>,
    sid: Option<&'a str>,
    cname: Option<&'a str>,
    uid: Option<&'a str>,
    sequence: Option<i64>,
    sendts: Option<i64>,
    body: &'a [u8],
    headers: &'a str,
    received_at_ms: i64,
    last_received_at_ms: i64,
    deliveries: i64,
    copy_of: Option<&'a str>,
    content_key: Option<&'a str>,
    session_flags: i64,
    project: &'a str,
}

impl<'a> From<&'a NewDelivery> for NewEvent<'a> {
    fn from(d: &'a NewDelivery) -> Self {
        NewEvent {
            notice_id: &d.notice_id,
            product_id: d.product_id,
            event_type: d.event_type,
            notify_ms: d.notify_ms,
            sid: d.sid.as_deref(),
            cname: d.cname.as_deref(),
            uid: d.uid.as_deref(),
            sequence: d.sequence,
            sendts: d.sendts,
            body: &d.body,
            headers: &d.headers,
            received_at_ms: d.received_at_ms,
            last_received_at_ms: d.received_at_ms,
            deliveries: 1,
            copy_of: None,
            content_key: d.content_key.as_deref(),
            session_flags: d.session_flags,
            project: &d.project,
        }
    }
}

impl<'a> From<&'a EventRecord> for NewEvent<'a> {
    fn from(e: &'a EventRecord) -> Self {
        NewEvent {
            notice_id: &e.notice_id,
            product_id: e.product_id,
            event_type: e.event_type,
            notify_ms: e.notify_ms,
            sid: e.sid.as_deref(),
            cname: e.cname.as_deref(),
            uid: e.uid.as_deref(),
            sequence: e.sequence,
            sendts: e.sendts,
            body: &e.body,
            headers: &e.headers,
            received_at_ms: e.received_at_ms,
            last_received_at_ms: e.last_received_at_ms,
            deliveries: e.deliveries,
            copy_of: e.copy_of.as_deref(),
            content_key: e.content_key.as_deref(),
            session_flags: e.session_flags,
            project: &e.project,
        }
    }
}

pub(super) fn ingest_one(tx: &Transaction, d: &NewDelivery) -> rusqlite::Result<IngestOutcome> {
    let (notice_id, received_at_ms, notify_ms) = (&d.notice_id, d.received_at_ms, d.notify_ms);
    if let Some((seq, copy_of)) = insert_event(tx, &NewEvent::from(d))? {
        return Ok(IngestOutcome {
            seq,
            duplicate: false,
            deliveries: 1,
            copy_of,
        });
    }
    // The noticeId is already stored: another delivery of the same notification.
    let (seq, deliveries, copy_of) = tx
        .prepare_cached(
            "UPDATE events SET deliveries = deliveries + 1, last_received_at_ms = ?2 \
             WHERE notice_id = ?1 RETURNING seq, deliveries, copy_of",
        )?
        .query_row(params![notice_id, received_at_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    insert_repeat(tx, notice_id, received_at_ms, notify_ms)?;
    Ok(IngestOutcome {
        seq,
        duplicate: true,
        deliveries,
        copy_of,
    })
}

/// Insert a new event, decide whether it is a redundant copy, and merge it into its session.
/// Returns None when the noticeId already exists (nothing is written then).
fn insert_event(tx: &Transaction, e: &NewEvent) -> rusqlite::Result<Option<(i64, Option<String>)>> {
    // A copy carries the same (sid, sequence) as its original, so the original is found through
    // the `(sid, sequence)` index, on the page this insert touches anyway. (A separate table
    // keyed by the content hash put every event on a random page of its own: a third of the
    // writer's cost.) One writer runs this check and the insert in one transaction, so "first"
    // is decided exactly once.
    let copy_of = match (e.copy_of, e.content_key, e.sid, e.sequence) {
        (Some(c), ..) => Some(c.to_string()),
        (None, Some(key), Some(sid), Some(sequence)) => tx
            .prepare_cached(
                "SELECT notice_id FROM events WHERE sid = ?1 AND sequence = ?2 \
                 AND content_key = ?3 AND copy_of IS NULL AND notice_id <> ?4 \
                 ORDER BY seq LIMIT 1",
            )?
            .query_row(params![sid, sequence, key, e.notice_id], |r| r.get(0))
            .optional()?,
        _ => None,
    };
    // No RETURNING: SQLite buffers RETURNING rows in a temporary table, a cost on every row;
    // the statement's change count and the last rowid say the same.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO events (notice_id, product_id, event_type, notify_ms, sid, cname, uid, \
             sequence, sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, \
             copy_of, content_key, session_flags, project) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                     ?18) \
             ON CONFLICT (notice_id) DO NOTHING",
        )?
        .execute(params![
            e.notice_id,
            e.product_id,
            e.event_type,
            e.notify_ms,
            e.sid,
            e.cname,
            e.uid,
            e.sequence,
            e.sendts,
            e.body,
            e.headers,
            e.received_at_ms,
            e.last_received_at_ms,
            e.deliveries,
            copy_of,
            e.content_key,
            e.session_flags,
            e.project
        ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let seq = tx.last_insert_rowid();
    if let (Some(sid), 3) = (e.sid, e.product_id) {
        let counted = i64::from(copy_of.is_none());
        tx.prepare_cached(
            "INSERT INTO sessions (sid, cname, flags, event_count, first_event_ms, last_event_ms, \
             last_activity_ms, last_seq, exit_key, project) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (sid) DO UPDATE SET \
               exit_key = MAX(sessions.exit_key, excluded.exit_key), \
               cname = COALESCE(sessions.cname, excluded.cname), \
               flags = sessions.flags | excluded.flags, \
               event_count = sessions.event_count + excluded.event_count, \
               first_event_ms = MIN(COALESCE(sessions.first_event_ms, excluded.first_event_ms), \
                                    COALESCE(excluded.first_event_ms, sessions.first_event_ms)), \
               last_event_ms = MAX(COALESCE(sessions.last_event_ms, excluded.last_event_ms), \
                                   COALESCE(excluded.last_event_ms, sessions.last_event_ms)), \
               last_activity_ms = MAX(sessions.last_activity_ms, excluded.last_activity_ms), \
               last_seq = MAX(sessions.last_seq, excluded.last_seq)",
        )?
        .execute(params![
            sid,
            e.cname,
            e.session_flags,
            counted,
            e.sendts,
            e.sendts.unwrap_or(e.received_at_ms).max(e.received_at_ms),
            seq,
            crate::summary::exit_key(e.event_type, e.sequence, e.session_flags),
            e.project
        ])?;
    }
    Ok(Some((seq, copy_of)))
}

/// A repeat delivery of a stored noticeId; returns 1 when recorded, 0 when already there.
fn insert_repeat(
    tx: &Transaction,
    notice_id: &str,
    received_at_ms: i64,
    notify_ms: Option<i64>,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO deliveries (notice_id, received_at_ms, notify_ms) \
         VALUES (?1, ?2, ?3)",
    )?
    .execute(params![notice_id, received_at_ms, notify_ms])
}

/// Keep an unreadable body as received: its first delivery is a new row; the same body again
/// only counts on that row (a replay costs no space). Returns the row's id.
pub(super) fn quarantine_one(tx: &Transaction, q: &NewQuarantine) -> rusqlite::Result<i64> {
    let digest = crate::store::quarantine_digest(q.received_at_ms, &q.body);
    let body_digest = crate::store::body_digest(&q.body);
    tx.prepare_cached(
        "INSERT INTO quarantine (received_at_ms, reason, body, headers, digest, body_digest) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (body_digest) DO UPDATE SET deliveries = deliveries + 1, \
             last_received_at_ms = max(coalesce(last_received_at_ms, received_at_ms), \
                                       excluded.received_at_ms) \
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        q.received_at_ms,
        q.reason,
        q.body,
        q.headers,
        digest,
        body_digest
    ])?;
    tx.prepare_cached(
        "SELECT id FROM quarantine WHERE body_digest = ?1 OR digest = ?2 ORDER BY id LIMIT 1",
    )?
    .query_row(params![body_digest, digest], |r| r.get(0))
}

/// A quarantined row from another store; 1 when new, 0 when already here.
fn import_quarantine(tx: &Transaction, q: &QuarantineRecord) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO quarantine (received_at_ms, reason, body, headers, digest, \
             body_digest, deliveries, last_received_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        q.received_at_ms,
        q.reason,
        q.body,
        q.headers,
        crate::store::quarantine_digest(q.received_at_ms, &q.body),
        crate::store::body_digest(&q.body),
        q.deliveries,
        q.last_received_at_ms
    ])
}

pub(super) fn import(
    tx: &Transaction,
    b: &ImportBatch,
) -> rusqlite::Result<(ImportCounts, Option<i64>)> {
    let mut counts = ImportCounts::default();
    let mut newest = None;
    for e in &b.events {
        if let Some((seq, _)) = insert_event(tx, &NewEvent::from(e))? {
            counts.events += 1;
            newest = Some(seq);
        }
    }
    for d in &b.deliveries {
        counts.deliveries += insert_repeat(tx, &d.notice_id, d.received_at_ms, d.notify_ms)? as u64;
    }
    for q in &b.quarantine {
        counts.quarantine += import_quarantine(tx, q)? as u64;
    }
    Ok((counts, newest))
}

/// One chunk of a purge: at most `PURGE_CHUNK` events, so the writer (and ingest behind it) is
/// never held for long.
pub(super) fn purge(tx: &Transaction, before_ms: i64) -> rusqlite::Result<PurgeChunk> {
    // Sessions go as a whole when their last activity is older than the cut-off, so a long
    // recording never loses its beginning while it is still running.
    tx.execute(
        "CREATE TEMP TABLE IF NOT EXISTS purge_batch \
         (seq INTEGER PRIMARY KEY, notice_id TEXT, content_key TEXT)",
        [],
    )?;
    tx.execute("DELETE FROM temp.purge_batch", [])?;
    tx.execute(
        "INSERT INTO temp.purge_batch (seq, notice_id, content_key) \
         SELECT e.seq, e.notice_id, e.content_key FROM sessions s JOIN events e ON e.sid = s.sid \
         WHERE s.last_activity_ms < ?1 AND +e.product_id = 3 LIMIT ?2",
        params![before_ms, PURGE_CHUNK],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO temp.purge_batch (seq, notice_id, content_key) \
         SELECT seq, notice_id, content_key FROM events \
         WHERE received_at_ms < ?1 AND (sid IS NULL OR product_id <> 3) LIMIT ?2",
        params![before_ms, PURGE_CHUNK],
    )?;
    let n = tx.execute(
        "DELETE FROM events WHERE seq IN (SELECT seq FROM temp.purge_batch)",
        [],
    )?;
    // A purged session's kept answer goes with it (it holds the session's data).
    tx.execute(
        "DELETE FROM session_states WHERE sid IN (SELECT sid FROM sessions \
         WHERE last_activity_ms < ?1 \
         AND NOT EXISTS (SELECT 1 FROM events e WHERE e.sid = sessions.sid AND +e.product_id = 3))",
        [before_ms],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE last_activity_ms < ?1 \
         AND NOT EXISTS (SELECT 1 FROM events e WHERE e.sid = sessions.sid AND +e.product_id = 3)",
        [before_ms],
    )?;
    let d = tx.execute(
        "DELETE FROM deliveries WHERE id IN \
         (SELECT id FROM deliveries WHERE received_at_ms < ?1 LIMIT ?2)",
        params![before_ms, PURGE_CHUNK],
    )?;
    let q = tx.execute(
        "DELETE FROM quarantine WHERE id IN \
         (SELECT id FROM quarantine WHERE received_at_ms < ?1 LIMIT ?2)",
        params![before_ms, PURGE_CHUNK],
    )?;
    Ok(PurgeChunk {
        events: n as u64,
        more: n + d + q > 0,
    })
}
