//! Group commit for SQLite. One OS thread owns the only write connection; requests queue on a
//! channel, and the thread takes everything waiting (up to `MAX_BATCH`) into one transaction, so
//! one fsync covers many deliveries. Each caller is answered only after its transaction
//! committed, which is what lets ingest reply 200 only for data that is on disk.
//!
//! This file is the loop and the transaction handling; the SQL of each job is in `writes`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::wal::RestartWanted;
use super::writes::{import, ingest_one, keep_states, probe, purge, quarantine_one};
use crate::store::pressure::Pressure;

use crate::store::{
    ImportBatch, ImportCounts, IngestOutcome, KeptState, NewDelivery, NewLifecycle, NewQuarantine,
    PurgeChunk, StatesProgress, StoreError, StoreResult,
};

const MAX_BATCH: usize = 512;

pub enum Job {
    Ingest(NewDelivery, oneshot::Sender<StoreResult<IngestOutcome>>),
    Quarantine(NewQuarantine, oneshot::Sender<StoreResult<i64>>),
    Import(ImportBatch, oneshot::Sender<StoreResult<ImportCounts>>),
    Purge(i64, oneshot::Sender<StoreResult<PurgeChunk>>),
    /// Finished sessions' answers (derived data; see `KeptState`).
    KeepStates(
        Vec<KeptState>,
        Option<StatesProgress>,
        oneshot::Sender<StoreResult<()>>,
    ),
    /// A one-row write that tells whether writes work (see `health`).
    Probe(oneshot::Sender<StoreResult<()>>),
    /// Quarantined bodies that now read, moved out of the quarantine.
    Unquarantine(Vec<i64>, oneshot::Sender<StoreResult<u64>>),
    /// Any other write, as a closure run inside the writer's transaction (forwarding's outbox);
    /// it may run twice (alone, after a batch failed), so it must be a `Fn`.
    Exec(ExecFn, oneshot::Sender<StoreResult<u64>>),
    /// Lifecycle events and the deriver's new cursor.
    Lifecycle(
        Vec<NewLifecycle>,
        Option<i64>,
        oneshot::Sender<StoreResult<u64>>,
    ),
}

pub type ExecFn = Box<dyn Fn(&Transaction) -> rusqlite::Result<u64> + Send>;

/// Whether the last write transaction failed (disk full, read-only file, ...): `/healthz`
/// reports it until a write succeeds again.
pub type Failing = Arc<AtomicBool>;

pub fn spawn(
    conn: Connection,
    notify: broadcast::Sender<i64>,
    failing: Failing,
    pressure: Pressure,
    restart: RestartWanted,
    nice: i32,
) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(8192);
    std::thread::Builder::new()
        .name("ncsd-sqlite-writer".into())
        .spawn(move || {
            crate::priority::set_current_thread_nice(nice, "SQLite writer");
            run(conn, rx, notify, failing, pressure, restart)
        })
        .expect("spawn the SQLite writer thread");
    tx
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    notify: broadcast::Sender<i64>,
    failing: Failing,
    pressure: Pressure,
    restart: RestartWanted,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        tracing::trace!(jobs = batch.len(), "write batch");
        let (jobs, started) = (batch.len(), std::time::Instant::now());
        pressure.record(
            batch
                .iter()
                .filter(|j| matches!(j, Job::Ingest(..)))
                .count(),
        );
        let _span = tracing::debug_span!("commit", jobs).entered();
        let (newest, ok) = commit_batch(&mut conn, &mut batch);
        metrics::histogram!("ncsd_store_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("ncsd_store_batch_events").record(jobs as f64);
        failing.store(!ok, Ordering::Release);
        if let Some(seq) = newest {
            let _ = notify.send(seq);
        }
        // After the batch is answered, so no caller waits for it.
        restart.catch_up(&conn);
    }
}

/// What a job produced inside a transaction; its caller hears of it only after COMMIT.
enum Done {
    Ingest(IngestOutcome),
    Quarantine(i64),
    Import(ImportCounts, Option<i64>),
    Purge(PurgeChunk),
    Probe,
    Kept,
    Unquarantined(u64),
    Exec(u64),
    /// How many were new, and the newest event cursor (to wake the live streams).
    Lifecycle(u64, i64),
}

impl Done {
    /// The newest event seq this job stored, for the stream notification.
    fn newest(&self) -> Option<i64> {
        match self {
            Done::Ingest(o) if !o.duplicate => Some(o.seq),
            Done::Import(_, max) => *max,
            Done::Lifecycle(added, newest) if *added > 0 => Some(*newest),
            _ => None,
        }
    }
}

