//! PostgreSQL adapter: the shared store, for several ncsd instances behind one load balancer.
//! Writes go through one group-commit task per instance (`writer`); reads use a small pool
//! (`reads`); a `LISTEN` connection (`listen`) wakes live streams when any instance commits.
//! Idempotency and "which copy came first" are decided by unique keys in the database, never in
//! memory, because two instances may receive the same notification at the same moment.

mod forward;
mod lifecycle;
mod listen;
mod reads;
mod rederive;
mod states;
mod writer;

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::*;
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
        migrate(&options)
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

/// The pool's connections, which run the queries: they stop at the request deadline on the
/// server too (dropping a query's future only hands its connection back; the server would go
/// on scanning).
fn read_options(options: PgConnectOptions, opts: &Options) -> PgConnectOptions {
    match opts.read_timeout {
        Some(t) => options.options([("statement_timeout", format!("{}", t.as_millis().max(1)))]),
        None => options,
    }
}

/// The writer's connection. Its statements take arrays (`= ANY($1)`, `UNNEST`), and PostgreSQL
/// switches a prepared statement to a generic plan after five runs, planned for the tables as
/// they were then: on a new database, empty, so a sequential scan, kept while the tables grow.
/// `content_key = ANY($1)` then compared every key of a batch with every stored row: ingest
/// fell to ~3k req/s within seconds, the backend's CPU all in `texteq` (`bench/pg.sh`: 2,790
/// req/s, 9,758 with this). Planning each batch's few statements afresh costs far less.
fn writer_options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("plan_cache_mode", "force_custom_plan")])
}

/// Apply the embedded migrations on a connection of their own: sqlx's migrator holds a
/// session-level advisory lock while it works, and closing the connection releases it even if
/// a migration fails half-way (a pooled connection would keep it).
async fn migrate(options: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting after {CONNECT_TIMEOUT:?}"))??;
    let migrator = Migrator::new(Embedded).await?;
    migrator.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// The migrations compiled into the binary (the `migrate!` macro needs sqlx's `macros`
/// feature). Versions and descriptions follow the file names, as sqlx-cli would read them.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        let files = [
            (1, "schema", include_str!("migrations/0001_schema.sql")),
            (
                2,
                "session states",
                include_str!("migrations/0002_session_states.sql"),
            ),
            (
                3,
                "quarantine replays and filters",
                include_str!("migrations/0003_quarantine_replays_and_filters.sql"),
            ),
            (
                4,
                "session exits",
                include_str!("migrations/0004_session_exits.sql"),
            ),
            (
                5,
                "lifecycle",
                include_str!("migrations/0005_lifecycle.sql"),
            ),
            (
                6,
                "forwarding",
                include_str!("migrations/0006_forwarding.sql"),
            ),
            (7, "projects", include_str!("migrations/0007_projects.sql")),
        ];
        let migrations = files
            .into_iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
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

/// Lost connections, refused connections and a server shutting down are `Unavailable` (503: NCS
/// resends later); anything else is a fault of ours or of the data.
fn store_error(e: &sqlx::Error) -> StoreError {
    if is_unavailable(e) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Other(e.to_string())
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes: 08 connection, 53 insufficient resources (disk full, too many
        // connections), 57 operator intervention (shutdown, cannot connect now), 40 rolled back
        // (serialization, deadlock), and 25006 read-only (a standby after fail-over).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "53", "57", "40"]
                .iter()
                .any(|class| code.starts_with(class))
                || code == "25006"
        }),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{ConnectOptions, Connection};

    /// Needs PostgreSQL (`scripts/test` starts it), like the conformance suite.
    #[tokio::test]
    async fn the_writer_plans_each_statement_for_the_tables_as_they_are() {
        if std::env::var("NCSD_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            return;
        }
        let url = std::env::var("NCSD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let options = PgConnectOptions::from_str(&url).expect("URL");
        let mut conn = writer_options(options)
            .connect()
            .await
            .expect("PostgreSQL (set NCSD_SKIP_POSTGRES=1 to skip)");
        let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "force_custom_plan");
        conn.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_query_past_the_read_timeout_is_stopped_by_the_server() {
        if std::env::var("NCSD_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            return;
        }
        let url = std::env::var("NCSD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let opts = Options {
            read_timeout: Some(Duration::from_millis(200)),
            ..Options::default()
        };
        let mut conn = read_options(PgConnectOptions::from_str(&url).expect("URL"), &opts)
            .connect()
            .await
            .expect("PostgreSQL (set NCSD_SKIP_POSTGRES=1 to skip)");
        let started = std::time::Instant::now();
        let err = sqlx::query("SELECT pg_sleep(5)")
            .execute(&mut conn)
            .await
            .expect_err("stopped");
        assert!(err.to_string().contains("statement timeout"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        conn.close().await.unwrap();
    }
}
