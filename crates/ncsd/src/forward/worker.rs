//! Each destination's two loops: the feeder (logs → outbox, cursors forward, one transaction)
//! and the sender (lease due messages, send, record the attempt and its outcome).

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use rand::Rng;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::config::{DestinationConfig, Start};
use super::message::{from_event, from_lifecycle};
use super::sink::Sink;
use crate::clock::now_ms;
use crate::store::{
    Attempt, DynStore, EventQuery, LifecycleQuery, OutMessage, Settle, StoreResult,
};

/// Events or lifecycle events read per feeder round.
const PAGE: i64 = 1000;
/// Least messages a sender round leases (more with a higher `concurrency`): each round waits for
/// two commits (the lease, then the outcomes), so a backlog drains faster in bigger rounds.
const CLAIM_AT_LEAST: usize = 512;
/// Even without a wake-up, look again this often.
const POLL: Duration = Duration::from_millis(500);

/// Start every destination's loops on a runtime of their own, whose threads run at `nice`
/// (`--forward-nice`): when ingest and forwarding both want the CPUs, ingest, which NCS waits
/// on, goes first, and forwarding catches up from its durable cursors. The one handle returned
/// ends when every loop has stopped after `shutdown` fires (await it before closing the store:
/// a round in progress finishes first).
pub fn spawn(
    store: DynStore,
    destinations: Vec<DestinationConfig>,
    nice: i32,
    shutdown: CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    if destinations.is_empty() {
        return Vec::new();
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("ncsd-forward")
        .on_thread_start(move || crate::priority::set_current_thread_nice(nice, "forwarding"))
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the forwarding runtime; forwarding runs beside ingest");
            return start(store, destinations, shutdown);
        }
    };
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("ncsd-forward-main".into())
        .spawn(move || {
            runtime.block_on(async move {
                futures::future::join_all(start(store, destinations, shutdown)).await;
            });
            // Dropping a runtime inside another's context panics, so here, on a plain thread.
            drop(runtime);
            let _ = done.send(());
        })
        .map(|_| {
            vec![tokio::spawn(async move {
                let _ = finished.await;
            })]
        })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot start the forwarding thread");
            Vec::new()
        })
}

/// Every destination's feeder and sender, on the current runtime.
fn start(
    store: DynStore,
    destinations: Vec<DestinationConfig>,
    shutdown: CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let owner = format!("ncsd-{}", uuid::Uuid::new_v4().simple());
    let mut handles = Vec::new();
    for d in destinations {
        let hook = match Sink::new(&d) {
            Ok(h) => Arc::new(h),
            Err(e) => {
                tracing::error!(destination = %d.name, error = %e, "destination not started");
                continue;
            }
        };
        let d = Arc::new(d);
        let fed = Arc::new(Notify::new());
        handles.push(tokio::spawn(feed_loop(
            store.clone(),
            d.clone(),
            fed.clone(),
            shutdown.clone(),
        )));
        handles.push(tokio::spawn(send_loop(
            store.clone(),
            d,
            hook,
            owner.clone(),
            fed,
            shutdown.clone(),
        )));
    }
    handles
}

/// Where a new destination starts in the event and lifecycle logs.
pub async fn start_cursors(store: &DynStore, d: &DestinationConfig) -> StoreResult<(i64, i64)> {
    match d.start().unwrap_or(Start::Now) {
        Start::Now => Ok((store.latest_seq().await?, store.latest_lifecycle().await?)),
        // A time: from the beginning, with older messages skipped by the feeder.
        Start::Beginning | Start::At(_) => Ok((0, 0)),
    }
}

