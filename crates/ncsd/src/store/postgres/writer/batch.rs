//! Consecutive ingests, written as one group. Round trips per batch do not grow with its size:
//! the group is written with array parameters (`UNNEST`), about six statements whatever the count
//! (begin + lock, look-up, copy keys, events + sessions, repeats, notify + commit).
//!
//! `insert_events` is also how an import stores events, so imported and live events claim
//! noticeIds and content keys, and merge into sessions, by the very same SQL.

use std::collections::{HashMap, HashSet};

use sqlx::postgres::PgConnection;
use sqlx::Row;

use crate::store::{EventRecord, IngestOutcome, NewDelivery};

/// A group of deliveries, in arrival order. The first delivery of a noticeId not stored yet
/// becomes an event; every other one is a repeat, counted on the stored row.
pub(super) async fn ingest(
    tx: &mut PgConnection,
    group: &[&NewDelivery],
) -> sqlx::Result<Vec<IngestOutcome>> {
    // No look-up of stored noticeIds first: the insert's `ON CONFLICT DO NOTHING` decides, and a
    // repeat's content-key claim finds its own key already there and writes nothing. (A
    // look-up round trip cost more than the rest of the batch together under load.)
    let mut claimed = HashSet::new();
    let mut fresh = Vec::new();
    for d in group {
        if claimed.insert(d.notice_id.as_str()) {
            fresh.push(new_record(d));
        }
    }
    let inserted = insert_events(tx, &fresh.iter().collect::<Vec<_>>()).await?;
    // The first delivery of each inserted noticeId is the new event; whatever else, including a
    // row the insert did not take (the unique key has the final word), is a repeat.
    let mut answered = HashSet::new();
    let first: Vec<bool> = group
        .iter()
        .map(|d| inserted.contains_key(&d.notice_id) && answered.insert(d.notice_id.as_str()))
        .collect();
    let repeats: Vec<&NewDelivery> = group
        .iter()
        .zip(&first)
        .filter(|(_, f)| !**f)
        .map(|(d, _)| *d)
        .collect();
    let counted = record_repeats(tx, &repeats).await?;

    let mut totals: HashMap<&str, i64> = HashMap::new();
    for d in &repeats {
        *totals.entry(d.notice_id.as_str()).or_default() += 1;
    }
    let mut numbered: HashMap<&str, i64> = HashMap::new();
    let mut outcomes = Vec::with_capacity(group.len());
    for (d, first) in group.iter().zip(first) {
        let id = d.notice_id.as_str();
        if first {
            let (seq, copy_of) = inserted[id].clone();
            outcomes.push(IngestOutcome {
                seq,
                duplicate: false,
                deliveries: 1,
                copy_of,
            });
        } else {
            // The stored count includes all of this group's repeats; number them in order.
            let (seq, deliveries, copy_of) =
                counted.get(id).cloned().ok_or(sqlx::Error::RowNotFound)?;
            let k = numbered.entry(id).or_default();
            *k += 1;
            let deliveries = deliveries - totals[id] + *k;
            outcomes.push(IngestOutcome {
                seq,
                duplicate: true,
                deliveries,
                copy_of,
            });
        }
    }
    Ok(outcomes)
}

pub(super) fn new_record(d: &NewDelivery) -> EventRecord {
    EventRecord {
        seq: 0,
        notice_id: d.notice_id.clone(),
        product_id: d.product_id,
        event_type: d.event_type,
        notify_ms: d.notify_ms,
        sid: d.sid.clone(),
        cname: d.cname.clone(),
        uid: d.uid.clone(),
        sequence: d.sequence,
        sendts: d.sendts,
        body: d.body.clone(),
        headers: d.headers.clone(),
        received_at_ms: d.received_at_ms,
        last_received_at_ms: d.received_at_ms,
        deliveries: 1,
        copy_of: None,
        content_key: d.content_key.clone(),
        session_flags: d.session_flags,
        project: d.project.clone(),
    }
}

