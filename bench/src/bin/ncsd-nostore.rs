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
//!
//! With `--journal FILE`, `ingest` instead writes each raw body and its kept headers to FILE
//! and answers after an `fdatasync` that covers it (group commit on one thread, as ncsd's
//! writer does). That is the cheapest durable acknowledgement there is (no index, no
//! duplicate or copy decision), so it bounds what any durable design could reach here. FILE is
//! a ring that old records are overwritten in: the instrument measures the cost of keeping
//! deliveries, it does not keep them for anyone.

/// The allocator `ncsd` runs with, so this binary's costs are ncsd's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use clap::Parser;
use ncsd::config::ServeConfig;
use ncsd::store::*;
use std::io::Write;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "ncsd with ingest answered before storage (a benchmark instrument)")]
struct Cli {
    #[command(flatten)]
    cfg: ServeConfig,
    /// Write each delivery to this file and fdatasync before answering, instead of dropping it.
    #[arg(long)]
    journal: Option<std::path::PathBuf>,
}

type JournalJob = (Vec<u8>, tokio::sync::oneshot::Sender<()>);

/// Space written (zeros) and synced before the first delivery, then overwritten in a ring, so
/// an `fdatasync` flushes data only: no file-size or block-allocation metadata, which appending
/// would journal on every sync.
const JOURNAL_BYTES: u64 = 512 << 20;

/// One thread writes what is waiting in one `pwrite`, `fdatasync`s once, then answers all.
fn spawn_journal(path: &std::path::Path) -> std::io::Result<mpsc::Sender<JournalJob>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    let zeros = vec![0u8; 1 << 20];
    let mut f = &file;
    for _ in 0..(JOURNAL_BYTES >> 20) {
        f.write_all(&zeros)?;
    }
    file.sync_all()?;
    let (tx, mut rx) = mpsc::channel::<JournalJob>(8192);
    std::thread::spawn(move || {
        // The priority ncsd's SQLite writer gets by default (`--writer-nice`), for the same reason.
        ncsd::priority::set_current_thread_nice(-10, "writer");
        let mut buf = Vec::with_capacity(1 << 20);
        let mut waiting = Vec::with_capacity(512);
        let mut at = 0u64;
        while let Some((record, done)) = rx.blocking_recv() {
            buf.extend_from_slice(&record);
            waiting.push(done);
            while waiting.len() < 512 {
                let Ok((record, done)) = rx.try_recv() else {
                    break;
                };
                buf.extend_from_slice(&record);
                waiting.push(done);
            }
            if at + buf.len() as u64 > JOURNAL_BYTES {
                at = 0;
            }
            file.write_all_at(&buf, at).expect("journal write");
            at += buf.len() as u64;
            file.sync_data().expect("journal fdatasync");
            buf.clear();
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
    });
    Ok(tx)
}

/// A real store, except that `ingest` answers as if each delivery were new, without storing it
/// (or after only writing it to the journal).
struct WithoutIngest {
    inner: DynStore,
    next_seq: AtomicI64,
    journal: Option<mpsc::Sender<JournalJob>>,
}