/// Runs the batch; returns the newest stored seq and whether every write went through.
///
/// Fast path: every job in one transaction with no per-job savepoint (a savepoint per job costs
/// a statement pair and a copy of every page the job touches). If any job fails, that
/// transaction is rolled back and each job is run again alone in its own transaction, so a
/// failing job fails only itself and nothing half-written is ever committed. A failing COMMIT
/// fails the whole batch (503: NCS resends).
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Job>) -> (Option<i64>, bool) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a write transaction; answering 503");
            for job in batch.drain(..) {
                answer(job, Err(unavailable(&e)));
            }
            return (None, false);
        }
    };
    let done: rusqlite::Result<Vec<Done>> = batch.iter().map(|job| run_job(&tx, job)).collect();
    match done {
        Ok(done) => match tx.commit() {
            Ok(()) => {
                let newest = done.iter().filter_map(Done::newest).max();
                for (job, d) in batch.drain(..).zip(done) {
                    answer(job, Ok(d));
                }
                (newest, true)
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; answering 503 to the whole batch");
                for job in batch.drain(..) {
                    answer(job, Err(unavailable(&e)));
                }
                (None, false)
            }
        },
        Err(e) if batch.len() == 1 => {
            drop(tx); // rolls back
            one_failed(batch.pop().expect("one job"), &e)
        }
        Err(_) => {
            drop(tx); // rolls back
            let (mut newest, mut clean) = (None, true);
            for job in batch.drain(..) {
                let (n, ok) = alone(conn, job);
                newest = newest.max(n);
                clean &= ok;
            }
            (newest, clean)
        }
    }
}

/// One job in its own transaction (the slow path after a batch failed).
fn alone(conn: &mut Connection, job: Job) -> (Option<i64>, bool) {
    let result = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .and_then(|tx| {
            let done = run_job(&tx, &job)?;
            tx.commit()?;
            Ok(done)
        });
    match result {
        Ok(done) => {
            let newest = done.newest();
            answer(job, Ok(done));
            (newest, true)
        }
        Err(e) => one_failed(job, &e),
    }
}

/// Answers a failed job. An ingest or probe failure means writes are failing (`/healthz`);
/// a bad import, quarantine or purge does not.
fn one_failed(job: Job, e: &rusqlite::Error) -> (Option<i64>, bool) {
    let healthy = match &job {
        Job::Ingest(..) => {
            tracing::error!(error = %e, "ingest statement failed");
            false
        }
        Job::Probe(..) => false,
        _ => true,
    };
    answer(job, Err(unavailable(e)));
    (None, healthy)
}

fn run_job(tx: &Transaction, job: &Job) -> rusqlite::Result<Done> {
    Ok(match job {
        Job::Ingest(d, _) => Done::Ingest(ingest_one(tx, d)?),
        Job::Quarantine(q, _) => Done::Quarantine(quarantine_one(tx, q)?),
        Job::Import(b, _) => {
            let (counts, newest) = import(tx, b)?;
            Done::Import(counts, newest)
        }
        Job::Purge(before, _) => Done::Purge(purge(tx, *before)?),
        Job::Probe(_) => {
            probe(tx)?;
            Done::Probe
        }
        Job::KeepStates(states, progress, _) => {
            keep_states(tx, states, progress.as_ref())?;
            Done::Kept
        }
        Job::Unquarantine(ids, _) => {
            let mut n = 0;
            let mut delete = tx.prepare_cached("DELETE FROM quarantine WHERE id = ?1")?;
            for id in ids {
                n += delete.execute([id])? as u64;
            }
            Done::Unquarantined(n)
        }
        Job::Exec(f, _) => Done::Exec(f(tx)?),
        Job::Lifecycle(records, to, _) => {
            let added = super::lifecycle::record(tx, records, *to)?;
            let newest: i64 =
                tx.query_row("SELECT COALESCE(max(seq), 0) FROM events", [], |r| r.get(0))?;
            Done::Lifecycle(added, newest)
        }
    })
}

/// Sends a job's result to its caller (who may have gone away: that is fine).
fn answer(job: Job, result: StoreResult<Done>) {
    match (job, result) {
        (Job::Ingest(_, r), Ok(Done::Ingest(o))) => drop(r.send(Ok(o))),
        (Job::Quarantine(_, r), Ok(Done::Quarantine(id))) => drop(r.send(Ok(id))),
        (Job::Import(_, r), Ok(Done::Import(c, _))) => drop(r.send(Ok(c))),
        (Job::Purge(_, r), Ok(Done::Purge(p))) => drop(r.send(Ok(p))),
        (Job::Probe(r), Ok(Done::Probe)) => drop(r.send(Ok(()))),
        (Job::KeepStates(_, _, r), Ok(Done::Kept)) => drop(r.send(Ok(()))),
        (Job::Unquarantine(_, r), Ok(Done::Unquarantined(n))) => drop(r.send(Ok(n))),
        (Job::Lifecycle(_, _, r), Ok(Done::Lifecycle(n, _))) => drop(r.send(Ok(n))),
        (Job::Exec(_, r), Ok(Done::Exec(n))) => drop(r.send(Ok(n))),
        (job, result) => {
            let e = match result {
                Err(e) => e,
                Ok(_) => StoreError::Other("writer paired a job with another's result".into()),
            };
            match job {
                Job::Ingest(_, r) => drop(r.send(Err(e))),
                Job::Quarantine(_, r) => drop(r.send(Err(e))),
                Job::Import(_, r) => drop(r.send(Err(e))),
                Job::Purge(_, r) => drop(r.send(Err(e))),
                Job::Probe(r) => drop(r.send(Err(e))),
                Job::KeepStates(_, _, r) => drop(r.send(Err(e))),
                Job::Unquarantine(_, r) => drop(r.send(Err(e))),
                Job::Lifecycle(_, _, r) => drop(r.send(Err(e))),
                Job::Exec(_, r) => drop(r.send(Err(e))),
            }
        }
    }
}

fn unavailable(e: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
