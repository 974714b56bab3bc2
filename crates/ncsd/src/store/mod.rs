//! Storage is a port: the service talks to this small trait, and each backend (SQLite embedded,
//! PostgreSQL shared) is one adapter with its own SQL and migrations. The conformance suite in
//! `tests/store_conformance.rs` runs the same story against every adapter.

pub mod model;
pub mod postgres;
pub mod pressure;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

pub use model::*;

/// The project of every row stored before there were several, and the one the `--path` and
/// `--secret` flags define when the configuration names none.
pub const DEFAULT_PROJECT: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the write: the caller answers 503 so NCS
    /// resends later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Durably record one delivery. Returns only after the transaction holding it committed.
    /// Concurrent calls share transactions (group commit).
    async fn ingest(&self, delivery: NewDelivery) -> StoreResult<IngestOutcome>;
    /// Keep a signed body that could not be read as an envelope.
    async fn quarantine(&self, item: NewQuarantine) -> StoreResult<i64>;

    async fn event(&self, notice_id: &str) -> StoreResult<Option<EventRecord>>;
    async fn events(&self, query: &EventQuery) -> StoreResult<Vec<EventRecord>>;
    /// Every stored Cloud Recording event of one session, copies included (flagged).
    async fn session_events(&self, sid: &str) -> StoreResult<Vec<EventRecord>> {
        self.session_events_after(sid, 0).await
    }
    /// The same, limited to events stored after cursor `after`, in the same order: what a
    /// state folded at `after` needs to catch up (commit order is cursor order on both
    /// backends, so nothing older can still appear).
    async fn session_events_after(&self, sid: &str, after: i64) -> StoreResult<Vec<EventRecord>>;
    async fn sessions(&self, query: &SessionQuery) -> StoreResult<Vec<SessionRow>>;
    /// One session's summary row; its `last_seq` changes whenever an event of it is stored, so
    /// it tells whether a state folded earlier is still current.
    async fn session(&self, sid: &str) -> StoreResult<Option<SessionRow>>;
    /// The answer kept for a session (`keep_states`), whatever its `last_seq`.
    async fn kept_state(&self, sid: &str) -> StoreResult<Option<KeptState>>;
    /// `session`, with the answer kept for it when that was folded at the summary's very
    /// `last_seq` (in one round trip where the backend can: every session read needs both).
    async fn session_with_kept(
        &self,
        sid: &str,
    ) -> StoreResult<Option<(SessionRow, Option<KeptState>)>> {
        let Some(row) = self.session(sid).await? else {
            return Ok(None);
        };
        let kept = self
            .kept_state(sid)
            .await?
            .filter(|k| k.last_seq == row.last_seq);
        Ok(Some((row, kept)))
    }
    /// Keep sessions' answers, and with them (when given) the state keeper's progress, in one
    /// transaction. An answer replaces what is kept for its sid only when it was folded at the
    /// same or a newer `last_seq`, so a slow writer never puts an older one back.
    async fn keep_states(
        &self,
        states: Vec<KeptState>,
        progress: Option<StatesProgress>,
    ) -> StoreResult<()>;
    /// The state keeper's progress as last kept; None before its first round.
    async fn states_progress(&self) -> StoreResult<Option<StatesProgress>>;
    async fn quarantined(&self, after: i64, limit: i64) -> StoreResult<Vec<QuarantineRecord>>;
    /// Remove quarantined rows (their bodies now read and were stored as events); returns how
    /// many were still there.
    async fn unquarantine(&self, ids: Vec<i64>) -> StoreResult<u64>;
    /// Duplicate deliveries after the first, for `ncsd copy`.
    async fn repeat_deliveries(&self, after: i64, limit: i64) -> StoreResult<Vec<DeliveryRecord>>;
    /// Write records exported from another store (`ncsd copy`); idempotent.
    async fn import(&self, batch: ImportBatch) -> StoreResult<ImportCounts>;
    /// Highest storage cursor (event `seq`) committed so far.
    async fn latest_seq(&self) -> StoreResult<i64>;
    /// Remove one chunk of what is older than `before_ms`: events of sessions whose last
    /// activity is older, other events received before it, old repeat deliveries and quarantine.
    async fn purge_chunk(&self, before_ms: i64) -> StoreResult<PurgeChunk>;
    /// Purge chunk by chunk until nothing older is left; returns the events removed. Deliveries
    /// queued meanwhile wait for one chunk at most.
    async fn purge_before(&self, before_ms: i64) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let chunk = self.purge_chunk(before_ms).await?;
            total += chunk.events;
            if !chunk.more {
                return Ok(total);
            }
        }
    }
    /// Events stored after cursor `after`, in commit order, as the lifecycle deriver reads them.
    async fn evidence_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Evidence>>;
    /// One session's events up to cursor `up_to`, in commit order (its history for the deriver).
    async fn session_evidence(&self, sid: &str, up_to: i64) -> StoreResult<Vec<Evidence>>;
    /// How far the lifecycle deriver got (an event cursor; 0 at first).
    async fn lifecycle_cursor(&self) -> StoreResult<i64>;
    /// Record lifecycle events (each (sid, kind) at most once: a repeat is ignored) and move the
    /// deriver's cursor to `cursor` if that is further, in one transaction. Returns how many
    /// were new.
    async fn record_lifecycle(
        &self,
        records: Vec<NewLifecycle>,
        cursor: Option<i64>,
    ) -> StoreResult<u64>;
    async fn lifecycle(&self, query: &LifecycleQuery) -> StoreResult<Vec<LifecycleRecord>>;
    /// Highest lifecycle cursor recorded so far (0: none).
    async fn latest_lifecycle(&self) -> StoreResult<i64>;
    /// Sessions whose last activity is in `[from_ms, to_ms)`, oldest first (the stall sweep).
    async fn quiet_sessions(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<SessionRow>>;
    /// A forwarding destination's row; None before it was first opened.
    async fn forward_destination(&self, name: &str) -> StoreResult<Option<DestinationRow>>;
    /// Open a destination where it starts (its cursors), unless it exists; returns its row.
    async fn forward_open(
        &self,
        name: &str,
        event_cursor: i64,
        lifecycle_cursor: i64,
    ) -> StoreResult<DestinationRow>;
    /// Put messages in the outbox (one per id: a repeat is ignored, or, with `again`, made
    /// pending and due now) and move the cursors forward, in one transaction.
    async fn forward_enqueue(
        &self,
        name: &str,
        messages: Vec<OutMessage>,
        cursors: Option<(i64, i64)>,
        again: bool,
    ) -> StoreResult<u64>;
    /// Lease up to `limit` due pending messages to `owner` until `lease_until_ms`, oldest first;
    /// with `ordered`, only the oldest pending message of each sid.
    async fn forward_claim(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
        ordered: bool,
    ) -> StoreResult<Vec<OutRecord>>;
    /// Record attempts and what each decided, in one transaction (each only while `owner`
    /// still holds its message's lease).
    async fn forward_settle(
        &self,
        name: &str,
        owner: &str,
        settled: Vec<(i64, Attempt, Settle)>,
    ) -> StoreResult<()>;
    /// Messages of one destination, newest first, with their attempts.
    async fn forward_messages(
        &self,
        name: &str,
        state: Option<&str>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<OutRecord>>;
    /// Make messages pending and due now; returns how many.
    async fn forward_requeue(&self, name: &str, which: Requeue) -> StoreResult<u64>;
    /// Set a destination's state (`active`, `disabled`) and its last error.
    async fn forward_set_state(
        &self,
        name: &str,
        state: &str,
        error: Option<String>,
    ) -> StoreResult<()>;
    /// (pending, failed) messages of a destination.
    async fn forward_counts(&self, name: &str) -> StoreResult<(i64, i64)>;
    /// Sessions by phase and by attention reason (`stalled`: unfinished, last active before
    /// `quiet_before_ms`), and lifecycle events by type.
    async fn stats(&self, quiet_before_ms: i64) -> StoreResult<StoreStats>;
    /// Events stored per minute since `since_ms` (by receipt time), and the quarantine's size.
    async fn activity(&self, since_ms: i64) -> StoreResult<Activity>;
    /// A small fact kept across restarts (`meta`), e.g. the last good NCS address list.
    async fn meta_get(&self, key: &str) -> StoreResult<Option<String>>;
    async fn meta_set(&self, key: &str, value: &str) -> StoreResult<()>;
    async fn health(&self) -> StoreResult<()>;
    /// Called when `ncsd serve` stops, after the last request was answered. SQLite copies its
    /// WAL into the database file and empties it, so the stopped store is one file of its real
    /// size and the next start has no log to copy while it serves its first reads. PostgreSQL
    /// has nothing to do. Not for a store another process may be using: SQLite's TRUNCATE
    /// checkpoint holds that process's writes while it waits for its readers.
    async fn close(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Wakes whenever new events were committed (by this instance, or by another one sharing the
    /// database); carries the newest known `seq`.
    fn subscribe(&self) -> broadcast::Receiver<i64>;
    /// Whether deliveries are queueing for the writer right now (`pressure`); background work
    /// that writes steps aside while they are.
    fn ingest_pressure(&self) -> bool {
        false
    }
    fn backend(&self) -> &'static str;
}

pub type DynStore = Arc<dyn Store>;

/// How a store runs, beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Nice value of the SQLite writer thread (0: unchanged); see `crate::priority`.
    pub writer_nice: i32,
    /// Longest a query may run (None: no limit). A caller that gave up (a request past its
    /// deadline) frees its connection at the latest then, and SQLite's query stops at once.
    pub read_timeout: Option<std::time::Duration>,
}

/// Open the backend the URL names, with default options.
pub async fn open(url: &str) -> anyhow::Result<DynStore> {
    open_with(url, &Options::default()).await
}

/// Open the backend the URL names. The backend is chosen once, here.
pub async fn open_with(url: &str, opts: &Options) -> anyhow::Result<DynStore> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let store = sqlite::SqliteStore::open_with(rest, opts)?;
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let store = sqlite::SqliteStore::open_with(url.trim_start_matches("sqlite:"), opts)?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PgStore::connect_with(url, opts).await?;
        Ok(Arc::new(store))
    } else {
        // Only the scheme is repeated: the rest may hold a password.
        let scheme = url.split_once("://").map_or("(none)", |(s, _)| s);
        anyhow::bail!(
            "unsupported database URL scheme {scheme:?}: use sqlite://PATH or \
             postgres://USER@HOST/DB"
        )
    }
}

