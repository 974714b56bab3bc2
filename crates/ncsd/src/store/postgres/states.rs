//! The kept session states (`session_states`) and the state keeper's progress (`meta`).

use std::collections::HashMap;

use sqlx::PgPool;

use crate::store::{KeptState, StatesProgress};

/// Writes the states and the progress in one transaction.
pub async fn keep(
    pool: &PgPool,
    states: Vec<KeptState>,
    progress: Option<StatesProgress>,
) -> sqlx::Result<()> {
    // One row per sid (PostgreSQL refuses to update a row twice in one statement): the newest
    // answer of each.
    let mut newest: HashMap<String, KeptState> = HashMap::new();
    for s in states {
        match newest.get(&s.sid) {
            Some(kept) if kept.last_seq > s.last_seq => {}
            _ => {
                newest.insert(s.sid.clone(), s);
            }
        }
    }
    let (mut sids, mut seqs, mut formats, mut jsons) = (vec![], vec![], vec![], vec![]);
    for s in newest.into_values() {
        sids.push(s.sid);
        seqs.push(s.last_seq);
        formats.push(s.format);
        jsons.push(s.json);
    }
    let mut tx = pool.begin().await?;
    if !sids.is_empty() {
        sqlx::query(
            "INSERT INTO session_states (sid, last_seq, format, state) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bytea[]) \
             ON CONFLICT (sid) DO UPDATE SET last_seq = excluded.last_seq, \
               format = excluded.format, state = excluded.state \
             WHERE excluded.last_seq >= session_states.last_seq",
        )
        .bind(sids)
        .bind(seqs)
        .bind(formats)
        .bind(jsons)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(p) = progress {
        sqlx::query(
            "INSERT INTO meta (k, v) VALUES ('states_cursor', $1::bigint::text), \
               ('states_format', $2) \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        )
        .bind(p.cursor)
        .bind(p.format)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

pub async fn progress(pool: &PgPool) -> sqlx::Result<Option<StatesProgress>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT k, v FROM meta WHERE k IN ('states_cursor', 'states_format')")
            .fetch_all(pool)
            .await?;
    let get = |k: &str| {
        rows.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    Ok(match (get("states_cursor"), get("states_format")) {
        (Some(cursor), Some(format)) => cursor
            .parse()
            .ok()
            .map(|cursor| StatesProgress { cursor, format }),
        _ => None,
    })
}
