//! Group commit for PostgreSQL. One task per instance owns a write connection; requests queue on
//! a channel, and the task takes everything waiting (up to `MAX_BATCH`) into one transaction.
//! Each caller is answered only after COMMIT, so ingest replies 200 only for durable data.
//!
//! Round trips per batch do not grow with its size: consecutive ingests are written together
//! with array parameters (`UNNEST`), about six statements whatever the count (begin + lock,
//! look-up, copy keys, events + sessions, repeats, notify + commit).
//!
//! Several instances may share the database. Unique keys decide idempotency (`events.notice_id`)
//! and which redundant copy came first (`content_keys`); every write transaction also starts
//! with `pg_advisory_xact_lock(WRITE_LOCK)`, which orders commits (see `BEGIN`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::{is_unavailable, store_error, Announcer, CHANNEL, CONNECT_TIMEOUT};
use crate::store::{
    EventRecord, ImportBatch, ImportCounts, IngestOutcome, NewDelivery, NewQuarantine, StoreError,
    StoreResult,
};

const MAX_BATCH: usize = 512;
/// Events (and delivery and quarantine rows) one purge job removes at most, so writers on every
/// instance, which queue behind the write lock, wait for one chunk rather than a whole purge.
const PURGE_CHUNK: i64 = 2000;

/// Starts every write transaction, in one round trip. Sequence numbers are handed out when a row
/// is inserted but become visible when its transaction commits; two instances committing out of
/// order would let a `GET /v1/stream` reader pass seq 11 before seq 10 appears and skip it for
/// ever. Holding this lock from before the first insert until COMMIT makes writers take turns,
/// so seqs become visible in increasing order. The key is "ncsd" in ASCII; advisory locks are
/// per database, so it only ever meets other ncsd writers.
const BEGIN: &str = "BEGIN; SELECT pg_advisory_xact_lock(1852011364)";

/// After this long unused, the connection is pinged before a batch, so a database restart
/// during a quiet period costs a reconnect rather than a failed batch.
const IDLE_CHECK: Duration = Duration::from_secs(1);

pub enum Job {
    Ingest(NewDelivery, oneshot::Sender<StoreResult<IngestOutcome>>),
    Quarantine(NewQuarantine, oneshot::Sender<StoreResult<i64>>),
    Import(ImportBatch, oneshot::Sender<StoreResult<ImportCounts>>),
    Purge(i64, oneshot::Sender<StoreResult<PurgeChunk>>),
}

#[derive(Debug, Clone, Copy)]
pub struct PurgeChunk {
    pub events: u64,
    /// Something was deleted, so there may be more.
    pub more: bool,
}

/// What one job produced inside the transaction; sent to its caller only after COMMIT.
enum Outcome {
    Ingest(IngestOutcome),
    Quarantine(i64),
    Import(ImportCounts),
    Purge(PurgeChunk),
}

impl Job {
    fn answer(self, result: Result<Outcome, StoreError>) {
        match (self, result) {
            (Job::Ingest(_, r), Ok(Outcome::Ingest(o))) => drop(r.send(Ok(o))),
            (Job::Quarantine(_, r), Ok(Outcome::Quarantine(o))) => drop(r.send(Ok(o))),
            (Job::Import(_, r), Ok(Outcome::Import(o))) => drop(r.send(Ok(o))),
            (Job::Purge(_, r), Ok(Outcome::Purge(o))) => drop(r.send(Ok(o))),
            (job, Err(e)) => job.fail(e),
            (job, Ok(_)) => job.fail(StoreError::Other("writer answered the wrong kind".into())),
        }
    }
    fn fail(self, e: StoreError) {
        match self {
            Job::Ingest(_, r) => drop(r.send(Err(e))),
            Job::Quarantine(_, r) => drop(r.send(Err(e))),
            Job::Import(_, r) => drop(r.send(Err(e))),
            Job::Purge(_, r) => drop(r.send(Err(e))),
        }
    }
}

pub fn spawn(options: PgConnectOptions, announcer: Announcer) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(8192);
    let writer = Writer {
        options,
        conn: None,
        last_used: Instant::now(),
        announcer,
    };
    tokio::spawn(writer.run(rx));
    tx
}

