//! The background work that records lifecycle events: it reads stored events after its cursor,
//! in commit order, knows each touched session's merged evidence before each new event, and
//! records what `transitions` says, with the new cursor, in one write. After a crash it starts
//! again from the stored cursor; anything recorded twice is ignored by the store.
//!
//! A session's merged evidence is replayed from its stored history the first time a round
//! meets it, then held in memory while the cursor moves on from round to round (`Held`): under
//! heavy ingest, replaying every touched session's whole history each round cost more than the
//! rest of the work together.
//!
//! A second loop records `recording.stalled` for recordings that went quiet.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::rules::Merged;
use super::{message, transitions, Kind, Transition};
use crate::clock::now_ms;
use crate::session::{fold, stored_event, StoredEvent};
use crate::store::{DynStore, Evidence, NewLifecycle, StoreResult};

/// Events read per round.
const BATCH: i64 = 1000;
/// Sessions looked at per stall-sweep query.
const SWEEP_PAGE: i64 = 1000;
/// Even without a wake-up, look again this often (covers a missed notification).
const POLL: Duration = Duration::from_secs(1);
/// Most sessions whose merged evidence is held; beyond, the memory starts afresh.
const HELD: usize = 100_000;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// A recording with no delivery for this long (and not finished) is stalled.
    pub stall_after: Duration,
}

/// Start both loops; they stop when `shutdown` fires (await the handles before closing the
/// store: a round in progress finishes first).
pub fn spawn(
    store: DynStore,
    settings: Settings,
    shutdown: CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(derive_loop(store.clone(), shutdown.clone())),
        tokio::spawn(stall_loop(store, settings, shutdown)),
    ]
}

async fn derive_loop(store: DynStore, shutdown: CancellationToken) {
    let mut wake = store.subscribe();
    let mut held = Held::default();
    loop {
        crate::store::pressure::step_aside(store.as_ref()).await;
        match derive_with(&store, &mut held).await {
            // More wait: go on, unless ncsd is stopping (it resumes from the cursor).
            Ok(true) if shutdown.is_cancelled() => return,
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle events: cannot read or record; retrying")
            }
        }
        tokio::select! {
            _ = wake.recv() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Sessions' merged evidence as of the events up to cursor `at`; `at` is None (and nothing
/// held is used) until a round has been recorded, so a failed round, or another instance moving
/// the cursor, makes the next round replay from the store.
#[derive(Default)]
pub struct Held {
    at: Option<i64>,
    merged: HashMap<String, Merged>,
}

/// One round with nothing held: returns whether more events wait.
pub async fn derive_round(store: &DynStore) -> StoreResult<bool> {
    derive_with(store, &mut Held::default()).await
}

/// One round: returns whether more events wait.
pub async fn derive_with(store: &DynStore, held: &mut Held) -> StoreResult<bool> {
    let cursor = store.lifecycle_cursor().await?;
    if held.at.take() != Some(cursor) {
        held.merged.clear();
    }
    let batch = store.evidence_after(cursor, BATCH).await?;
    let Some(to) = batch.last().map(|e| e.seq) else {
        held.at = Some(cursor);
        return Ok(false);
    };
    // Each touched recording's new events, in commit order.
    let mut new: BTreeMap<&str, Vec<&Evidence>> = BTreeMap::new();
    for e in batch.iter().filter(|e| e.product_id == 3) {
        if let Some(sid) = e.sid.as_deref() {
            new.entry(sid).or_default().push(e);
        }
    }
    let mut records = Vec::new();
    for (sid, events) in new {
        let mut merged = match held.merged.get(sid) {
            Some(m) => *m,
            None => store
                .session_evidence(sid, cursor)
                .await?
                .iter()
                .fold(Merged::default(), |m, e| m.with(e)),
        };
        let mut found: Vec<(Transition, &Evidence)> = Vec::new();
        for e in events {
            found.extend(transitions(merged, e).into_iter().map(|t| (t, e)));
            merged = merged.with(e);
        }
        held.merged.insert(sid.to_string(), merged);
        if found.is_empty() {
            continue;
        }
        let session = snapshot(store, sid).await?;
        let now = now_ms();
        for (t, cause) in found {
            records.push(new_record(sid, &t, Some(cause), session.clone(), now));
        }
    }
    store.record_lifecycle(records, Some(to)).await?;
    if held.merged.len() <= HELD {
        held.at = Some(to);
    }
    Ok(batch.len() as i64 == BATCH)
}

async fn stall_loop(store: DynStore, settings: Settings, shutdown: CancellationToken) {
    // Sweeping every half window finds a quiet recording within 1.5 windows of its last
    // delivery; each sweep reads only the sessions that went quiet since the last one.
    let every = (settings.stall_after / 2).max(Duration::from_millis(100));
    let mut from_ms = 0;
    loop {
        match sweep(&store, settings.stall_after, from_ms).await {
            Ok(next) => from_ms = next,
            Err(e) => tracing::warn!(error = %e, "stall sweep failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Records `recording.stalled` for every unfinished session last active in
/// `[from_ms, now - stall_after)`; returns where the next sweep starts.
pub async fn sweep(store: &DynStore, stall_after: Duration, from_ms: i64) -> StoreResult<i64> {
    let to_ms = now_ms() - stall_after.as_millis() as i64;
    let mut from = from_ms;
    loop {
        let page = store.quiet_sessions(from, to_ms, SWEEP_PAGE).await?;
        let mut records = Vec::new();
        for row in &page {
            let phase = crate::summary::phase(row.flags, row.exit_key);
            if phase.is_terminal() {
                continue;
            }
            let t = Transition {
                kind: Kind::Stalled,
                previous_phase: phase,
                phase,
            };
            let session = snapshot(store, &row.sid).await?;
            records.push(new_record(&row.sid, &t, None, session, now_ms()));
        }
        if !records.is_empty() {
            store.record_lifecycle(records, None).await?;
        }
        match page.last() {
            // A full page: the rest may share its last time, so start there (the repeats are
            // ignored by the store).
            Some(last) if page.len() as i64 == SWEEP_PAGE && last.last_activity_ms > from => {
                from = last.last_activity_ms;
            }
            _ => return Ok(to_ms.max(from_ms)),
        }
    }
}

/// The session's state now, as `GET /v1/sessions/{sid}` shows it.
async fn snapshot(store: &DynStore, sid: &str) -> StoreResult<Value> {
    let records = store.session_events(sid).await?;
    let events: Vec<StoredEvent> = records.iter().filter_map(stored_event).collect();
    Ok(serde_json::to_value(fold(sid, &events)).unwrap_or(Value::Null))
}

fn new_record(
    sid: &str,
    t: &Transition,
    cause: Option<&Evidence>,
    session: Value,
    now: i64,
) -> NewLifecycle {
    let cname = session
        .get("cname")
        .and_then(Value::as_str)
        .map(str::to_string);
    let msg = message(sid, t, cause, session, now);
    NewLifecycle {
        id: super::lifecycle_id(sid, t.kind),
        sid: sid.to_string(),
        kind: t.kind.as_str().to_string(),
        cname,
        recorded_at_ms: now,
        message: msg.to_string(),
    }
}