async fn feed_loop(
    store: DynStore,
    d: Arc<DestinationConfig>,
    fed: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut wake = store.subscribe();
    let takes_ncs = d.takes_ncs_events();
    loop {
        crate::store::pressure::step_aside(store.as_ref()).await;
        match feed_round(&store, &d, takes_ncs).await {
            Ok(n) if n > 0 => {
                fed.notify_one();
                // More may wait: go on, unless ncsd is stopping (the cursors resume it).
                if shutdown.is_cancelled() {
                    return;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(destination = %d.name, error = %e, "forwarding: cannot read or enqueue; retrying")
            }
        }
        tokio::select! {
            _ = wake.recv() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// One feeder round: returns how many log entries it moved past (0: caught up). Without
/// `takes_ncs`, the event log is not read: its cursor moves to the newest event whenever
/// lifecycle events are enqueued.
async fn feed_round(
    store: &DynStore,
    d: &DestinationConfig,
    takes_ncs: bool,
) -> StoreResult<usize> {
    let row = match store.forward_destination(&d.name).await? {
        Some(r) => r,
        None => {
            let (e, l) = start_cursors(store, d).await?;
            store.forward_open(&d.name, e, l).await?
        }
    };
    let not_before = match d.start().unwrap_or(Start::Now) {
        Start::At(t) => t,
        _ => i64::MIN,
    };
    let events = if takes_ncs {
        store
            .events(&EventQuery {
                after: row.event_cursor,
                limit: PAGE,
                ..Default::default()
            })
            .await?
    } else {
        Vec::new()
    };
    let lifecycle = store
        .lifecycle(&LifecycleQuery {
            after_seq: row.lifecycle_cursor,
            limit: PAGE,
            ..Default::default()
        })
        .await?;
    if events.is_empty() && lifecycle.is_empty() {
        return Ok(0);
    }
    let mut messages: Vec<OutMessage> = Vec::new();
    for e in &events {
        // The type is checked before the message is built (that parses the body).
        let wanted = d.wants(
            &format!("ncs.{}", e.event_type),
            e.cname.as_deref(),
            &e.project,
        );
        if e.received_at_ms < not_before || !wanted {
            continue;
        }
        if let Some(m) = from_event(e) {
            messages.push(m);
        }
    }
    for r in &lifecycle {
        if r.recorded_at_ms >= not_before && d.wants(&r.kind, r.cname.as_deref(), &r.project) {
            messages.push(from_lifecycle(r));
        }
    }
    let event_cursor = match events.last() {
        Some(e) => e.seq,
        None if !takes_ncs => store.latest_seq().await?.max(row.event_cursor),
        None => row.event_cursor,
    };
    let cursors = (
        event_cursor,
        lifecycle.last().map_or(row.lifecycle_cursor, |r| r.seq),
    );
    store
        .forward_enqueue(&d.name, messages, Some(cursors), false)
        .await?;
    Ok(events.len() + lifecycle.len())
}

async fn send_loop(
    store: DynStore,
    d: Arc<DestinationConfig>,
    hook: Arc<Sink>,
    owner: String,
    fed: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let schedule = d.retry_schedule().unwrap_or_default();
    let timeout = d.timeout().unwrap_or(Duration::from_secs(15));
    loop {
        crate::store::pressure::step_aside(store.as_ref()).await;
        let sent = match send_round(&store, &d, &hook, &owner, &schedule, timeout).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(destination = %d.name, error = %e, "forwarding: store unavailable; retrying");
                0
            }
        };
        if sent > 0 {
            if shutdown.is_cancelled() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = fed.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// One sender round: lease due messages and send them, `concurrency` at a time. Returns how
/// many were attempted.
async fn send_round(
    store: &DynStore,
    d: &DestinationConfig,
    hook: &Sink,
    owner: &str,
    schedule: &[Duration],
    timeout: Duration,
) -> StoreResult<usize> {
    if store
        .forward_destination(&d.name)
        .await?
        .is_some_and(|r| r.state == "disabled")
    {
        return Ok(0);
    }
    let now = now_ms();
    // The lease outlives the attempt (timeout) with room to record it; an instance that dies
    // holding it frees the message when it runs out.
    let lease_until = now + 2 * timeout.as_millis() as i64 + 5_000;
    let batch = store
        .forward_claim(
            &d.name,
            owner,
            now,
            lease_until,
            (d.concurrency * 4).max(CLAIM_AT_LEAST) as i64,
            d.ordered,
        )
        .await?;
    let n = batch.len();
    let settled: Vec<(i64, Attempt, Settle)> = stream::iter(batch)
        .map(|m| async move {
            let span = tracing::debug_span!("forward", destination = %d.name, id = %m.id, attempt = m.attempts + 1);
            let sent = tracing::Instrument::instrument(hook.send(&m.id, &m.body), span).await;
            let at = now_ms();
            let attempt = Attempt {
                at_ms: at,
                status: sent.status.map(i64::from),
                error: sent.error.clone(),
                latency_ms: sent.latency.as_millis() as i64,
            };
            let outcome = match sent.status {
                None if sent.error.is_none() => Settle::Delivered,
                Some(s) if (200..300).contains(&s) => Settle::Delivered,
                Some(410) => Settle::Disable,
                _ => match schedule.get(m.attempts as usize) {
                    None => Settle::Failed,
                    Some(delay) => {
                        let wait = sent.retry_after.unwrap_or_else(|| jitter(*delay));
                        Settle::Retry {
                            next_attempt_ms: at + wait.as_millis() as i64,
                        }
                    }
                },
            };
            metrics::histogram!("ncsd_forward_seconds", "destination" => d.name.clone())
                .record(sent.latency.as_secs_f64());
            let result = match outcome {
                Settle::Delivered => "delivered",
                Settle::Failed => "failed",
                _ => "retried",
            };
            metrics::counter!(
                "ncsd_forward_messages_total",
                "destination" => d.name.clone(),
                "result" => result
            )
            .increment(1);
            if outcome == Settle::Disable {
                tracing::warn!(destination = %d.name, "the receiver answered 410 Gone: destination disabled");
            }
            (m.seq, attempt, outcome)
        })
        .buffer_unordered(d.concurrency)
        .collect()
        .await;
    // One write for the whole batch. If it fails, the leases run out and the messages are sent
    // again: at least once.
    if let Err(e) = store.forward_settle(&d.name, owner, settled).await {
        tracing::warn!(destination = %d.name, error = %e, "cannot record the attempts");
    }
    Ok(n)
}

/// ±20%, so retries of many messages do not arrive together.
fn jitter(d: Duration) -> Duration {
    let f = rand::rng().random_range(0.8..1.2);
    d.mul_f64(f)
}

/// Send history again: what the destination would have taken from the events received and the
/// lifecycle events recorded in `[since, until)`, made pending and due now. Returns how many.
pub async fn replay(
    store: &DynStore,
    d: &DestinationConfig,
    since: i64,
    until: i64,
) -> StoreResult<u64> {
    let mut total = 0;
    let mut after = 0;
    loop {
        let events = store
            .events(&EventQuery {
                after,
                limit: PAGE,
                since: Some(since),
                ..Default::default()
            })
            .await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            break;
        };
        after = last;
        let messages: Vec<OutMessage> = events
            .iter()
            .filter(|e| e.received_at_ms < until)
            .filter_map(|e| {
                from_event(e).filter(|m| d.wants(&m.kind, e.cname.as_deref(), &e.project))
            })
            .collect();
        total += store.forward_enqueue(&d.name, messages, None, true).await?;
    }
    let mut after = 0;
    loop {
        let rows = store
            .lifecycle(&LifecycleQuery {
                after_seq: after,
                limit: PAGE,
                ..Default::default()
            })
            .await?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        after = last;
        let messages: Vec<OutMessage> = rows
            .iter()
            .filter(|r| (since..until).contains(&r.recorded_at_ms))
            .filter(|r| d.wants(&r.kind, r.cname.as_deref(), &r.project))
            .map(from_lifecycle)
            .collect();
        total += store.forward_enqueue(&d.name, messages, None, true).await?;
    }
    Ok(total)
}
