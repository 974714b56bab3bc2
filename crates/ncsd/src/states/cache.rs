//! Folded session states, kept as the JSON they were answered with.
//!
//! Folding a session reads and parses every one of its events (about 100 for a recording of
//! an hour), which is the whole cost of `GET /v1/sessions/{sid}`. The fold is pure, so its
//! answer can be kept as long as the session's event set is unchanged; the store's summary row
//! says when it changed (`last_seq` is the newest cursor of the session, bumped in the same
//! transaction that stores an event). A read therefore costs one summary-row look-up while the
//! session is unchanged, and a fold after it changed. Every instance sharing a database checks
//! the same row, so a cached answer is never older than what the database holds.
//!
//! With the JSON, the fold itself is kept (`Folding`), so a read after new events were stored
//! can carry it forward over just those events instead of refolding the session.
//!
//! Bounded by bytes (`--session-cache-mb`); least recently used states go first. The count is
//! of memory as measured, not of JSON length: a kept fold costs about seven times its JSON
//! (counted as eight, `FOLD_COST`), so the fold is kept only while the recording can still grow
//! (`worth_carrying`); a finished one keeps just its answer.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lru::LruCache;

use crate::session::Folding;
use crate::summary::Phase;

/// Memory of a kept fold per byte of its JSON. Measured with 10,000 kept sessions of 100
/// events (`bench/run.sh`, anonymous memory with and without them): about 7 KiB each, for
/// about 1 KiB of JSON.
const FOLD_COST: usize = 8;
/// What one entry costs beyond its JSON: the sid, the LRU links, the counters.
const ENTRY_COST: usize = 128;

/// Whether to keep the fold of a session in this phase, to carry it forward later. A completed
/// or failed recording rarely gets another event (a late upload report, say), and when it does
/// a full fold answers it; keeping only its JSON costs an eighth of the memory.
pub fn worth_carrying(phase: Phase) -> bool {
    !matches!(phase, Phase::Completed | Phase::Failed)
}

pub struct SessionCache {
    budget: usize,
    inner: Mutex<Inner>,
}

struct Inner {
    states: LruCache<String, Kept>,
    bytes: usize,
}

/// What is kept for one sid.
#[derive(Clone)]
pub struct Kept {
    /// The newest cursor among the events the state was folded from.
    pub last_seq: i64,
    pub json: Bytes,
    pub folding: Option<Arc<Folding>>,
}

impl Kept {
    fn cost(&self) -> usize {
        let per_byte = if self.folding.is_some() { FOLD_COST } else { 1 };
        self.json.len() * per_byte + ENTRY_COST
    }
}

impl SessionCache {
    /// A cache holding at most `budget` bytes of JSON (0: keeps nothing).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Inner {
                states: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// Whatever is kept for `sid`, current or not (a stale fold can still be carried forward).
    pub fn kept(&self, sid: &str) -> Option<Kept> {
        self.lock().states.get(sid).cloned()
    }

    /// Keeps the state folded from the session's events up to `last_seq` (the newest cursor
    /// among them), and the fold when given. A fold older than the one kept is ignored (two
    /// reads may finish in either order).
    pub fn put(&self, sid: &str, last_seq: i64, json: Bytes, folding: Option<Arc<Folding>>) {
        let kept = Kept {
            last_seq,
            json,
            folding,
        };
        let added = kept.cost();
        if added > self.budget {
            return;
        }
        let mut inner = self.lock();
        if inner
            .states
            .peek(sid)
            .is_some_and(|old| old.last_seq > last_seq)
        {
            return;
        }
        if let Some(old) = inner.states.put(sid.to_owned(), kept) {
            inner.bytes -= old.cost();
        }
        inner.bytes += added;
        while inner.bytes > self.budget {
            match inner.states.pop_lru() {
                Some((_, e)) => inner.bytes -= e.cost(),
                None => break,
            }
        }
    }

