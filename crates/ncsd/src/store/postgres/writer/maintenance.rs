//! The jobs that run one at a time between ingest groups, each as its own statements inside the
//! shared transaction: quarantining a delivery that could not be read, importing records from
//! another store, and purging old data in chunks.

use std::collections::HashSet;

use sqlx::postgres::PgConnection;

use super::batch::{insert_events, stored_ids};
use crate::store::PurgeChunk;
use crate::store::{EventRecord, ImportBatch, ImportCounts, NewQuarantine};

/// Events (and delivery and quarantine rows) one purge job removes at most, so writers on every
/// instance, which queue behind the write lock, wait for one chunk rather than a whole purge.
const PURGE_CHUNK: i64 = 2000;

/// Keep an unreadable body: a new row for its first delivery, a count on that row for the same
/// body again (see the SQLite adapter). A row kept before replays were counted (no
/// `body_digest`) that holds the same body received at the same moment is found by `digest`.
pub(super) async fn quarantine(tx: &mut PgConnection, q: &NewQuarantine) -> sqlx::Result<i64> {
    let digest = crate::store::quarantine_digest(q.received_at_ms, &q.body);
    let body_digest = crate::store::body_digest(&q.body);
    let counted: Option<i64> = sqlx::query_scalar(
        "UPDATE quarantine SET deliveries = deliveries + 1, \
             last_received_at_ms = GREATEST(COALESCE(last_received_at_ms, received_at_ms), $2) \
         WHERE body_digest = $1 RETURNING id",
    )
    .bind(&body_digest)
    .bind(q.received_at_ms)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = counted {
        return Ok(id);
    }
    // The writer runs jobs one at a time under the write lock, so no other instance can insert
    // the same body between the UPDATE and this INSERT.
    sqlx::query_scalar(
        "WITH added AS ( \
             INSERT INTO quarantine (received_at_ms, reason, body, headers, digest, body_digest) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id \
         ) \
         SELECT id FROM added UNION ALL SELECT id FROM quarantine WHERE digest = $5",
    )
    .bind(q.received_at_ms)
    .bind(&q.reason)
    .bind(&q.body)
    .bind(&q.headers)
    .bind(digest)
    .bind(body_digest)
    .fetch_one(&mut *tx)
    .await
}