pub(super) async fn stored_ids(
    tx: &mut PgConnection,
    ids: &[&str],
) -> sqlx::Result<HashSet<String>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT notice_id FROM events WHERE notice_id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Count repeats on their stored rows and log each one in `deliveries`, in one statement.
/// Returns, per noticeId, the row's seq, its delivery count after this group, and copy_of.
pub(super) async fn record_repeats(
    tx: &mut PgConnection,
    repeats: &[&NewDelivery],
) -> sqlx::Result<HashMap<String, (i64, i64, Option<String>)>> {
    if repeats.is_empty() {
        return Ok(HashMap::new());
    }
    // Per noticeId: how many repeats, and the receive time of the last (SQLite overwrites
    // `last_received_at_ms` at each repeat, so the last one in arrival order wins).
    let mut per_id: Vec<(&str, i64, i64)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for d in repeats {
        let at = *index.entry(&d.notice_id).or_insert_with(|| {
            per_id.push((&d.notice_id, 0, 0));
            per_id.len() - 1
        });
        per_id[at].1 += 1;
        per_id[at].2 = d.received_at_ms;
    }
    let rows = sqlx::query(
        "WITH bumped AS ( \
             UPDATE events e SET deliveries = e.deliveries + r.n, last_received_at_ms = r.last_at \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS r (notice_id, n, last_at) \
             WHERE e.notice_id = r.notice_id \
             RETURNING e.notice_id, e.seq, e.deliveries, e.copy_of \
         ), logged AS ( \
             INSERT INTO deliveries (notice_id, received_at_ms, notify_ms) \
             SELECT notice_id, received_at_ms, notify_ms \
             FROM UNNEST($4::text[], $5::bigint[], $6::bigint[]) WITH ORDINALITY \
                  AS d (notice_id, received_at_ms, notify_ms, ord) \
             ORDER BY ord \
             ON CONFLICT DO NOTHING \
         ) \
         SELECT notice_id, seq, deliveries, copy_of FROM bumped",
    )
    .bind(per_id.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind(per_id.iter().map(|p| p.1).collect::<Vec<_>>())
    .bind(per_id.iter().map(|p| p.2).collect::<Vec<_>>())
    .bind(
        repeats
            .iter()
            .map(|d| d.notice_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(repeats.iter().map(|d| d.received_at_ms).collect::<Vec<_>>())
    .bind(repeats.iter().map(|d| d.notify_ms).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))))
        .collect()
}

