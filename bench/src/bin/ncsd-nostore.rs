//! ncsd with its storage taken out of the ingest path: the real server (`ncsd::server::run`,
//! same listener, middleware, signature check, envelope parse and ack), but `ingest` answers at
//! once instead of waiting for a durable commit. Every other store call goes to a real store.
//!
//! It is a measuring instrument, never a way to run ncsd: what it acknowledges is not stored.
//! `bench/run.sh` drives it beside the do-nothing server and ncsd itself, so one run shows how
//! much of the gap to the do-nothing server is HTTP + verify + parse (this binary) and how much
//! is durable storage (ncsd minus this binary).
//!
//!   ncsd-nostore --listen 127.0.0.1:18083 --database sqlite:///tmp/x.db --secret s

use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use clap::Parser;
use ncsd::config::ServeConfig;
use ncsd::store::*;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "ncsd with ingest answered before storage (a benchmark instrument)")]
struct Cli {
    #[command(flatten)]
    cfg: ServeConfig,
}

/// A real store, except that `ingest` drops the delivery and answers as if it were new.
struct WithoutIngest {
    inner: DynStore,
    next_seq: AtomicI64,
}

#[async_trait]
impl Store for WithoutIngest {
    async fn ingest(&self, _: NewDelivery) -> StoreResult<IngestOutcome> {
        Ok(IngestOutcome {
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed) + 1,
            duplicate: false,
            deliveries: 1,
            copy_of: None,
        })
    }
    async fn quarantine(&self, item: NewQuarantine) -> StoreResult<i64> {
        self.inner.quarantine(item).await
    }
    async fn event(&self, notice_id: &str) -> StoreResult<Option<EventRecord>> {
        self.inner.event(notice_id).await
    }
    async fn events(&self, query: &EventQuery) -> StoreResult<Vec<EventRecord>> {
        self.inner.events(query).await
    }
    async fn session_events_after(&self, sid: &str, after: i64) -> StoreResult<Vec<EventRecord>> {
        self.inner.session_events_after(sid, after).await
    }
    async fn sessions(&self, query: &SessionQuery) -> StoreResult<Vec<SessionRow>> {
        self.inner.sessions(query).await
    }
    async fn session(&self, sid: &str) -> StoreResult<Option<SessionRow>> {
        self.inner.session(sid).await
    }
    async fn kept_state(&self, sid: &str) -> StoreResult<Option<KeptState>> {
        self.inner.kept_state(sid).await
    }
    async fn keep_states(&self, states: Vec<KeptState>) -> StoreResult<()> {
        self.inner.keep_states(states).await
    }
    async fn quarantined(&self, after: i64, limit: i64) -> StoreResult<Vec<QuarantineRecord>> {
        self.inner.quarantined(after, limit).await
    }
    async fn repeat_deliveries(&self, after: i64, limit: i64) -> StoreResult<Vec<DeliveryRecord>> {
        self.inner.repeat_deliveries(after, limit).await
    }
    async fn import(&self, batch: ImportBatch) -> StoreResult<ImportCounts> {
        self.inner.import(batch).await
    }
    async fn latest_seq(&self) -> StoreResult<i64> {
        self.inner.latest_seq().await
    }
    async fn purge_chunk(&self, before_ms: i64) -> StoreResult<PurgeChunk> {
        self.inner.purge_chunk(before_ms).await
    }
    async fn health(&self) -> StoreResult<()> {
        self.inner.health().await
    }
    fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.inner.subscribe()
    }
    fn backend(&self) -> &'static str {
        "none (benchmark instrument: ingest is not stored)"
    }
}

fn main() -> ExitCode {
    let Cli { cfg } = Cli::parse();
    let runtime = match ncsd::cli::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let inner = open(&cfg.database_url).await?;
    let store: DynStore = Arc::new(WithoutIngest {
        inner,
        next_seq: AtomicI64::new(0),
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    eprintln!(
        "ncsd-nostore on http://{}: ingest is NOT stored",
        cfg.listen
    );
    // Runs until killed; the benchmark stops it with SIGTERM.
    ncsd::server::run(cfg, store, listener, None, CancellationToken::new()).await
}
