//! Forwarding in PostgreSQL: destinations and their outboxes, shared by every instance. A claim
//! skips rows another instance has locked and leases what it takes, so each message is sent by
//! one instance at a time; a lease that runs out (an instance died) makes it claimable again.

use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Connection, Row};

use crate::store::{Attempt, DestinationRow, OutMessage, OutRecord, Requeue, Settle};

const DESTINATION_COLUMNS: &str =
    "name, state, event_cursor, lifecycle_cursor, last_success_ms, last_error";
const OUT_COLUMNS: &str = "seq, id, kind, sid, body, state, attempts, next_attempt_ms, \
    created_ms, delivered_ms, last_error";

fn destination_row(r: &PgRow) -> sqlx::Result<DestinationRow> {
    Ok(DestinationRow {
        name: r.try_get(0)?,
        state: r.try_get(1)?,
        event_cursor: r.try_get(2)?,
        lifecycle_cursor: r.try_get(3)?,
        last_success_ms: r.try_get(4)?,
        last_error: r.try_get(5)?,
    })
}

fn out_row(r: &PgRow) -> sqlx::Result<OutRecord> {
    Ok(OutRecord {
        seq: r.try_get(0)?,
        id: r.try_get(1)?,
        kind: r.try_get(2)?,
        sid: r.try_get(3)?,
        body: r.try_get(4)?,
        state: r.try_get(5)?,
        attempts: r.try_get(6)?,
        next_attempt_ms: r.try_get(7)?,
        created_ms: r.try_get(8)?,
        delivered_ms: r.try_get(9)?,
        last_error: r.try_get(10)?,
        attempt_log: Vec::new(),
    })
}