/// A dedicated connection rather than one from the pool: the writer never queues behind readers,
/// and a broken connection is simply dropped and reopened for the next batch.
struct Writer {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
    last_used: Instant,
    announcer: Announcer,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let jobs = std::mem::take(&mut batch);
            match self.commit(&jobs).await {
                Ok(outcomes) => answer_all(jobs, outcomes),
                // One job's data (say a NUL character, which TEXT refuses) aborts the whole
                // transaction; retried alone, it fails only itself, as it does on SQLite.
                Err(e) if jobs.len() > 1 && !is_unavailable(&e) => {
                    let n = jobs.len();
                    tracing::warn!(error = %e, jobs = n, "batch failed; retrying jobs one by one");
                    for job in jobs {
                        let result = self.commit(std::slice::from_ref(&job)).await;
                        match result {
                            Ok(mut outcome) => job.answer(Ok(outcome.remove(0))),
                            Err(e) => job.answer(Err(store_error(&e))),
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, jobs = jobs.len(), "write transaction failed");
                    for job in jobs {
                        job.fail(store_error(&e));
                    }
                }
            }
        }
    }

    /// One transaction for `jobs`; returns their outcomes in order once it committed.
    async fn commit(&mut self, jobs: &[Job]) -> sqlx::Result<Vec<Outcome>> {
        let conn = self.connection().await?;
        let result = write(conn, jobs).await;
        self.last_used = Instant::now();
        match result {
            Ok((outcomes, newest)) => {
                if let Some(seq) = newest {
                    self.announcer.announce(seq);
                }
                Ok(outcomes)
            }
            Err(e) => {
                if is_unavailable(&e) {
                    // Whatever state the connection is in, the next batch starts on a new one.
                    self.conn = None;
                }
                Err(e)
            }
        }
    }

    async fn connection(&mut self) -> sqlx::Result<&mut PgConnection> {
        if let Some(conn) = &mut self.conn {
            if self.last_used.elapsed() > IDLE_CHECK && conn.ping().await.is_err() {
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            let conn = tokio::time::timeout(CONNECT_TIMEOUT, self.options.connect())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }
}

fn answer_all(jobs: Vec<Job>, outcomes: Vec<Outcome>) {
    for (job, outcome) in jobs.into_iter().zip(outcomes) {
        job.answer(Ok(outcome));
    }
}

/// The transaction itself. Consecutive ingests are written as one group; the rarer jobs
/// (quarantine, import, purge) run in turn between groups, so the outcome is that of running
/// every job in arrival order, as the SQLite writer does.
async fn write(conn: &mut PgConnection, jobs: &[Job]) -> sqlx::Result<(Vec<Outcome>, Option<i64>)> {
    let mut tx = conn.begin_with(BEGIN).await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut newest: Option<i64> = None;
    let mut i = 0;
    while i < jobs.len() {
        match &jobs[i] {
            Job::Ingest(..) => {
                let group: Vec<&NewDelivery> = jobs[i..]
                    .iter()
                    .map_while(|j| match j {
                        Job::Ingest(d, _) => Some(d),
                        _ => None,
                    })
                    .collect();
                i += group.len();
                for out in ingest(&mut tx, &group).await? {
                    if !out.duplicate {
                        newest = newest.max(Some(out.seq));
                    }
                    outcomes.push(Outcome::Ingest(out));
                }
            }
            Job::Quarantine(q, _) => {
                i += 1;
                outcomes.push(Outcome::Quarantine(quarantine(&mut tx, q).await?));
            }
            Job::Import(b, _) => {
                i += 1;
                let (counts, max) = import(&mut tx, b).await?;
                newest = newest.max(max);
                outcomes.push(Outcome::Import(counts));
            }
            Job::Purge(before, _) => {
                i += 1;
                outcomes.push(Outcome::Purge(purge(&mut tx, *before).await?));
            }
        }
    }
    if let Some(seq) = newest {
        // Delivered to every listener at COMMIT, and not at all on rollback.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(seq.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((outcomes, newest))
}

/// A group of deliveries, in arrival order. The first delivery of a noticeId not stored yet
/// becomes an event; every other one is a repeat, counted on the stored row.
async fn ingest(tx: &mut PgConnection, group: &[&NewDelivery]) -> sqlx::Result<Vec<IngestOutcome>> {
    let ids: Vec<&str> = group.iter().map(|d| d.notice_id.as_str()).collect();
    let stored = stored_ids(tx, &ids).await?;
    let mut claimed = HashSet::new();
    let mut fresh = Vec::new();
    for d in group {
        if !stored.contains(&d.notice_id) && claimed.insert(d.notice_id.as_str()) {
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

fn new_record(d: &NewDelivery) -> EventRecord {
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
    }
}

async fn stored_ids(tx: &mut PgConnection, ids: &[&str]) -> sqlx::Result<HashSet<String>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT notice_id FROM events WHERE notice_id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Count repeats on their stored rows and log each one in `deliveries`, in one statement.
/// Returns, per noticeId, the row's seq, its delivery count after this group, and copy_of.
async fn record_repeats(
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
async fn insert_events(
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
                 $16::text[], $17::bigint[]) WITH ORDINALITY \
             AS t (notice_id, product_id, event_type, notify_ms, sid, cname, uid, sequence, \
                   sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, \
                   copy_of, content_key, session_flags, ord) \
         ), added AS ( \
             INSERT INTO events (notice_id, product_id, event_type, notify_ms, sid, cname, uid, \
                 sequence, sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, \
                 copy_of, content_key, session_flags) \
             SELECT notice_id, product_id, event_type, notify_ms, sid, cname, uid, sequence, \
                 sendts, body, headers, received_at_ms, last_received_at_ms, deliveries, copy_of, \
                 content_key, session_flags \
             FROM input ORDER BY ord \
             ON CONFLICT (notice_id) DO NOTHING \
             RETURNING seq, notice_id, product_id, sid, cname, sendts, received_at_ms, copy_of, \
                 session_flags \
         ), merged AS ( \
             INSERT INTO sessions AS s (sid, cname, flags, event_count, first_event_ms, \
                 last_event_ms, last_activity_ms, last_seq) \
             SELECT sid, (array_agg(cname ORDER BY seq) FILTER (WHERE cname IS NOT NULL))[1], \
                 bit_or(session_flags), count(*) FILTER (WHERE copy_of IS NULL), min(sendts), \
                 max(sendts), max(GREATEST(sendts, received_at_ms)), max(seq) \
             FROM added WHERE sid IS NOT NULL AND product_id = 3 GROUP BY sid \
             ON CONFLICT (sid) DO UPDATE SET \
                 cname = COALESCE(s.cname, excluded.cname), \
                 flags = s.flags | excluded.flags, \
                 event_count = s.event_count + excluded.event_count, \
                 first_event_ms = LEAST(s.first_event_ms, excluded.first_event_ms), \
                 last_event_ms = GREATEST(s.last_event_ms, excluded.last_event_ms), \
                 last_activity_ms = GREATEST(s.last_activity_ms, excluded.last_activity_ms), \
                 last_seq = GREATEST(s.last_seq, excluded.last_seq) \
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
async fn claim_content_keys(
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

async fn quarantine(tx: &mut PgConnection, q: &NewQuarantine) -> sqlx::Result<i64> {
    let digest = crate::store::quarantine_digest(q.received_at_ms, &q.body);
    // The same body received at the same moment is one row (`ncsd copy` may bring it twice).
    sqlx::query_scalar(
        "WITH added AS ( \
             INSERT INTO quarantine (received_at_ms, reason, body, headers, digest) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING RETURNING id \
         ) \
         SELECT id FROM added UNION ALL SELECT id FROM quarantine WHERE digest = $5",
    )
    .bind(q.received_at_ms)
    .bind(&q.reason)
    .bind(&q.body)
    .bind(&q.headers)
    .bind(digest)
    .fetch_one(&mut *tx)
    .await
}

/// Records exported from another store; each kind is written once however often it arrives.
async fn import(
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
        counts.quarantine = sqlx::query(
            "INSERT INTO quarantine (received_at_ms, reason, body, headers, digest) \
             SELECT received_at_ms, reason, body, headers, digest \
             FROM UNNEST($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::text[]) \
                  WITH ORDINALITY AS q (received_at_ms, reason, body, headers, digest, ord) \
             ORDER BY ord \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(
            b.quarantine
                .iter()
                .map(|q| q.received_at_ms)
                .collect::<Vec<_>>(),
        )
        .bind(
            b.quarantine
                .iter()
                .map(|q| q.reason.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            b.quarantine
                .iter()
                .map(|q| q.body.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(
            b.quarantine
                .iter()
                .map(|q| q.headers.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            b.quarantine
                .iter()
                .map(|q| crate::store::quarantine_digest(q.received_at_ms, &q.body))
                .collect::<Vec<_>>(),
        )
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
async fn purge(tx: &mut PgConnection, before_ms: i64) -> sqlx::Result<PurgeChunk> {
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