/// Insert events whose noticeIds were not stored (in order), decide which are redundant copies,
/// and merge them into their sessions. Returns seq and copy_of of each row actually inserted.
pub(super) async fn insert_events(
    tx: &mut PgConnection,
    rows: &[&EventRecord],
) -> sqlx::Result<HashMap<String, (i64, Option<String>)>> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let owners = claim_content_keys(tx, rows).await?;
    let copy_of: Vec<Option<&str>> = rows
        .iter()
        .map(|e| match (&e.copy_of, &e.content_key) {
            (Some(c), _) => Some(c.as_str()),
            (None, Some(key)) => owners
                .get(key.as_str())
                .map(String::as_str)
                .filter(|o| *o != e.notice_id),
            (None, None) => None,
        })
        .collect();
    // The sessions merge reads the rows the insert returned, so a row the unique key refused is
    // never counted. Within the group, the first non-null cname (by seq) is the candidate.
    let inserted = sqlx::query(
        "WITH input AS ( \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], \
                 $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bytea[], \
                 $11::text[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], \
                 $16::text[], $17::bigint[], $18::text[]) WITH ORDINALITY \
             AS t (notice_id, product_id, event_type, notify_ms, sid, cname, uid, sequence, \
                   sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, \
                   copy_of, content_key, session_flags, project, ord) \
         ), added AS ( \
             INSERT INTO events (notice_id, product_id, event_type, notify_ms, sid, cname, uid, \
                 sequence, sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, \
                 copy_of, content_key, session_flags, project) \
             SELECT notice_id, product_id, event_type, notify_ms, sid, cname, uid, sequence, \
                 sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, copy_of, \
                 content_key, session_flags, project \
             FROM input ORDER BY ord \
             ON CONFLICT (notice_id) DO NOTHING \
             RETURNING seq, notice_id, product_id, sid, cname, sendts, received_at_ms, copy_of, \
                 session_flags, event_type, sequence, project \
         ), merged AS ( \
             INSERT INTO sessions AS s (sid, cname, flags, event_count, first_event_ms, \
                 last_event_ms, last_activity_ms, last_seq, exit_key, project) \
             SELECT sid, (array_agg(cname ORDER BY seq) FILTER (WHERE cname IS NOT NULL))[1], \
                 bit_or(session_flags), count(*) FILTER (WHERE copy_of IS NULL), min(sendts), \
                 max(sendts), max(GREATEST(sendts, received_at_ms)), max(seq), \
                 max(CASE WHEN event_type = 11 AND session_flags & 3 <> 0 \
                     THEN LEAST(GREATEST(COALESCE(sequence, 0), 0), 2305843009213693951) * 2 \
                          + (session_flags & 1) \
                     ELSE -1 END), \
                 (array_agg(project ORDER BY seq))[1] \
             FROM added WHERE sid IS NOT NULL AND product_id = 3 GROUP BY sid \
             ON CONFLICT (sid) DO UPDATE SET \
                 cname = COALESCE(s.cname, excluded.cname), \
                 flags = s.flags | excluded.flags, \
                 event_count = s.event_count + excluded.event_count, \
                 first_event_ms = LEAST(s.first_event_ms, excluded.first_event_ms), \
                 last_event_ms = GREATEST(s.last_event_ms, excluded.last_event_ms), \
                 last_activity_ms = GREATEST(s.last_activity_ms, excluded.last_activity_ms), \
                 last_seq = GREATEST(s.last_seq, excluded.last_seq), \
                 exit_key = GREATEST(s.exit_key, excluded.exit_key) \
         ) \
         SELECT notice_id, seq, copy_of FROM added",
    )
    .bind(
        rows.iter()
            .map(|e| e.notice_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|e| e.product_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.event_type).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.notify_ms).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.sid.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.cname.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.uid.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.sequence).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.sendts).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.body.as_slice()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.headers.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.received_at_ms).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|e| e.last_received_at_ms)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|e| e.deliveries).collect::<Vec<_>>())
    .bind(copy_of)
    .bind(
        rows.iter()
            .map(|e| e.content_key.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|e| e.session_flags).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.project.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    inserted
        .iter()
        .map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?))))
        .collect()
}

/// Claim each content key for the first new event carrying it (events that already name their
/// original, as imports may, claim nothing). Returns the owner of every key involved: ours when
/// the primary key took our row, otherwise the noticeId that claimed it earlier.
pub(super) async fn claim_content_keys(
    tx: &mut PgConnection,
    rows: &[&EventRecord],
) -> sqlx::Result<HashMap<String, String>> {
    let mut seen = HashSet::new();
    let (keys, ids): (Vec<&str>, Vec<&str>) = rows
        .iter()
        .filter(|e| e.copy_of.is_none())
        .filter_map(|e| Some((e.content_key.as_deref()?, e.notice_id.as_str())))
        .filter(|(key, _)| seen.insert(*key))
        .unzip();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    // Both halves read the snapshot taken when the statement began, so the second one returns
    // only keys claimed before it: each key comes back exactly once.
    let rows = sqlx::query(
        "WITH claimed AS ( \
             INSERT INTO content_keys (content_key, notice_id) \
             SELECT * FROM UNNEST($1::text[], $2::text[]) \
             ON CONFLICT (content_key) DO NOTHING \
             RETURNING content_key, notice_id \
         ) \
         SELECT content_key, notice_id FROM claimed \
         UNION ALL \
         SELECT content_key, notice_id FROM content_keys WHERE content_key = ANY($1)",
    )
    .bind(keys)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
