//! PostgreSQL adapter: the shared store, for several ncsd instances behind one load balancer.
//! Writes go through one group-commit task per instance (`writer`); reads use a small pool
//! (`reads`); a `LISTEN` connection (`listen`) wakes live streams when any instance commits.
//! Idempotency and "which copy came first" are decided by unique keys in the database, never in
//! memory, because two instances may receive the same notification at the same moment.

mod connection;
mod errors;
mod forward;
mod lifecycle;
mod listen;
mod migrate;
mod reads;
mod rederive;
mod states;
mod writer;

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::*;
use connection::{read_options, writer_options};
use errors::{is_unavailable, store_error};
use writer::Job;

/// How long any operation waits for a connection before answering `Unavailable`: NCS retries a
/// 503, so failing fast beats holding the request while the database is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The channel every instance notifies after a commit; the payload is the newest `seq`.
const CHANNEL: &str = "ncsd_events";

pub struct PgStore {
    pool: PgPool,
    writer: mpsc::Sender<Job>,
    announcer: Announcer,
    listener: tokio::task::AbortHandle,
    pressure: super::pressure::Pressure,
}

impl PgStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, &Options::default()).await
    }

    /// TLS is the URL's: `sslmode=require` encrypts, `sslmode=verify-full` (with
    /// `sslrootcert=FILE`, or the web PKI roots) also checks the server's certificate and name.
    pub async fn connect_with(url: &str, opts: &Options) -> anyhow::Result<Self> {
        // The URL may hold a password: errors name the database, never the URL.
        let options = PgConnectOptions::from_str(url)
            .context("cannot read the PostgreSQL URL")?
            .application_name("ncsd");
        let database = options.get_database().unwrap_or("(default)").to_string();
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(read_options(options.clone(), opts))
            .await
            .with_context(|| format!("cannot connect to PostgreSQL database {database}"))?;
        migrate::migrate(&options)
            .await
            .with_context(|| format!("cannot migrate PostgreSQL database {database}"))?;
        rederive::if_rules_changed(&pool).await.with_context(|| {
            format!("cannot apply the current session rules to PostgreSQL database {database}")
        })?;
        let newest = reads::latest_seq(&pool).await?;
        let announcer = Announcer::new(newest);
        let pressure = super::pressure::Pressure::default();
        let writer = writer::spawn(writer_options(options), announcer.clone(), pressure.clone());
        let listener = tokio::spawn(listen::run(pool.clone(), announcer.clone())).abort_handle();
        Ok(Self {
            pool,
            writer,
            announcer,
            listener,
            pressure,
        })
    }

    async fn write<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Job,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the PostgreSQL writer stopped".into());
        self.writer.send(job(tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The writer stops by itself once its channel closes; the listener would wait forever.
        self.listener.abort();
    }
}

/// Tells subscribers about the newest committed `seq`, once per new value: the local writer and
/// the `LISTEN` task both report the same commits, and each value is worth one wake-up.
#[derive(Clone)]
struct Announcer {
    tx: broadcast::Sender<i64>,
    newest: Arc<AtomicI64>,
}