/// Records exported from another store; each kind is written once however often it arrives.
pub(super) async fn import(
    tx: &mut PgConnection,
    b: &ImportBatch,
) -> sqlx::Result<(ImportCounts, Option<i64>)> {
    let ids: Vec<&str> = b.events.iter().map(|e| e.notice_id.as_str()).collect();
    let stored = stored_ids(tx, &ids).await?;
    let mut claimed = HashSet::new();
    let fresh: Vec<&EventRecord> = b
        .events
        .iter()
        .filter(|e| !stored.contains(&e.notice_id) && claimed.insert(e.notice_id.as_str()))
        .collect();
    let inserted = insert_events(tx, &fresh).await?;
    let mut counts = ImportCounts {
        events: inserted.len() as u64,
        ..Default::default()
    };
    let newest = inserted.values().map(|(seq, _)| *seq).max();

    if !b.deliveries.is_empty() {
        counts.deliveries = sqlx::query(
            "INSERT INTO deliveries (notice_id, received_at_ms, notify_ms) \
             SELECT notice_id, received_at_ms, notify_ms \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY \
                  AS d (notice_id, received_at_ms, notify_ms, ord) \
             ORDER BY ord \
             ON CONFLICT DO NOTHING",
        )
        .bind(
            b.deliveries
                .iter()
                .map(|d| d.notice_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            b.deliveries
                .iter()
                .map(|d| d.received_at_ms)
                .collect::<Vec<_>>(),
        )
        .bind(b.deliveries.iter().map(|d| d.notify_ms).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    if !b.quarantine.is_empty() {
        let q = &b.quarantine;
        counts.quarantine = sqlx::query(
            "INSERT INTO quarantine (received_at_ms, reason, body, headers, digest, body_digest, \
                 deliveries, last_received_at_ms) \
             SELECT received_at_ms, reason, body, headers, digest, body_digest, deliveries, \
                 last_received_at_ms \
             FROM UNNEST($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::text[], \
                         $6::text[], $7::bigint[], $8::bigint[]) \
                  WITH ORDINALITY AS q (received_at_ms, reason, body, headers, digest, \
                      body_digest, deliveries, last_received_at_ms, ord) \
             ORDER BY ord \
             ON CONFLICT DO NOTHING",
        )
        .bind(q.iter().map(|q| q.received_at_ms).collect::<Vec<_>>())
        .bind(q.iter().map(|q| q.reason.as_str()).collect::<Vec<_>>())
        .bind(q.iter().map(|q| q.body.as_slice()).collect::<Vec<_>>())
        .bind(q.iter().map(|q| q.headers.as_str()).collect::<Vec<_>>())
        .bind(
            q.iter()
                .map(|q| crate::store::quarantine_digest(q.received_at_ms, &q.body))
                .collect::<Vec<_>>(),
        )
        .bind(
            q.iter()
                .map(|q| crate::store::body_digest(&q.body))
                .collect::<Vec<_>>(),
        )
        .bind(q.iter().map(|q| q.deliveries).collect::<Vec<_>>())
        .bind(q.iter().map(|q| q.last_received_at_ms).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    Ok((counts, newest))
}

/// One chunk of a purge, the same rule as SQLite's: recording events of sessions whose last
/// activity is older than the cut-off (a session still running keeps its beginning), other
/// events by receive time, then sessions left empty. Two statements: the second must see what
/// the first deleted.
pub(super) async fn purge(tx: &mut PgConnection, before_ms: i64) -> sqlx::Result<PurgeChunk> {
    let (events, others): (i64, i64) = sqlx::query_as(
        "WITH picked AS ( \
             (SELECT e.seq, e.notice_id, e.content_key FROM sessions s JOIN events e ON e.sid = s.sid \
              WHERE s.last_activity_ms < $1 AND e.product_id = 3 LIMIT $2) \
             UNION \
             (SELECT seq, notice_id, content_key FROM events \
              WHERE received_at_ms < $1 AND (sid IS NULL OR product_id <> 3) LIMIT $2) \
         ), keys AS ( \
             DELETE FROM content_keys WHERE content_key IN \
                 (SELECT content_key FROM picked WHERE content_key IS NOT NULL) \
                 AND notice_id IN (SELECT notice_id FROM picked) \
         ), gone AS ( \
             DELETE FROM events WHERE seq IN (SELECT seq FROM picked) RETURNING 1 \
         ), repeats AS ( \
             DELETE FROM deliveries WHERE id IN \
                 (SELECT id FROM deliveries WHERE received_at_ms < $1 LIMIT $2) RETURNING 1 \
         ), kept AS ( \
             DELETE FROM quarantine WHERE id IN \
                 (SELECT id FROM quarantine WHERE received_at_ms < $1 LIMIT $2) RETURNING 1 \
         ) \
         SELECT (SELECT count(*) FROM gone), \
                (SELECT count(*) FROM repeats) + (SELECT count(*) FROM kept)",
    )
    .bind(before_ms)
    .bind(PURGE_CHUNK)
    .fetch_one(&mut *tx)
    .await?;
    // A purged session's kept answer goes with it (it holds the session's data).
    sqlx::query(
        "DELETE FROM session_states WHERE sid IN (SELECT s.sid FROM sessions s \
         WHERE s.last_activity_ms < $1 AND NOT EXISTS \
         (SELECT 1 FROM events e WHERE e.sid = s.sid AND e.product_id = 3))",
    )
    .bind(before_ms)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM sessions s WHERE s.last_activity_ms < $1 AND NOT EXISTS \
         (SELECT 1 FROM events e WHERE e.sid = s.sid AND e.product_id = 3)",
    )
    .bind(before_ms)
    .execute(&mut *tx)
    .await?;
    Ok(PurgeChunk {
        events: events as u64,
        more: events + others > 0,
    })
}
