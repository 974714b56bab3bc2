//! Keeping the session cache warm (`--session-cache-warm`, on by default).
//!
//! A session read that finds no current kept state folds all the session's events: about 8
//! times the cost of a kept one (docs/performance.md). That happens to every session after a
//! restart (the cache starts empty) and to every session that received events since it was
//! last read. The sessions read first are, on a dashboard, the most recently active ones; so
//! ncsd folds those into the cache in the background, newest first: at start-up, and again
//! whenever ingest has been quiet for a moment after storing events (`QUIET`), then only the
//! sessions active since the last pass.
//!
//! Each fold goes through `SessionStates::current`, exactly as a read would, so a warmed state
//! is checked against the store like any kept one and never hides a newer event. The work is
//! one session at a time, and it pauses as long as it worked, so warming takes at most half of
//! one CPU from the requests that arrive meanwhile. The pauses come once the work owed passes
//! `PAUSE`, not after each session: a finished recording whose answer is kept in the store
//! costs a tenth of a millisecond, and a pause per session (a timer sleeps at least 1 ms)
//! made warming 10,000 of them take 21–24 s instead of a few (docs/performance.md).

use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;

use tokio_util::sync::CancellationToken;

use super::SessionStates;
use crate::clock::now_ms;
use crate::store::SessionQuery;

/// Sessions listed per store query.
const PAGE: i64 = 256;
/// Work done (and so the pause owed) before warming sleeps; then it sleeps as long as it worked.
const PAUSE: Duration = Duration::from_millis(5);
/// How long ingest must have stored nothing before the sessions it changed are warmed again.
const QUIET: Duration = Duration::from_secs(2);
/// Folds in a row that the cache could not keep (each larger than its whole budget) after which
/// a pass gives up: the sessions after them are older, and most likely as large.
pub const MISFITS: usize = 8;
/// A delivery's activity time is taken when its request starts, and it may commit up to the
/// request deadline later: a pass looks this far back before the previous one started.
const OVERLAP_MS: i64 = 60_000;

/// Folds the sessions active since `since` (ms; all with None) into the cache, most recently
/// active first. It stops when the cache is full, rather than push a kept state out for an
/// older session; a session already kept is refreshed even then (that costs no room). It also
/// stops after `MISFITS` folds in a row that were too large to keep at all, so a budget smaller
/// than every session does not cost a fold of each. Returns how many it folded. Once its folds
/// have taken `pause` or more since it last slept, it sleeps that long (zero: never, for tests).
pub async fn warm(
    st: &SessionStates,
    shutdown: &CancellationToken,
    since: Option<i64>,
    pause: Duration,
) -> anyhow::Result<usize> {
    let cache = &st.cache;
    let (mut warmed, mut largest, mut misfits) = (0, 0, 0);
    let mut pacer = Pacer::new(pause);
    let mut cursor = None;
    loop {
        let page = st
            .store
            .sessions(&SessionQuery {
                since,
                limit: PAGE,
                cursor: cursor.take(),
                ..Default::default()
            })
            .await?;
        for row in &page {
            if shutdown.is_cancelled() {
                return Ok(warmed);
            }
            if cache.room() < largest && cache.kept(&row.sid).is_none() {
                return Ok(warmed);
            }
            let (before, started) = (cache.bytes(), Instant::now());
            st.current(&row.sid).await?;
            largest = largest.max(cache.bytes().saturating_sub(before));
            warmed += 1;
            misfits = if cache.kept(&row.sid).is_some() {
                0
            } else {
                misfits + 1
            };
            if misfits == MISFITS {
                tracing::debug!(
                    warmed,
                    "warming stopped: sessions too large for the cache budget"
                );
                return Ok(warmed);
            }
            if let Some(rest) = pacer.worked(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                cursor = Some((last.last_activity_ms, last.sid.clone()));
            }
            _ => return Ok(warmed),
        }
    }
}

/// Half of one CPU at most: work is counted, and once `pause` of it is owed, a sleep as long.
struct Pacer {
    pause: Duration,
    owed: Duration,
}

impl Pacer {
    fn new(pause: Duration) -> Self {
        Self {
            pause,
            owed: Duration::ZERO,
        }
    }

    /// Records `took` of work; returns the sleep due now, if any (never with a zero `pause`).
    fn worked(&mut self, took: Duration) -> Option<Duration> {
        self.owed += took;
        (!self.pause.is_zero() && self.owed >= self.pause).then(|| std::mem::take(&mut self.owed))
    }
}

/// Warms the cache in the background: once at start-up, then after each burst of ingest.
pub fn spawn(st: SessionStates, shutdown: CancellationToken) {
    spawn_with(st, shutdown, PAUSE, QUIET);
}

/// `spawn` with its pause and quiet time given (tests use short ones).
pub fn spawn_with(
    st: SessionStates,
    shutdown: CancellationToken,
    pause: Duration,
    quiet: Duration,
) {
    if st.cache.room() == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut stored = st.store.subscribe();
        let mut since = None;
        loop {
            let (started, started_ms) = (Instant::now(), now_ms());
            match warm(&st, &shutdown, since, pause).await {
                Ok(n) if since.is_none() => tracing::info!(
                    sessions = n,
                    mib = st.cache.bytes() >> 20,
                    seconds = started.elapsed().as_secs_f32(),
                    "session cache warmed with the most recently active sessions"
                ),
                Ok(n) => tracing::debug!(sessions = n, "session cache warmed again after ingest"),
                Err(e) => tracing::warn!(error = %e, "warming the session cache failed"),
            }
            since = Some(started_ms - OVERLAP_MS);
            if !quiet_after_ingest(&shutdown, &mut stored, quiet).await {
                return;
            }
        }
    });
}

/// Waits until events were stored and then nothing for `quiet`; false when ncsd is stopping.
async fn quiet_after_ingest(
    shutdown: &CancellationToken,
    stored: &mut tokio::sync::broadcast::Receiver<i64>,
    quiet: Duration,
) -> bool {
    let mut seen = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            got = stored.recv() => match got {
                Ok(_) | Err(RecvError::Lagged(_)) => seen = true,
                Err(RecvError::Closed) => return false,
            },
            _ = tokio::time::sleep(quiet), if seen => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_sleeps_as_long_as_it_worked_once_a_pause_is_owed() {
        let ms = Duration::from_millis;
        let mut p = Pacer::new(ms(5));
        // Cheap sessions (a kept answer) run back to back...
        for _ in 0..4 {
            assert_eq!(p.worked(ms(1)), None);
        }
        // ...until the pause is owed: then one sleep as long as all that work.
        assert_eq!(p.worked(ms(2)), Some(ms(6)));
        assert_eq!(p.worked(ms(1)), None, "the debt starts over after a sleep");
        // One long fold pays its own pause at once.
        assert_eq!(p.worked(ms(30)), Some(ms(31)));
        let mut never = Pacer::new(Duration::ZERO);
        assert_eq!(never.worked(ms(100)), None);
    }
}