pub async fn destination(pool: &PgPool, name: &str) -> sqlx::Result<Option<DestinationRow>> {
    let row = sqlx::query(&format!(
        "SELECT {DESTINATION_COLUMNS} FROM destinations WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(destination_row).transpose()
}

pub async fn open(pool: &PgPool, name: &str, events: i64, lifecycle: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO destinations (name, event_cursor, lifecycle_cursor) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(events)
    .bind(lifecycle)
    .execute(pool)
    .await
    .map(drop)
}

pub async fn enqueue(
    pool: &PgPool,
    name: &str,
    messages: &[OutMessage],
    cursors: Option<(i64, i64)>,
    again: bool,
    now: i64,
) -> sqlx::Result<u64> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let on_conflict = if again {
        "DO UPDATE SET state = 'pending', attempts = 0, next_attempt_ms = excluded.next_attempt_ms, \
         lease_owner = NULL, lease_until_ms = NULL"
    } else {
        "DO NOTHING"
    };
    let n = sqlx::query(&format!(
        "INSERT INTO outbox (destination, id, kind, sid, body, next_attempt_ms, created_ms) \
         SELECT $1, id, kind, sid, body, $2, created_ms \
         FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) \
              WITH ORDINALITY AS m (id, kind, sid, body, created_ms, ord) \
         ORDER BY ord ON CONFLICT (destination, id) {on_conflict}"
    ))
    .bind(name)
    .bind(now)
    .bind(messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>())
    .bind(messages.iter().map(|m| m.kind.as_str()).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| m.sid.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(messages.iter().map(|m| m.body.as_str()).collect::<Vec<_>>())
    .bind(messages.iter().map(|m| m.created_ms).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if let Some((events, lifecycle)) = cursors {
        sqlx::query(
            "UPDATE destinations SET event_cursor = GREATEST(event_cursor, $2), \
             lifecycle_cursor = GREATEST(lifecycle_cursor, $3) WHERE name = $1",
        )
        .bind(name)
        .bind(events)
        .bind(lifecycle)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

pub async fn claim(
    pool: &PgPool,
    name: &str,
    owner: &str,
    now: i64,
    until: i64,
    limit: i64,
    ordered: bool,
) -> sqlx::Result<Vec<OutRecord>> {
    let order_rule = if ordered {
        " AND (o.sid IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.destination = o.destination \
           AND e.sid = o.sid AND e.state = 'pending' AND e.seq < o.seq))"
    } else {
        ""
    };
    let rows = sqlx::query(&format!(
        "UPDATE outbox SET lease_owner = $2, lease_until_ms = $4 WHERE seq IN ( \
           SELECT o.seq FROM outbox o WHERE o.destination = $1 AND o.state = 'pending' \
           AND o.next_attempt_ms <= $3 AND (o.lease_until_ms IS NULL OR o.lease_until_ms < $3)\
           {order_rule} ORDER BY o.seq LIMIT $5 FOR UPDATE SKIP LOCKED) \
         RETURNING {OUT_COLUMNS}"
    ))
    .bind(name)
    .bind(owner)
    .bind(now)
    .bind(until)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<OutRecord> = rows.iter().map(out_row).collect::<sqlx::Result<_>>()?;
    out.sort_by_key(|r| r.seq);
    Ok(out)
}

pub async fn settle(
    pool: &PgPool,
    name: &str,
    owner: &str,
    settled: &[(i64, Attempt, Settle)],
) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let (mut success, mut error, mut disable) = (None, None, None);
    for (seq, a, outcome) in settled {
        let (state, next, delivered) = match outcome {
            Settle::Delivered => ("delivered", None, Some(a.at_ms)),
            Settle::Retry { next_attempt_ms } => ("pending", Some(*next_attempt_ms), None),
            Settle::Failed => ("failed", None, None),
            Settle::Disable => ("pending", None, None),
        };
        // Only while the lease is ours: a message whose lease ran out may be another's now.
        let updated = sqlx::query(
            "UPDATE outbox SET state = $3, attempts = attempts + 1, \
               next_attempt_ms = COALESCE($4, next_attempt_ms), delivered_ms = $5, \
               last_error = $6, lease_owner = NULL, lease_until_ms = NULL \
             WHERE seq = $1 AND destination = $2 AND lease_owner = $7",
        )
        .bind(seq)
        .bind(name)
        .bind(state)
        .bind(next)
        .bind(delivered)
        .bind(&a.error)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            continue;
        }
        sqlx::query(
            "INSERT INTO outbox_attempts (outbox_seq, at_ms, status, error, latency_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(a.at_ms)
        .bind(a.status)
        .bind(&a.error)
        .bind(a.latency_ms)
        .execute(&mut *tx)
        .await?;
        match outcome {
            Settle::Delivered => success = success.max(Some(a.at_ms)),
            Settle::Disable => disable = a.error.clone(),
            _ => error = a.error.clone(),
        }
    }
    if let Some(at) = success {
        sqlx::query(
            "UPDATE destinations SET last_success_ms = GREATEST(COALESCE(last_success_ms, 0), $2) \
             WHERE name = $1",
        )
        .bind(name)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    if error.is_some() {
        sqlx::query("UPDATE destinations SET last_error = $2 WHERE name = $1")
            .bind(name)
            .bind(&error)
            .execute(&mut *tx)
            .await?;
    }
    if disable.is_some() {
        sqlx::query("UPDATE destinations SET state = 'disabled', last_error = $2 WHERE name = $1")
            .bind(name)
            .bind(&disable)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

pub async fn messages(
    pool: &PgPool,
    name: &str,
    state: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<OutRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {OUT_COLUMNS} FROM outbox WHERE destination = $1 \
         AND ($2::text IS NULL OR state = $2) AND seq < $3 ORDER BY seq DESC LIMIT $4"
    ))
    .bind(name)
    .bind(state)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out: Vec<OutRecord> = rows.iter().map(out_row).collect::<sqlx::Result<_>>()?;
    let seqs: Vec<i64> = out.iter().map(|r| r.seq).collect();
    let attempts = sqlx::query(
        "SELECT outbox_seq, at_ms, status, error, latency_ms FROM outbox_attempts \
         WHERE outbox_seq = ANY($1) ORDER BY id",
    )
    .bind(&seqs)
    .fetch_all(pool)
    .await?;
    for a in attempts {
        let seq: i64 = a.try_get(0)?;
        if let Some(r) = out.iter_mut().find(|r| r.seq == seq) {
            r.attempt_log.push(Attempt {
                at_ms: a.try_get(1)?,
                status: a.try_get(2)?,
                error: a.try_get(3)?,
                latency_ms: a.try_get(4)?,
            });
        }
    }
    Ok(out)
}

pub async fn requeue(pool: &PgPool, name: &str, which: &Requeue, now: i64) -> sqlx::Result<u64> {
    let q = match which {
        Requeue::One(id) => sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_ms = $3, lease_owner = NULL, \
             lease_until_ms = NULL WHERE destination = $1 AND id = $2",
        )
        .bind(name)
        .bind(id.clone())
        .bind(now),
        Requeue::Failed => sqlx::query(
            "UPDATE outbox SET state = 'pending', next_attempt_ms = $3, lease_owner = NULL, \
             lease_until_ms = NULL WHERE destination = $1 AND state = 'failed' AND $2 = $2",
        )
        .bind(name)
        .bind(String::new())
        .bind(now),
    };
    q.execute(pool).await.map(|r| r.rows_affected())
}

pub async fn set_state(
    pool: &PgPool,
    name: &str,
    state: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE destinations SET state = $2, last_error = $3 WHERE name = $1")
        .bind(name)
        .bind(state)
        .bind(error)
        .execute(pool)
        .await
        .map(drop)
}

pub async fn counts(pool: &PgPool, name: &str) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query(
        "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed') \
         FROM outbox WHERE destination = $1 AND state <> 'delivered'",
    )
    .bind(name)
    .fetch_one(pool)
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}
