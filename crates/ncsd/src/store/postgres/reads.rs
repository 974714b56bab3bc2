//! Read queries for the PostgreSQL adapter, on the shared pool. Each mirrors its SQLite twin
//! (`sqlite/reads.rs`), including the two places where the dialects differ by default: NULLs
//! sort first in ascending order, and a negative LIMIT means "no limit".

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

use crate::store::{
    DeliveryRecord, EventQuery, EventRecord, KeptState, QuarantineRecord, SessionQuery, SessionRow,
};
use crate::summary::PHASE_SQL;

const EVENT_COLUMNS: &str = "seq, notice_id, product_id, event_type, notify_ms, sid, \
    cname, uid, sequence, sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, \
    copy_of, content_key, session_flags, project";

fn event_row(r: &PgRow) -> sqlx::Result<EventRecord> {
    Ok(EventRecord {
        seq: r.try_get(0)?,
        notice_id: r.try_get(1)?,
        product_id: r.try_get(2)?,
        event_type: r.try_get(3)?,
        notify_ms: r.try_get(4)?,
        sid: r.try_get(5)?,
        cname: r.try_get(6)?,
        uid: r.try_get(7)?,
        sequence: r.try_get(8)?,
        sendts: r.try_get(9)?,
        body: r.try_get(10)?,
        headers: r.try_get(11)?,
        received_at_ms: r.try_get(12)?,
        last_received_at_ms: r.try_get(13)?,
        deliveries: r.try_get(14)?,
        copy_of: r.try_get(15)?,
        content_key: r.try_get(16)?,
        session_flags: r.try_get(17)?,
        project: r.try_get(18)?,
    })
}

/// SQLite reads `LIMIT -1` as "all rows"; PostgreSQL rejects it but reads `LIMIT NULL` so.
fn limit(n: i64) -> Option<i64> {
    (n >= 0).then_some(n)
}

pub async fn event(pool: &PgPool, notice_id: &str) -> sqlx::Result<Option<EventRecord>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE notice_id = $1");
    let row = sqlx::query(&sql)
        .bind(notice_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(event_row).transpose()
}

pub async fn events(pool: &PgPool, q: &EventQuery) -> sqlx::Result<Vec<EventRecord>> {
    let mut sql =
        QueryBuilder::<Postgres>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > "));
    sql.push_bind(q.after);
    if let Some(t) = q.event_type {
        sql.push(" AND event_type = ").push_bind(t);
    }
    if let Some(p) = q.product_id {
        sql.push(" AND product_id = ").push_bind(p);
    }
    if let Some(s) = &q.sid {
        sql.push(" AND sid = ").push_bind(s);
    }
    if let Some(n) = &q.cname {
        sql.push(" AND cname = ").push_bind(n);
    }
    if let Some(t) = q.since {
        sql.push(" AND received_at_ms >= ").push_bind(t);
    }
    if let Some(b) = q.before {
        sql.push(" AND seq < ").push_bind(b);
    }
    if let Some(p) = &q.project {
        sql.push(" AND project = ").push_bind(p);
    }
    sql.push(if q.before.is_some() {
        " ORDER BY seq DESC LIMIT "
    } else {
        " ORDER BY seq LIMIT "
    })
    .push_bind(limit(q.limit));
    let rows = sql.build().fetch_all(pool).await?;
    rows.iter().map(event_row).collect()
}

pub async fn session_events(
    pool: &PgPool,
    sid: &str,
    after: i64,
) -> sqlx::Result<Vec<EventRecord>> {
    // NULLS FIRST: SQLite's order, so events without a sequence number lead on both backends.
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE sid = $1 AND product_id = 3 AND seq > $2 \
         ORDER BY sequence NULLS FIRST, seq"
    );
    let rows = sqlx::query(&sql)
        .bind(sid)
        .bind(after)
        .fetch_all(pool)
        .await?;
    rows.iter().map(event_row).collect()
}

pub(super) const SESSION_COLUMNS: &str =
    "sid, cname, flags, event_count, first_event_ms, last_event_ms, last_activity_ms, last_seq, \
     exit_key, project";

pub(super) fn session_row(r: &sqlx::postgres::PgRow) -> sqlx::Result<SessionRow> {
    Ok(SessionRow {
        sid: r.try_get(0)?,
        cname: r.try_get(1)?,
        flags: r.try_get(2)?,
        event_count: r.try_get(3)?,
        first_event_ms: r.try_get(4)?,
        last_event_ms: r.try_get(5)?,
        last_activity_ms: r.try_get(6)?,
        last_seq: r.try_get(7)?,
        exit_key: r.try_get(8)?,
        project: r.try_get(9)?,
    })
}

