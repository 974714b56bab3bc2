//! SQLite adapter: the embedded default. WAL with `synchronous=FULL`, so a committed transaction
//! survives power loss; one writer thread doing group commit (`writer`), and a small pool of
//! read-only connections for queries (`reads`).

mod connections;
mod forward;
mod lifecycle;
mod migrate;
mod reads;
mod rederive;
mod wal;
mod writeback;
mod writer;
mod writes;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::*;
pub use connections::max_running_queries;
use connections::{create_private, lock, open_conn, InterruptOnDrop, ReadPool};
use writer::Job;

pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    failing: writer::Failing,
    pressure: super::pressure::Pressure,
    readers: Arc<ReadPool>,
    /// One permit per running query (`max_running_queries`); waiting queries queue here, as
    /// tasks, not as blocking threads.
    running: Arc<tokio::sync::Semaphore>,
    notify: broadcast::Sender<i64>,
}

/// How often, and how far apart, `close` tries to empty the WAL: 5 s in all.
const CLOSE_TRIES: u32 = 250;
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

impl SqliteStore {
    pub fn open(path: &str) -> anyhow::Result<Self> {
        Self::open_with(path, &Options::default())
    }

    pub fn open_with(path: &str, opts: &Options) -> anyhow::Result<Self> {
        if path.is_empty() {
            anyhow::bail!("sqlite:// URL has no file path, e.g. sqlite://ncsd.db");
        }
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        create_private(path)?;
        let mut conn =
            open_conn(path).map_err(|e| anyhow::anyhow!("cannot open SQLite at {path}: {e}"))?;
        migrate::migrate(&mut conn).map_err(|e| anyhow::anyhow!("cannot migrate {path}: {e}"))?;
        rederive::if_rules_changed(&mut conn).map_err(|e| {
            anyhow::anyhow!("cannot apply the current session rules to {path}: {e}")
        })?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let (notify, _) = broadcast::channel(1024);
        let failing = writer::Failing::default();
        let pressure = super::pressure::Pressure::default();
        let readers = Arc::new(ReadPool {
            path: path.to_string(),
            idle: Mutex::new(Vec::new()),
        });
        let writeback = writeback::Writeback::spawn(path, Arc::downgrade(&readers));
        let restart = wal::RestartWanted::new(writeback);
        let writer = writer::spawn(
            conn,
            notify.clone(),
            failing.clone(),
            pressure.clone(),
            restart.clone(),
            opts.writer_nice,
        );
        // The checkpointer has its own connection, so the writer's commits never pay for
        // copying the WAL (SQLite's automatic checkpoint runs inside the committing call).
        let checkpoint_conn = open_conn(path)?;
        wal::spawn_checkpointer(checkpoint_conn, Arc::downgrade(&readers), restart)?;
        Ok(Self {
            writer,
            failing,
            pressure,
            readers,
            running: Arc::new(tokio::sync::Semaphore::new(max_running_queries())),
            notify,
        })
    }

