//! Whether deliveries are queueing for the store's writer: background work that writes
//! (forwarding, lifecycle events, session states) asks, and steps aside for a moment while they
//! are, since NCS waits on each delivery's answer and that work catches up from its durable
//! cursors afterwards.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::Store;
use crate::clock::now_ms;

/// Deliveries in one commit from which the writer counts as saturated: with fewer, each waits
/// at most a commit or two. Rates where this many wait at once (thousands a second) are
/// bursts; a recording reports a few events a minute.
pub const QUEUED: usize = 16;
/// How long one saturated commit keeps the pressure on.
const HOLD_MS: i64 = 250;
/// Longest a round of background work steps aside, so it still makes a round a second while a
/// burst lasts; and how often it looks again meanwhile.
const STEP_ASIDE_AT_MOST: Duration = Duration::from_secs(1);
const LOOK_AGAIN: Duration = Duration::from_millis(50);

/// Waits while deliveries queue for `store`'s writer, at most `STEP_ASIDE_AT_MOST`: called by
/// background work (forwarding, lifecycle events, session states) before each round, since each
/// round's writes go through that writer and NCS waits on every delivery's answer, while the
/// background work resumes from its durable cursor once the burst is over.
pub async fn step_aside(store: &dyn Store) {
    let mut waited = Duration::ZERO;
    while waited < STEP_ASIDE_AT_MOST && store.ingest_pressure() {
        tokio::time::sleep(LOOK_AGAIN).await;
        waited += LOOK_AGAIN;
    }
}

/// Shared between a writer, which records each commit's deliveries, and whoever asks.
#[derive(Clone, Default)]
pub struct Pressure(Arc<AtomicI64>);

impl Pressure {
    /// A commit of `deliveries` deliveries was made.
    pub fn record(&self, deliveries: usize) {
        if deliveries >= QUEUED {
            self.0.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// Deliveries were queueing within the last `HOLD_MS`.
    pub fn high(&self) -> bool {
        now_ms() - self.0.load(Ordering::Relaxed) < HOLD_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_commit_raises_it_and_it_falls_by_itself() {
        let p = Pressure::default();
        assert!(!p.high());
        p.record(QUEUED - 1);
        assert!(!p.high(), "a commit of a few deliveries is not pressure");
        p.record(QUEUED);
        assert!(p.high());
        std::thread::sleep(std::time::Duration::from_millis(HOLD_MS as u64 + 20));
        assert!(!p.high(), "it falls once commits are small again");
    }
}