#[async_trait]
impl Store for WithoutIngest {
    async fn ingest(&self, d: NewDelivery) -> StoreResult<IngestOutcome> {
        if let Some(journal) = &self.journal {
            let mut record = Vec::with_capacity(d.body.len() + d.headers.len() + 8);
            record.extend_from_slice(&(d.body.len() as u32).to_le_bytes());
            record.extend_from_slice(&d.body);
            record.extend_from_slice(&(d.headers.len() as u32).to_le_bytes());
            record.extend_from_slice(d.headers.as_bytes());
            let (done, written) = tokio::sync::oneshot::channel();
            let gone = || StoreError::Unavailable("journal thread stopped".into());
            journal.send((record, done)).await.map_err(|_| gone())?;
            written.await.map_err(|_| gone())?;
        }
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
    async fn keep_states(
        &self,
        states: Vec<KeptState>,
        progress: Option<StatesProgress>,
    ) -> StoreResult<()> {
        self.inner.keep_states(states, progress).await
    }
    async fn states_progress(&self) -> StoreResult<Option<StatesProgress>> {
        self.inner.states_progress().await
    }
    async fn quarantined(&self, after: i64, limit: i64) -> StoreResult<Vec<QuarantineRecord>> {
        self.inner.quarantined(after, limit).await
    }
    async fn unquarantine(&self, ids: Vec<i64>) -> StoreResult<u64> {
        self.inner.unquarantine(ids).await
    }
    async fn evidence_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Evidence>> {
        self.inner.evidence_after(after, limit).await
    }
    async fn session_evidence(&self, sid: &str, up_to: i64) -> StoreResult<Vec<Evidence>> {
        self.inner.session_evidence(sid, up_to).await
    }
    async fn lifecycle_cursor(&self) -> StoreResult<i64> {
        self.inner.lifecycle_cursor().await
    }
    async fn record_lifecycle(
        &self,
        records: Vec<NewLifecycle>,
        cursor: Option<i64>,
    ) -> StoreResult<u64> {
        self.inner.record_lifecycle(records, cursor).await
    }
    async fn lifecycle(&self, q: &LifecycleQuery) -> StoreResult<Vec<LifecycleRecord>> {
        self.inner.lifecycle(q).await
    }
    async fn latest_lifecycle(&self) -> StoreResult<i64> {
        self.inner.latest_lifecycle().await
    }
    async fn forward_destination(&self, name: &str) -> StoreResult<Option<DestinationRow>> {
        self.inner.forward_destination(name).await
    }
    async fn forward_open(&self, name: &str, e: i64, l: i64) -> StoreResult<DestinationRow> {
        self.inner.forward_open(name, e, l).await
    }
    async fn forward_enqueue(
        &self,
        name: &str,
        messages: Vec<OutMessage>,
        cursors: Option<(i64, i64)>,
        again: bool,
    ) -> StoreResult<u64> {
        self.inner
            .forward_enqueue(name, messages, cursors, again)
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
        self.inner
            .forward_claim(name, owner, now_ms, lease_until_ms, limit, ordered)
            .await
    }
    async fn forward_settle(
        &self,
        name: &str,
        owner: &str,
        settled: Vec<(i64, Attempt, Settle)>,
    ) -> StoreResult<()> {
        self.inner.forward_settle(name, owner, settled).await
    }
    async fn forward_messages(
        &self,
        name: &str,
        state: Option<&str>,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<OutRecord>> {
        self.inner
            .forward_messages(name, state, before_seq, limit)
            .await
    }
    async fn forward_requeue(&self, name: &str, which: Requeue) -> StoreResult<u64> {
        self.inner.forward_requeue(name, which).await
    }
    async fn forward_set_state(
        &self,
        name: &str,
        state: &str,
        error: Option<String>,
    ) -> StoreResult<()> {
        self.inner.forward_set_state(name, state, error).await
    }
    async fn forward_counts(&self, name: &str) -> StoreResult<(i64, i64)> {
        self.inner.forward_counts(name).await
    }
    async fn stats(&self, quiet_before_ms: i64) -> StoreResult<StoreStats> {
        self.inner.stats(quiet_before_ms).await
    }
    async fn activity(&self, since_ms: i64) -> StoreResult<ncsd::store::Activity> {
        self.inner.activity(since_ms).await
    }
    async fn meta_get(&self, key: &str) -> StoreResult<Option<String>> {
        self.inner.meta_get(key).await
    }
    async fn meta_set(&self, key: &str, value: &str) -> StoreResult<()> {
        self.inner.meta_set(key, value).await
    }
    async fn quiet_sessions(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<SessionRow>> {
        self.inner.quiet_sessions(from_ms, to_ms, limit).await
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
    let Cli { cfg, journal } = Cli::parse();
    let runtime = match ncsd::cli::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cfg, journal)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cfg: ServeConfig, journal: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let inner = open(&cfg.database_url).await?;
    let journal = journal.as_deref().map(spawn_journal).transpose()?;
    let store: DynStore = Arc::new(WithoutIngest {
        inner,
        next_seq: AtomicI64::new(0),
        journal,
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    eprintln!(
        "ncsd-nostore on http://{}: ingest is NOT stored",
        cfg.listen
    );
    // Runs until killed; the benchmark stops it with SIGTERM.
    ncsd::server::run(cfg, store, listener, None, CancellationToken::new()).await
}
