//! Lifecycle events in PostgreSQL: what the deriver reads (events as evidence, in commit
//! order), the transaction that records lifecycle events with the deriver's cursor, and the
//! listing. Recording takes the writers' lock, so lifecycle cursors and placements become
//! visible in increasing order across instances, like event cursors.

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Connection, Postgres, QueryBuilder, Row};

use super::CHANNEL;
use crate::store::{Evidence, LifecycleQuery, LifecycleRecord, NewLifecycle, SessionRow};

const EVIDENCE_COLUMNS: &str =
    "seq, notice_id, product_id, event_type, sid, cname, uid, sequence, session_flags";

fn evidence_row(r: &PgRow) -> sqlx::Result<Evidence> {
    Ok(Evidence {
        seq: r.try_get(0)?,
        notice_id: r.try_get(1)?,
        product_id: r.try_get(2)?,
        event_type: r.try_get(3)?,
        sid: r.try_get(4)?,
        cname: r.try_get(5)?,
        uid: r.try_get(6)?,
        sequence: r.try_get(7)?,
        session_flags: r.try_get(8)?,
    })
}

pub async fn evidence_after(pool: &PgPool, after: i64, limit: i64) -> sqlx::Result<Vec<Evidence>> {
    let rows = sqlx::query(&format!(
        "SELECT {EVIDENCE_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(evidence_row).collect()
}

pub async fn session_evidence(pool: &PgPool, sid: &str, up_to: i64) -> sqlx::Result<Vec<Evidence>> {
    let rows = sqlx::query(&format!(
        "SELECT {EVIDENCE_COLUMNS} FROM events WHERE sid = $1 AND product_id = 3 AND seq <= $2 \
         ORDER BY seq"
    ))
    .bind(sid)
    .bind(up_to)
    .fetch_all(pool)
    .await?;
    rows.iter().map(evidence_row).collect()
}

pub async fn cursor(pool: &PgPool) -> sqlx::Result<i64> {
    let v: Option<String> = sqlx::query_scalar("SELECT v FROM meta WHERE k = 'lifecycle_cursor'")
        .fetch_optional(pool)
        .await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub async fn record(pool: &PgPool, records: &[NewLifecycle], to: Option<i64>) -> sqlx::Result<u64> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(1852011364)")
        .execute(&mut *tx)
        .await?;
    let placement: i64 = sqlx::query_scalar("SELECT COALESCE(max(seq), 0) FROM events")
        .fetch_one(&mut *tx)
        .await?;
    let added = sqlx::query(
        "INSERT INTO lifecycle (placement, id, sid, kind, cname, recorded_at_ms, message, project) \
         SELECT $1, id, sid, kind, cname, recorded_at_ms, message, \
             COALESCE((SELECT s.project FROM sessions s WHERE s.sid = r.sid), 'default') \
         FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) \
              WITH ORDINALITY AS r (id, sid, kind, cname, recorded_at_ms, message, ord) \
         ORDER BY ord \
         ON CONFLICT (sid, kind) DO NOTHING",
    )
    .bind(placement)
    .bind(records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.sid.as_str()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>())
    .bind(
        records
            .iter()
            .map(|r| r.cname.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(records.iter().map(|r| r.recorded_at_ms).collect::<Vec<_>>())
    .bind(
        records
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if let Some(to) = to {
        sqlx::query(
            "INSERT INTO meta (k, v) VALUES ('lifecycle_cursor', $1::bigint::text) \
             ON CONFLICT (k) DO UPDATE SET v = GREATEST(meta.v::bigint, excluded.v::bigint)::text",
        )
        .bind(to)
        .execute(&mut *tx)
        .await?;
    }
    if added > 0 {
        // Wakes the live streams of every instance.
        sqlx::query(&format!("NOTIFY {CHANNEL}, '{placement}'"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(added)
}

fn lifecycle_row(r: &PgRow) -> sqlx::Result<LifecycleRecord> {
    Ok(LifecycleRecord {
        seq: r.try_get(0)?,
        placement: r.try_get(1)?,
        id: r.try_get(2)?,
        sid: r.try_get(3)?,
        kind: r.try_get(4)?,
        cname: r.try_get(5)?,
        recorded_at_ms: r.try_get(6)?,
        message: r.try_get(7)?,
        project: r.try_get(8)?,
    })
}

pub async fn list(pool: &PgPool, q: &LifecycleQuery) -> sqlx::Result<Vec<LifecycleRecord>> {
    let mut sql = QueryBuilder::<Postgres>::new(
        "SELECT seq, placement, id, sid, kind, cname, recorded_at_ms, message, project \
         FROM lifecycle WHERE seq > ",
    );
    sql.push_bind(q.after_seq)
        .push(" AND placement >= ")
        .push_bind(q.after_placement);
    if let Some(p) = q.up_to_placement {
        sql.push(" AND placement <= ").push_bind(p);
    }
    if let Some(k) = &q.kind {
        sql.push(" AND kind = ").push_bind(k.clone());
    }
    if let Some(s) = &q.sid {
        sql.push(" AND sid = ").push_bind(s.clone());
    }
    if let Some(n) = &q.cname {
        sql.push(" AND cname = ").push_bind(n.clone());
    }
    if let Some(p) = &q.project {
        sql.push(" AND project = ").push_bind(p.clone());
    }
    sql.push(" ORDER BY seq LIMIT ").push_bind(q.limit);
    let rows = sql.build().fetch_all(pool).await?;
    rows.iter().map(lifecycle_row).collect()
}

pub async fn latest(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(max(seq), 0) FROM lifecycle")
        .fetch_one(pool)
        .await
}

pub async fn quiet_sessions(
    pool: &PgPool,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> sqlx::Result<Vec<SessionRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM sessions WHERE last_activity_ms >= $1 AND last_activity_ms < $2 \
         ORDER BY last_activity_ms LIMIT $3",
        super::reads::SESSION_COLUMNS
    ))
    .bind(from_ms)
    .bind(to_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(super::reads::session_row).collect()
}