    /// Forgets `sid` (its session was purged).
    pub fn forget(&self, sid: &str) {
        let mut inner = self.lock();
        if let Some(e) = inner.states.pop(sid) {
            inner.bytes -= e.cost();
        }
    }

    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Bytes that can still be kept before a state is pushed out.
    pub fn room(&self) -> usize {
        self.budget.saturating_sub(self.bytes())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SessionCache {
        /// The state kept for `sid`, if it was folded from the events up to exactly `last_seq`.
        fn get(&self, sid: &str, last_seq: i64) -> Option<Bytes> {
            self.kept(sid)
                .filter(|k| k.last_seq == last_seq)
                .map(|k| k.json)
        }
    }

    #[test]
    fn a_state_is_served_only_for_the_event_set_it_was_folded_from() {
        let c = SessionCache::new(1 << 20);
        c.put("s", 7, Bytes::from_static(b"{\"a\":1}"), None);
        assert_eq!(c.get("s", 7).as_deref(), Some(&b"{\"a\":1}"[..]));
        assert!(c.get("s", 8).is_none(), "a newer event makes it stale");
        assert!(c.get("other", 7).is_none());
        c.put("s", 8, Bytes::from_static(b"{\"a\":2}"), None);
        assert!(c.get("s", 7).is_none());
        assert_eq!(
            c.bytes(),
            7 + ENTRY_COST,
            "the replaced state is no longer counted"
        );
        c.put("s", 7, Bytes::from_static(b"{\"a\":0}"), None);
        assert_eq!(
            c.get("s", 8).as_deref(),
            Some(&b"{\"a\":2}"[..]),
            "a read that finished late does not replace a newer state"
        );
        c.forget("s");
        assert!(c.get("s", 8).is_none());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn the_byte_budget_evicts_the_least_recently_used() {
        let c = SessionCache::new(10 + 2 * ENTRY_COST);
        c.put("a", 1, Bytes::from_static(b"aaaa"), None);
        c.put("b", 1, Bytes::from_static(b"bbbb"), None);
        assert!(c.get("a", 1).is_some()); // a is now more recent than b
        c.put("c", 1, Bytes::from_static(b"cccc"), None);
        assert!(c.get("b", 1).is_none(), "b was least recently used");
        assert!(c.get("a", 1).is_some() && c.get("c", 1).is_some());
        assert!(c.bytes() <= 10 + 2 * ENTRY_COST);
        c.put("big", 1, Bytes::from(vec![b'x'; 11 + ENTRY_COST]), None);
        assert!(c.get("big", 1).is_none(), "larger than the whole budget");
        let off = SessionCache::new(0);
        off.put("a", 1, Bytes::from_static(b"a"), None);
        assert!(off.get("a", 1).is_none(), "0 disables the cache");
    }

    #[test]
    fn a_kept_fold_is_counted_at_what_it_costs() {
        let json = Bytes::from(vec![b' '; 1000]);
        let folding = Arc::new(Folding::new("s", &[]));
        let c = SessionCache::new(1 << 20);
        c.put("answer", 1, json.clone(), None);
        assert_eq!(c.bytes(), 1000 + ENTRY_COST);
        c.put("fold", 1, json.clone(), Some(folding.clone()));
        assert_eq!(c.bytes(), 1000 + ENTRY_COST + 1000 * FOLD_COST + ENTRY_COST);
        // A budget that holds eight answers holds one fold, not the four that counting a fold
        // as twice its JSON allowed.
        let c = SessionCache::new(8 * (1000 + ENTRY_COST));
        for sid in ["a", "b", "c"] {
            c.put(sid, 1, json.clone(), Some(folding.clone()));
        }
        assert!(c.bytes() <= 8 * (1000 + ENTRY_COST));
        assert!(c.get("c", 1).is_some() && c.get("a", 1).is_none() && c.get("b", 1).is_none());
    }

    #[test]
    fn only_a_recording_that_can_still_grow_keeps_its_fold() {
        assert!(!worth_carrying(Phase::Completed) && !worth_carrying(Phase::Failed));
        for live in [Phase::Starting, Phase::Recording, Phase::Uploading] {
            assert!(worth_carrying(live), "{live:?}");
        }
    }
}