    async fn write<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Job,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(job(tx))
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the SQLite writer stopped".into()))?
    }

    /// A write run by the writer thread, inside its transaction.
    async fn exec(
        &self,
        f: impl Fn(&rusqlite::Transaction) -> rusqlite::Result<u64> + Send + 'static,
    ) -> StoreResult<u64> {
        self.write(|tx| Job::Exec(Box::new(f), tx)).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let pool = self.readers.clone();
        // The semaphore is never closed, so acquiring only waits.
        let permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite read queue is closed".into()))?;
        // A caller that stops waiting (a request past its deadline) interrupts the query, so the
        // connection and the permit are free at once instead of after a long scan.
        let running = InterruptOnDrop::default();
        let slot = running.0.clone();
        let out = tokio::task::spawn_blocking(move || {
            let out = pool.with(|conn| {
                *lock(&slot) = Some(conn.get_interrupt_handle());
                let out = f(conn);
                *lock(&slot) = None;
                out
            });
            drop(permit);
            out
        })
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?;
        running.disarm();
        out
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, d: NewDelivery) -> StoreResult<IngestOutcome> {
        self.write(|tx| Job::Ingest(d, tx)).await
    }
    async fn quarantine(&self, q: NewQuarantine) -> StoreResult<i64> {
        self.write(|tx| Job::Quarantine(q, tx)).await
    }
    async fn event(&self, notice_id: &str) -> StoreResult<Option<EventRecord>> {
        let id = notice_id.to_string();
        self.read(move |c| reads::event(c, &id)).await
    }
    async fn events(&self, q: &EventQuery) -> StoreResult<Vec<EventRecord>> {
        let q = q.clone();
        self.read(move |c| reads::events(c, &q)).await
    }
    async fn session_events_after(&self, sid: &str, after: i64) -> StoreResult<Vec<EventRecord>> {
        let sid = sid.to_string();
        self.read(move |c| reads::session_events(c, &sid, after))
            .await
    }
    async fn sessions(&self, q: &SessionQuery) -> StoreResult<Vec<SessionRow>> {
        let q = q.clone();
        self.read(move |c| reads::sessions(c, &q)).await
    }
    async fn session(&self, sid: &str) -> StoreResult<Option<SessionRow>> {
        let sid = sid.to_string();
        self.read(move |c| reads::session(c, &sid)).await
    }
    async fn kept_state(&self, sid: &str) -> StoreResult<Option<KeptState>> {
        let sid = sid.to_string();
        self.read(move |c| reads::kept_state(c, &sid)).await
    }
    async fn session_with_kept(
        &self,
        sid: &str,
    ) -> StoreResult<Option<(SessionRow, Option<KeptState>)>> {
        let sid = sid.to_string();
        self.read(move |c| reads::session_with_kept(c, &sid)).await
    }
    async fn keep_states(
        &self,
        states: Vec<KeptState>,
        progress: Option<StatesProgress>,
    ) -> StoreResult<()> {
        self.write(|tx| Job::KeepStates(states, progress, tx)).await
    }
    async fn states_progress(&self) -> StoreResult<Option<StatesProgress>> {
        self.read(reads::states_progress).await
    }
    async fn unquarantine(&self, ids: Vec<i64>) -> StoreResult<u64> {
        self.write(|tx| Job::Unquarantine(ids, tx)).await
    }
    async fn quarantined(&self, after: i64, limit: i64) -> StoreResult<Vec<QuarantineRecord>> {
        self.read(move |c| reads::quarantined(c, after, limit))
            .await
    }
    async fn repeat_deliveries(&self, after: i64, limit: i64) -> StoreResult<Vec<DeliveryRecord>> {
        self.read(move |c| reads::repeat_deliveries(c, after, limit))
            .await
    }
    async fn import(&self, batch: ImportBatch) -> StoreResult<ImportCounts> {
        self.write(|tx| Job::Import(batch, tx)).await
    }
    async fn latest_seq(&self) -> StoreResult<i64> {
        self.read(reads::latest_seq).await
    }
    async fn purge_chunk(&self, before_ms: i64) -> StoreResult<PurgeChunk> {
        self.write(|tx| Job::Purge(before_ms, tx)).await
    }
    async fn evidence_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Evidence>> {
        self.read(move |c| lifecycle::evidence_after(c, after, limit))
            .await
    }
    async fn session_evidence(&self, sid: &str, up_to: i64) -> StoreResult<Vec<Evidence>> {
        let sid = sid.to_string();
        self.read(move |c| lifecycle::session_evidence(c, &sid, up_to))
            .await
    }
    async fn lifecycle_cursor(&self) -> StoreResult<i64> {
        self.read(lifecycle::cursor).await
    }
    async fn record_lifecycle(
        &self,
        records: Vec<NewLifecycle>,
        cursor: Option<i64>,
    ) -> StoreResult<u64> {
        self.write(|tx| Job::Lifecycle(records, cursor, tx)).await
    }
    async fn lifecycle(&self, q: &LifecycleQuery) -> StoreResult<Vec<LifecycleRecord>> {
        let q = q.clone();
        self.read(move |c| lifecycle::list(c, &q)).await
    }
    async fn latest_lifecycle(&self) -> StoreResult<i64> {
        self.read(lifecycle::latest).await
    }
    async fn quiet_sessions(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<SessionRow>> {
        self.read(move |c| lifecycle::quiet_sessions(c, from_ms, to_ms, limit))
            .await
    }
    async fn forward_destination(&self, name: &str) -> StoreResult<Option<DestinationRow>> {
        let name = name.to_string();
        self.read(move |c| forward::destination(c, &name)).await
    }
    async fn forward_open(
        &self,
        name: &str,
        event_cursor: i64,
        lifecycle_cursor: i64,
    ) -> StoreResult<DestinationRow> {
        let n = name.to_string();
        self.exec(move |tx| forward::open(tx, &n, event_cursor, lifecycle_cursor))
            .await?;
        self.forward_destination(name).await?.ok_or_else(|| {
            StoreError::Other(format!("destination {name:?} vanished after it was opened"))
        })
    }
    async fn forward_enqueue(
        &self,
        name: &str,
        messages: Vec<OutMessage>,
        cursors: Option<(i64, i64)>,
        again: bool,
    ) -> StoreResult<u64> {
        let name = name.to_string();
        let now = crate::clock::now_ms();
        self.exec(move |tx| forward::enqueue(tx, &name, &messages, cursors, again, now))
            .await
    }
    async fn forward_claim(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
        ordered: bool,
    ) -> StoreResult<Vec<OutRecord>> {
        let (n, o) = (name.to_string(), owner.to_string());
        let claimed = self
            .exec(move |tx| forward::claim(tx, &n, &o, now_ms, lease_until_ms, limit, ordered))
            .await?;
        if claimed == 0 {
            return Ok(Vec::new());
        }
        let (n, o) = (name.to_string(), owner.to_string());
        self.read(move |c| forward::claimed(c, &n, &o, lease_until_ms))
            .await
    }
    async fn forward_settle(
        &self,
        name: &str,
        owner: &str,
        settled: Vec<(i64, Attempt, Settle)>,
    ) -> StoreResult<()> {
        let (n, o) = (name.to_string(), owner.to_string());
        self.exec(move |tx| forward::settle(tx, &n, &o, &settled))
            .await
            .map(drop)
    }
    async fn forward_messages(
        &self,
        name: &str,
        state: Option<&str>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<OutRecord>> {
        let (n, s) = (name.to_string(), state.map(str::to_string));
        self.read(move |c| forward::messages(c, &n, s.as_deref(), before_seq, limit))
            .await
    }
    async fn forward_requeue(&self, name: &str, which: Requeue) -> StoreResult<u64> {
        let n = name.to_string();
        let now = crate::clock::now_ms();
        self.exec(move |tx| forward::requeue(tx, &n, &which, now))
            .await
    }
    async fn forward_set_state(
        &self,
        name: &str,
        state: &str,
        error: Option<String>,
    ) -> StoreResult<()> {
        let (n, s) = (name.to_string(), state.to_string());
        self.exec(move |tx| forward::set_state(tx, &n, &s, error.as_deref()))
            .await
            .map(drop)
    }
    async fn forward_counts(&self, name: &str) -> StoreResult<(i64, i64)> {
        let n = name.to_string();
        self.read(move |c| forward::counts(c, &n)).await
    }
    async fn stats(&self, quiet_before_ms: i64) -> StoreResult<StoreStats> {
        self.read(move |c| {
            let [phases, attention, lifecycle] = crate::store::stats_sql();
            let pairs = |sql: &str| -> rusqlite::Result<Vec<(String, i64)>> {
                let mut stmt = c.prepare_cached(sql)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            };
            let (fatal, abnormal, stalled): (i64, i64, i64) = c
                .prepare_cached(&attention.replace("$1", "?1"))?
                .query_row([quiet_before_ms], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(StoreStats {
                phases: pairs(&phases)?,
                attention: vec![
                    ("fatal_error".into(), fatal),
                    ("abnormal_status".into(), abnormal),
                    ("stalled".into(), stalled),
                ],
                lifecycle: pairs(&lifecycle)?,
            })
        })
        .await
    }
    async fn activity(&self, since_ms: i64) -> StoreResult<Activity> {
        self.read(move |c| {
            let [per_minute, quarantined] = crate::store::ACTIVITY_SQL;
            let mut stmt = c.prepare_cached(&per_minute.replace("$1", "?1"))?;
            let rows = stmt.query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(Activity {
                per_minute: rows.collect::<rusqlite::Result<_>>()?,
                quarantined: c.prepare_cached(quarantined)?.query_row([], |r| r.get(0))?,
            })
        })
        .await
    }
    async fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| {
            rusqlite::OptionalExtension::optional(
                c.prepare_cached("SELECT v FROM meta WHERE k = ?1")?
                    .query_row([&key], |r| r.get(0)),
            )
        })
        .await
    }
    async fn meta_set(&self, key: &str, value: &str) -> StoreResult<()> {
        let (k, v) = (key.to_string(), value.to_string());
        self.exec(move |tx| {
            tx.prepare_cached(
                "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            )?
            .execute([&k, &v])
            .map(|n| n as u64)
        })
        .await
        .map(drop)
    }
    async fn health(&self) -> StoreResult<()> {
        if self.failing.load(std::sync::atomic::Ordering::Acquire) {
            // The last write failed: try a tiny one, so an instance that gets no traffic still
            // notices when the fault is gone.
            self.write(Job::Probe).await.map_err(|_| {
                StoreError::Unavailable(
                    "writes are failing (disk full or read-only?); see the log".into(),
                )
            })?;
        }
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
    async fn close(&self) -> StoreResult<()> {
        // TRUNCATE waits (the busy timeout) for a writer's transaction, but gives up at once
        // while the background checkpointer holds the checkpoint lock for a pass (tens of ms):
        // then it is tried again, `CLOSE_TRIES` times `CLOSE_WAIT` apart. A write after it
        // simply starts a new log.
        for _ in 0..CLOSE_TRIES {
            let busy = self
                .read(|c| {
                    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                        r.get::<_, i64>(0)
                    })
                })
                .await?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(CLOSE_WAIT).await;
        }
        Err(StoreError::Unavailable(
            "the WAL could not be emptied: the database stayed busy".into(),
        ))
    }
    fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.notify.subscribe()
    }
    fn ingest_pressure(&self) -> bool {
        self.pressure.high()
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_query_whose_caller_stopped_waiting_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db").to_str().unwrap()).unwrap();
        // Endless without an interrupt.
        let endless = store.read(|c| {
            c.query_row(
                "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) \
                 SELECT count(*) FROM r",
                [],
                |r| r.get::<_, i64>(0),
            )
        });
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(100), endless).await;
        assert!(gave_up.is_err());
        // Its permit and connection come back at once: every query slot is free again.
        let all = max_running_queries();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while store.running.available_permits() < all {
            assert!(
                std::time::Instant::now() < deadline,
                "the abandoned query still runs"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // And the connection it ran on serves the next query normally.
        for _ in 0..all {
            store.health().await.unwrap();
        }
    }
}
