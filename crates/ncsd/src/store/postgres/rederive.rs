//! Stored data derived by the session rules (each event's phase bits, each session's merged bits
//! and exits, the kept answers) is derived again when the rules change, at start-up, in one
//! transaction under the writers' lock: nothing made by older rules is served after an upgrade,
//! and instances starting together do it once (the others find the version already current).

use futures::TryStreamExt;
use sqlx::{Connection, PgPool, Row};

use crate::summary::{derive, RULES_VERSION};

const KEY: &str = "rules_version";

pub(super) async fn if_rules_changed(pool: &PgPool) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // The writers' lock (see writer.rs): no delivery is merged while the rules change.
    sqlx::query("SELECT pg_advisory_xact_lock(1852011364)")
        .execute(&mut *tx)
        .await?;
    let stored: Option<String> = sqlx::query_scalar("SELECT v FROM meta WHERE k = $1")
        .bind(KEY)
        .fetch_optional(&mut *tx)
        .await?;
    let stored: i64 = stored.and_then(|v| v.parse().ok()).unwrap_or(1);
    if stored == RULES_VERSION {
        return Ok(());
    }
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events)")
        .fetch_one(&mut *tx)
        .await?;
    if any {
        tracing::info!(
            from = stored,
            to = RULES_VERSION,
            "deriving every recording's phase again with the current rules"
        );
        let mut seqs = Vec::new();
        let mut bits = Vec::new();
        {
            let mut rows = sqlx::query(
                "SELECT seq, body FROM events WHERE sid IS NOT NULL AND product_id = 3",
            )
            .fetch(&mut *tx);
            while let Some(r) = rows.try_next().await? {
                let (flags, _) = derive(r.try_get::<&[u8], _>(1)?);
                seqs.push(r.try_get::<i64, _>(0)?);
                bits.push(flags);
            }
        }
        for (seqs, bits) in seqs.chunks(10_000).zip(bits.chunks(10_000)) {
            sqlx::query(
                "UPDATE events e SET session_flags = u.flags \
                 FROM UNNEST($1::bigint[], $2::bigint[]) AS u (seq, flags) WHERE e.seq = u.seq",
            )
            .bind(seqs)
            .bind(bits)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE sessions s SET flags = m.flags, exit_key = m.exit_key FROM ( \
                 SELECT sid, bit_or(session_flags) AS flags, \
                     max(CASE WHEN event_type = 11 AND session_flags & 3 <> 0 \
                         THEN LEAST(GREATEST(COALESCE(sequence, 0), 0), 2305843009213693951) * 2 \
                              + (session_flags & 1) \
                         ELSE -1 END) AS exit_key \
                 FROM events WHERE sid IS NOT NULL AND product_id = 3 GROUP BY sid \
             ) m WHERE s.sid = m.sid",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM session_states")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    )
    .bind(KEY)
    .bind(RULES_VERSION.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