impl Announcer {
    fn new(newest: i64) -> Self {
        Self {
            tx: broadcast::channel(1024).0,
            newest: Arc::new(AtomicI64::new(newest)),
        }
    }
    fn announce(&self, seq: i64) {
        if self.newest.fetch_max(seq, Ordering::SeqCst) < seq {
            let _ = self.tx.send(seq);
        }
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ingest(&self, d: NewDelivery) -> StoreResult<IngestOutcome> {
        self.write(|tx| Job::Ingest(d, tx)).await
    }
    async fn quarantine(&self, q: NewQuarantine) -> StoreResult<i64> {
        self.write(|tx| Job::Quarantine(q, tx)).await
    }
    async fn event(&self, notice_id: &str) -> StoreResult<Option<EventRecord>> {
        reads::event(&self.pool, notice_id)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn events(&self, q: &EventQuery) -> StoreResult<Vec<EventRecord>> {
        reads::events(&self.pool, q)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn session_events_after(&self, sid: &str, after: i64) -> StoreResult<Vec<EventRecord>> {
        reads::session_events(&self.pool, sid, after)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn session(&self, sid: &str) -> StoreResult<Option<SessionRow>> {
        reads::session(&self.pool, sid)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn sessions(&self, q: &SessionQuery) -> StoreResult<Vec<SessionRow>> {
        reads::sessions(&self.pool, q)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn kept_state(&self, sid: &str) -> StoreResult<Option<KeptState>> {
        reads::kept_state(&self.pool, sid)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn session_with_kept(
        &self,
        sid: &str,
    ) -> StoreResult<Option<(SessionRow, Option<KeptState>)>> {
        reads::session_with_kept(&self.pool, sid)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn keep_states(
        &self,
        states: Vec<KeptState>,
        progress: Option<StatesProgress>,
    ) -> StoreResult<()> {
        // Derived data, outside the ordered write path (no seq is handed out).
        states::keep(&self.pool, states, progress)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn states_progress(&self) -> StoreResult<Option<StatesProgress>> {
        states::progress(&self.pool)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn evidence_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Evidence>> {
        lifecycle::evidence_after(&self.pool, after, limit)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn session_evidence(&self, sid: &str, up_to: i64) -> StoreResult<Vec<Evidence>> {
        lifecycle::session_evidence(&self.pool, sid, up_to)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn lifecycle_cursor(&self) -> StoreResult<i64> {
        lifecycle::cursor(&self.pool)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn record_lifecycle(
        &self,
        records: Vec<NewLifecycle>,
        cursor: Option<i64>,
    ) -> StoreResult<u64> {
        lifecycle::record(&self.pool, &records, cursor)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn lifecycle(&self, q: &LifecycleQuery) -> StoreResult<Vec<LifecycleRecord>> {
        lifecycle::list(&self.pool, q)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn latest_lifecycle(&self) -> StoreResult<i64> {
        lifecycle::latest(&self.pool)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn quiet_sessions(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<SessionRow>> {
        lifecycle::quiet_sessions(&self.pool, from_ms, to_ms, limit)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn forward_destination(&self, name: &str) -> StoreResult<Option<DestinationRow>> {
        forward::destination(&self.pool, name)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn forward_open(
        &self,
        name: &str,
        event_cursor: i64,
        lifecycle_cursor: i64,
    ) -> StoreResult<DestinationRow> {
        forward::open(&self.pool, name, event_cursor, lifecycle_cursor)
            .await
            .map_err(|e| store_error(&e))?;
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
        let now = crate::clock::now_ms();
        forward::enqueue(&self.pool, name, &messages, cursors, again, now)
            .await
            .map_err(|e| store_error(&e))
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
        forward::claim(
            &self.pool,
            name,
            owner,
            now_ms,
            lease_until_ms,
            limit,
            ordered,
        )
        .await
        .map_err(|e| store_error(&e))
    }
    async fn forward_settle(
        &self,
        name: &str,
        owner: &str,
        settled: Vec<(i64, Attempt, Settle)>,
    ) -> StoreResult<()> {
        forward::settle(&self.pool, name, owner, &settled)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn forward_messages(
        &self,
        name: &str,
        state: Option<&str>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<OutRecord>> {
        forward::messages(&self.pool, name, state, before_seq, limit)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn forward_requeue(&self, name: &str, which: Requeue) -> StoreResult<u64> {
        forward::requeue(&self.pool, name, &which, crate::clock::now_ms())
            .await
            .map_err(|e| store_error(&e))
    }
    async fn forward_set_state(
        &self,
        name: &str,
        state: &str,
        error: Option<String>,
    ) -> StoreResult<()> {
        forward::set_state(&self.pool, name, state, error.as_deref())
            .await
            .map_err(|e| store_error(&e))
    }
    async fn forward_counts(&self, name: &str) -> StoreResult<(i64, i64)> {
        forward::counts(&self.pool, name)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn stats(&self, quiet_before_ms: i64) -> StoreResult<StoreStats> {
        use sqlx::Row;
        let [phases, attention, lifecycle] = crate::store::stats_sql();
        let pairs = |sql: String| {
            let pool = self.pool.clone();
            async move {
                let rows = sqlx::query(&sql).fetch_all(&pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
                    .collect::<sqlx::Result<Vec<(String, i64)>>>()
            }
        };
        let err = |e: sqlx::Error| store_error(&e);
        let row = sqlx::query(&attention)
            .bind(quiet_before_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
        let get = |i: usize| row.try_get::<i64, _>(i).map_err(err);
        Ok(StoreStats {
            phases: pairs(phases).await.map_err(err)?,
            attention: vec![
                ("fatal_error".into(), get(0)?),
                ("abnormal_status".into(), get(1)?),
                ("stalled".into(), get(2)?),
            ],
            lifecycle: pairs(lifecycle).await.map_err(err)?,
        })
    }
    async fn activity(&self, since_ms: i64) -> StoreResult<Activity> {
        let [per_minute, quarantined] = crate::store::ACTIVITY_SQL;
        let err = |e: sqlx::Error| store_error(&e);
        let per_minute: Vec<(i64, i64)> = sqlx::query_as(per_minute)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let quarantined: i64 = sqlx::query_scalar(quarantined)
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
        Ok(Activity {
            per_minute,
            quarantined,
        })
    }
    async fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT v FROM meta WHERE k = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn meta_set(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(|e| store_error(&e))
    }
    async fn unquarantine(&self, ids: Vec<i64>) -> StoreResult<u64> {
        // The quarantine is outside the ordered write path (no seq): straight on the pool.
        sqlx::query("DELETE FROM quarantine WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| store_error(&e))
    }
    async fn quarantined(&self, after: i64, limit: i64) -> StoreResult<Vec<QuarantineRecord>> {
        reads::quarantined(&self.pool, after, limit)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn repeat_deliveries(&self, after: i64, limit: i64) -> StoreResult<Vec<DeliveryRecord>> {
        reads::repeat_deliveries(&self.pool, after, limit)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn import(&self, batch: ImportBatch) -> StoreResult<ImportCounts> {
        self.write(|tx| Job::Import(batch, tx)).await
    }
    async fn latest_seq(&self) -> StoreResult<i64> {
        reads::latest_seq(&self.pool)
            .await
            .map_err(|e| store_error(&e))
    }
    async fn purge_chunk(&self, before_ms: i64) -> StoreResult<PurgeChunk> {
        self.write(|tx| Job::Purge(before_ms, tx)).await
    }
    async fn health(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| store_error(&e))
    }
    fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.announcer.tx.subscribe()
    }
    fn ingest_pressure(&self) -> bool {
        self.pressure.high()
    }
    fn backend(&self) -> &'static str {
        "postgres"
    }
}
