//! The state keeper: one background follower of the event log that keeps every recording's
//! folded state in the store. Each round reads the events stored after its cursor (commit
//! order), folds each session they touch, and writes those sessions' states with the new cursor
//! (`Store::keep_states`). After a crash it starts again from the kept cursor; a state written
//! twice is the same state.
//!
//! A session touched again while its fold is held in memory is carried forward over its new
//! events, taken from the round's batch (`Folding::extend`: a recording reporting in sequence
//! order); otherwise, and for an event that sorts before one already folded, every stored event
//! of the session is read and folded again.
//! Under load, rounds start at most every `PACE`, so a busy session's state is written about
//! once per `PACE`, not once per event.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{fold_all, format::format, to_json};
use crate::session::{stored_event, Folding, StoredEvent};
use crate::store::{DynStore, EventQuery, EventRecord, KeptState, StatesProgress, StoreResult};

/// Most events read per round (a backlog, such as the whole store after an upgrade that
/// changed the answers, is taken this many at a time).
const BATCH: i64 = 20_000;
/// Least time between the starts of two rounds, unless a backlog waits.
const PACE: Duration = Duration::from_millis(500);
/// Most folds held in memory to carry forward; the least recently touched go first.
const HELD: usize = 4096;
/// Most sessions whose folded position is remembered without a fold (about 60 bytes each).
const POSITIONS: usize = 200_000;
/// A session not touched for this long is forgotten: it is folded from the store when it next
/// reports, so what is held never outlives a purge of the session (unless `--retain` is set
/// shorter than this, which would purge recordings while they report).
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

/// States written per store call (SQLite runs each with ingest's transaction, so it stays small).
const CHUNK: usize = 64;

/// Start the keeper; it stops when `shutdown` fires (await the handle before closing the store:
/// a round in progress finishes first).
pub fn spawn(store: DynStore, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut keeper = Keeper::new(store.clone());
        let mut wake = store.subscribe();
        loop {
            crate::store::pressure::step_aside(store.as_ref()).await;
            let started = Instant::now();
            let more = match keeper.round().await {
                Ok(more) => more,
                Err(e) => {
                    tracing::warn!(error = %e, "session states: cannot read or keep; retrying");
                    false
                }
            };
            if !more {
                tokio::select! {
                    _ = wake.recv() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => return,
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(started + PACE) => {}
                    _ = shutdown.cancelled() => return,
                }
            } else if shutdown.is_cancelled() {
                return;
            }
        }
    })
}

/// A session's fold as of cursor `seq`; the fold itself only while the recording is unfinished
/// (a finished one rarely changes again, and then is folded from the store).
struct Held {
    seq: i64,
    folding: Option<Folding>,
    touched: Instant,
}

pub struct Keeper {
    store: DynStore,
    /// None until the kept progress was read.
    cursor: Option<i64>,
    held: HashMap<String, Held>,
}

impl Keeper {
    pub fn new(store: DynStore) -> Self {
        Keeper {
            store,
            cursor: None,
            held: HashMap::new(),
        }
    }

    /// One round: keeps the states of the sessions touched by the next events; returns whether
    /// more events wait.
    pub async fn round(&mut self) -> StoreResult<bool> {
        let cursor = match self.cursor {
            Some(c) => c,
            // Kept by a build that answers differently: every state is written again.
            None => match self.store.states_progress().await? {
                Some(p) if p.format == format() => p.cursor,
                _ => 0,
            },
        };
        self.cursor = Some(cursor);
        let query = EventQuery {
            after: cursor,
            limit: BATCH,
            product_id: Some(3),
            ..EventQuery::default()
        };
        let batch = self.store.events(&query).await?;
        let Some(to) = batch.last().map(|e| e.seq) else {
            return Ok(false);
        };
        // Each touched recording's new events, in commit order.
        let mut touched: BTreeMap<&str, Vec<&EventRecord>> = BTreeMap::new();
        for e in &batch {
            if let Some(sid) = e.sid.as_deref() {
                touched.entry(sid).or_default().push(e);
            }
        }
        let mut states = Vec::new();
        let now = Instant::now();
        for (sid, new) in touched {
            let Some((seq, folding)) = self.fold(sid, &new).await? else {
                continue; // folded past these events already, or purged meanwhile
            };
            let state = folding.state();
            states.push(KeptState {
                sid: sid.to_string(),
                last_seq: seq,
                format: format().to_string(),
                json: to_json(&state)?.to_vec(),
            });
            let folding = (!state.phase.is_terminal()).then_some(folding);
            self.held.insert(
                sid.to_string(),
                Held {
                    seq,
                    folding,
                    touched: now,
                },
            );
        }
        // In chunks, the progress with the last (alone when no state changed).
        let mut rest = states;
        loop {
            let chunk: Vec<KeptState> = rest.drain(..rest.len().min(CHUNK)).collect();
            let progress = rest.is_empty().then(|| StatesProgress {
                cursor: to,
                format: format().to_string(),
            });
            let last = progress.is_some();
            self.store.keep_states(chunk, progress).await?;
            if last {
                break;
            }
        }
        self.cursor = Some(to);
        self.forget_oldest();
        Ok(batch.len() as i64 == BATCH)
    }

    /// The session's fold over `new` (its events in this round's batch): the held fold carried
    /// over those it has not folded yet when it can be, else every stored event of the session
    /// folded. None when the held fold already covers them all (a fold from the store can run
    /// ahead of the batch), or the session has no events left.
    async fn fold(
        &mut self,
        sid: &str,
        new: &[&EventRecord],
    ) -> StoreResult<Option<(i64, Folding)>> {
        if let Some(held) = self.held.remove(sid) {
            let unseen: Vec<&&EventRecord> = new.iter().filter(|e| e.seq > held.seq).collect();
            let Some(newest) = unseen.iter().map(|e| e.seq).max() else {
                self.held.insert(sid.to_string(), held);
                return Ok(None);
            };
            if let Some(mut folding) = held.folding {
                let events: Vec<StoredEvent> =
                    unseen.iter().filter_map(|e| stored_event(e)).collect();
                if folding.extend(&events) {
                    return Ok(Some((newest, folding)));
                }
            }
        }
        fold_all(&self.store, sid).await
    }

    /// Forgets sessions not touched for `FORGET_AFTER`; keeps at most `HELD` folds, the most
    /// recently touched, and at most `POSITIONS` sessions' positions (a fold from the store can
    /// run ahead of the log; its position spares folding it again when the keeper reaches those
    /// events, as after an upgrade).
    fn forget_oldest(&mut self) {
        self.held.retain(|_, h| h.touched.elapsed() < FORGET_AFTER);
        let mut folds: Vec<(Instant, &String)> = self
            .held
            .iter()
            .filter(|(_, h)| h.folding.is_some())
            .map(|(sid, h)| (h.touched, sid))
            .collect();
        if folds.len() > HELD {
            folds.sort_unstable_by(|a, b| b.cmp(a));
            let dropped: Vec<String> = folds[HELD..]
                .iter()
                .map(|(_, sid)| (*sid).clone())
                .collect();
            for sid in dropped {
                if let Some(h) = self.held.get_mut(&sid) {
                    h.folding = None;
                }
            }
        }
        if self.held.len() > POSITIONS {
            self.held.retain(|_, h| h.folding.is_some());
        }
    }
}
