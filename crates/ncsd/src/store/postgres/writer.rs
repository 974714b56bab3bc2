//! Group commit for PostgreSQL. One task per instance owns a write connection; requests queue on
//! a channel, and the task takes everything waiting (up to `MAX_BATCH`) into one transaction.
//! Each caller is answered only after COMMIT, so ingest replies 200 only for durable data.
//!
//! This module is the loop and the dispatch; the SQL lives in `batch` (consecutive ingests,
//! written together in a fixed number of round trips) and `maintenance` (the jobs that run one
//! at a time between ingest groups: quarantine, import, purge).
//!
//! Several instances may share the database. Unique keys decide idempotency (`events.notice_id`)
//! and which redundant copy came first (`content_keys`); every write transaction also starts
//! with `pg_advisory_xact_lock(WRITE_LOCK)`, which orders commits (see `BEGIN`).

mod batch;
mod maintenance;

use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{mpsc, oneshot};

use super::{is_unavailable, store_error, Announcer, CHANNEL, CONNECT_TIMEOUT};
use crate::store::pressure::Pressure;
use crate::store::{
    ImportBatch, ImportCounts, IngestOutcome, NewDelivery, NewQuarantine, PurgeChunk, StoreError,
    StoreResult,
};

const MAX_BATCH: usize = 512;

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

pub fn spawn(
    options: PgConnectOptions,
    announcer: Announcer,
    pressure: Pressure,
) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(8192);
    let writer = Writer {
        options,
        conn: None,
        last_used: Instant::now(),
        announcer,
        pressure,
    };
    // Its own thread and runtime, like the SQLite writer: on a runtime busy with requests, the
    // writer's every round trip would also wait its turn to be polled, and every delivery waits
    // for the writer.
    let spawned = std::thread::Builder::new()
        .name("ncsd-pg-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(writer.run(rx)),
                Err(e) => tracing::error!(error = %e, "cannot start the PostgreSQL writer"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the PostgreSQL writer thread");
    }
    tx
}

/// A dedicated connection rather than one from the pool: the writer never queues behind readers,
/// and a broken connection is simply dropped and reopened for the next batch.
struct Writer {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
    last_used: Instant,
    announcer: Announcer,
    /// Deliveries per commit, for `Store::ingest_pressure`.
    pressure: Pressure,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let jobs = std::mem::take(&mut batch);
            self.pressure
                .record(jobs.iter().filter(|j| matches!(j, Job::Ingest(..))).count());
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
    let started = std::time::Instant::now();
    let result = tracing::Instrument::instrument(
        write_all(conn, jobs),
        tracing::debug_span!("commit", jobs = jobs.len()),
    )
    .await;
    metrics::histogram!("ncsd_store_commit_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("ncsd_store_batch_events").record(jobs.len() as f64);
    result
}

async fn write_all(
    conn: &mut PgConnection,
    jobs: &[Job],
) -> sqlx::Result<(Vec<Outcome>, Option<i64>)> {
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
                for out in batch::ingest(&mut tx, &group).await? {
                    if !out.duplicate {
                        newest = newest.max(Some(out.seq));
                    }
                    outcomes.push(Outcome::Ingest(out));
                }
            }
            Job::Quarantine(q, _) => {
                i += 1;
                outcomes.push(Outcome::Quarantine(
                    maintenance::quarantine(&mut tx, q).await?,
                ));
            }
            Job::Import(b, _) => {
                i += 1;
                let (counts, max) = maintenance::import(&mut tx, b).await?;
                newest = newest.max(max);
                outcomes.push(Outcome::Import(counts));
            }
            Job::Purge(before, _) => {
                i += 1;
                outcomes.push(Outcome::Purge(maintenance::purge(&mut tx, *before).await?));
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