pub async fn session(pool: &PgPool, sid: &str) -> sqlx::Result<Option<SessionRow>> {
    let row = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE sid = $1"
    ))
    .bind(sid)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(session_row).transpose()
}

pub async fn session_with_kept(
    pool: &PgPool,
    sid: &str,
) -> sqlx::Result<Option<(SessionRow, Option<KeptState>)>> {
    let row = sqlx::query(
        "SELECT s.sid, s.cname, s.flags, s.event_count, s.first_event_ms, s.last_event_ms, \
         s.last_activity_ms, s.last_seq, s.exit_key, s.project, k.format, k.state \
         FROM sessions s LEFT JOIN session_states k ON k.sid = s.sid AND k.last_seq = s.last_seq \
         WHERE s.sid = $1",
    )
    .bind(sid)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let session = session_row(&r)?;
    let kept = KeptState::joined(&session, r.try_get(10)?, r.try_get(11)?);
    Ok(Some((session, kept)))
}

pub async fn kept_state(pool: &PgPool, sid: &str) -> sqlx::Result<Option<KeptState>> {
    let row = sqlx::query("SELECT last_seq, format, state FROM session_states WHERE sid = $1")
        .bind(sid)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(KeptState {
            sid: sid.to_string(),
            last_seq: r.try_get(0)?,
            format: r.try_get(1)?,
            json: r.try_get(2)?,
        })
    })
    .transpose()
}

pub async fn sessions(pool: &PgPool, q: &SessionQuery) -> sqlx::Result<Vec<SessionRow>> {
    let mut sql =
        QueryBuilder::<Postgres>::new(format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE TRUE"));
    if let Some(n) = &q.cname {
        sql.push(" AND cname = ").push_bind(n);
    }
    if let Some(p) = &q.phase {
        sql.push(format!(" AND ({PHASE_SQL}) = ")).push_bind(p);
    }
    if let Some(t) = q.since {
        sql.push(" AND last_activity_ms >= ").push_bind(t);
    }
    if let Some(t) = q.until {
        sql.push(" AND last_activity_ms < ").push_bind(t);
    }
    if let Some(p) = &q.project {
        sql.push(" AND project = ").push_bind(p);
    }
    if let Some(bits) = q.flags_any {
        sql.push(" AND flags & ").push_bind(bits).push(" <> 0");
    }
    if let Some(t) = q.unfinished_before {
        sql.push(format!(
            " AND ({PHASE_SQL}) NOT IN ('completed', 'failed') AND last_activity_ms < "
        ))
        .push_bind(t);
    }
    if let Some((ms, sid)) = &q.cursor {
        sql.push(" AND (last_activity_ms, sid) < (")
            .push_bind(*ms)
            .push(", ")
            .push_bind(sid)
            .push(")");
    }
    sql.push(" ORDER BY last_activity_ms DESC, sid DESC LIMIT ")
        .push_bind(limit(q.limit));
    let rows = sql.build().fetch_all(pool).await?;
    rows.iter().map(session_row).collect()
}

pub async fn quarantined(pool: &PgPool, after: i64, n: i64) -> sqlx::Result<Vec<QuarantineRecord>> {
    let rows = sqlx::query(
        "SELECT id, received_at_ms, reason, body, headers, deliveries, last_received_at_ms \
         FROM quarantine WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit(n))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QuarantineRecord {
                id: r.try_get(0)?,
                received_at_ms: r.try_get(1)?,
                reason: r.try_get(2)?,
                body: r.try_get(3)?,
                headers: r.try_get(4)?,
                deliveries: r.try_get(5)?,
                last_received_at_ms: r.try_get(6)?,
            })
        })
        .collect()
}

pub async fn repeat_deliveries(
    pool: &PgPool,
    after: i64,
    n: i64,
) -> sqlx::Result<Vec<DeliveryRecord>> {
    let rows = sqlx::query(
        "SELECT id, notice_id, received_at_ms, notify_ms FROM deliveries WHERE id > $1 \
         ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit(n))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeliveryRecord {
                id: r.try_get(0)?,
                notice_id: r.try_get(1)?,
                received_at_ms: r.try_get(2)?,
                notify_ms: r.try_get(3)?,
            })
        })
        .collect()
}

pub async fn latest_seq(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM events")
        .fetch_one(pool)
        .await
}