/// [`Store::activity`]'s two queries (valid in SQLite and PostgreSQL; `$1` is `since_ms`).
pub const ACTIVITY_SQL: [&str; 2] = [
    "SELECT received_at_ms / 60000 * 60000 AS minute, count(*) FROM events \
     WHERE received_at_ms >= $1 GROUP BY minute ORDER BY minute",
    "SELECT count(*) FROM quarantine",
];

/// Identity of a quarantined body for idempotent copies: sha256 over receive time and bytes.
/// The statistics queries, the same SQL on both backends: the phase rule is `summary::PHASE_SQL`.
pub fn stats_sql() -> [String; 3] {
    let phase = crate::summary::PHASE_SQL;
    [
        format!("SELECT {phase} AS phase, count(*) FROM sessions GROUP BY phase"),
        format!(
            "SELECT count(*) FILTER (WHERE flags & 256 <> 0), \
                    count(*) FILTER (WHERE flags & 512 <> 0), \
                    count(*) FILTER (WHERE ({phase}) NOT IN ('completed', 'failed') \
                                     AND last_activity_ms < $1) \
             FROM sessions"
        ),
        "SELECT kind, count(*) FROM lifecycle GROUP BY kind".to_string(),
    ]
}

/// Identity of a quarantined body for counting replays: sha256 over the bytes alone.
pub fn body_digest(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(body))
}

pub fn quarantine_digest(received_at_ms: i64, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(received_at_ms.to_be_bytes());
    h.update(body);
    hex::encode(h.finalize())
}
