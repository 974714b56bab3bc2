//! Warming the session cache at start-up (`--session-cache-warm`, on by default).
//!
//! After a restart the cache is empty, so the first read of every session folds all its events:
//! about 8 times the cost of a kept one (README, Performance). The sessions read first after a
//! restart are, on a dashboard, the most recently active ones; so ncsd folds those into the
//! cache in the background, newest first, until the cache is full or every session is kept.
//!
//! Each fold goes through `sessions::current_json`, exactly as a read would, so a warmed state
//! is checked against the store like any kept one and never hides a newer event. The work is
//! one session at a time, each followed by a pause at least as long as it took, so warming
//! takes at most half of one CPU from the requests that arrive meanwhile. (Measured: 10,000
//! recordings of 100 events in 26 s, README, Performance.)

use std::time::{Duration, Instant};

use super::sessions::current_json;
use super::AppState;
use crate::store::SessionQuery;

/// Sessions listed per store query.
const PAGE: i64 = 256;
/// Shortest pause after each fold (it is at least as long as the fold took).
const PAUSE: Duration = Duration::from_millis(1);

/// Folds the most recently active sessions into the cache until it is full (no kept state is
/// pushed out for an older one) or all are kept; returns how many it folded. After each fold it
/// sleeps as long as the fold took, and at least `pause` (zero: no sleep, for tests).
pub async fn warm(st: &AppState, pause: Duration) -> anyhow::Result<usize> {
    let cache = &st.session_cache;
    let (mut warmed, mut largest) = (0, 0);
    let mut cursor = None;
    loop {
        let page = st
            .store
            .sessions(&SessionQuery {
                limit: PAGE,
                cursor: cursor.take(),
                ..Default::default()
            })
            .await?;
        for row in &page {
            if st.shutdown.is_cancelled() || cache.room() < largest {
                return Ok(warmed);
            }
            let (before, started) = (cache.bytes(), Instant::now());
            current_json(st, &row.sid)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            largest = largest.max(cache.bytes().saturating_sub(before));
            warmed += 1;
            if !pause.is_zero() {
                tokio::time::sleep(pause.max(started.elapsed())).await;
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

/// Runs `warm` in the background and logs what it did.
pub fn spawn(st: AppState) {
    if st.session_cache.room() == 0 {
        return;
    }
    tokio::spawn(async move {
        let started = Instant::now();
        match warm(&st, PAUSE).await {
            Ok(n) => tracing::info!(
                sessions = n,
                mib = st.session_cache.bytes() >> 20,
                seconds = started.elapsed().as_secs_f32(),
                "session cache warmed with the most recently active sessions"
            ),
            Err(e) => tracing::warn!(error = %e, "warming the session cache stopped"),
        }
    });
}
