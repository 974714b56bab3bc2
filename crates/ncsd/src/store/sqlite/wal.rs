//! Keeping the WAL small under continuous writes.
//!
//! SQLite starts the WAL over from its beginning only when a write transaction begins while
//! every frame in it has been copied into the database. A checkpoint on another connection
//! never gets there under steady ingest: the writer appends frames while it copies. The WAL
//! then grows without end (1.4 GB in 8 s of benchmark), and every commit writes into new file
//! blocks, which the kernel must allocate and zero and `fdatasync` must journal: that was the
//! largest single cost of ingest.
//!
//! So checkpointing is split in two. A background thread does the bulk copying (PASSIVE, never
//! blocking anyone). Once the WAL passes `RESTART_FRAMES`, it asks the writer to finish the job:
//! between two batches, the writer runs a PASSIVE checkpoint itself, which only has the few
//! frames the background copy missed left to copy, and nothing new can arrive meanwhile; its
//! next transaction then starts the WAL over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::Connection;

use super::writeback::Writeback;

/// WAL size (in 4 KiB frames, so 256 MiB) at which the writer is asked to catch up. Each
/// catch-up holds ingest for the database file's fsync (2 to 30 ms here), so it should come
/// rarely: at full load this is one every few seconds, which keeps it out of the p99 (a 16 MiB
/// mark, twice a second, doubled it). Below the mark the WAL still starts over whenever
/// ingest pauses long enough for the background copy to finish.
const RESTART_FRAMES: i64 = 65536;
/// The writer is asked to catch up once a background pass saw at most this many new frames.
const CATCH_UP_FRAMES: i64 = 512;
/// How often the background thread copies frames while the WAL is small.
const INTERVAL: Duration = Duration::from_millis(100);

/// Set by the background checkpointer, taken by the writer; both checkpoint with `writeback`.
#[derive(Clone)]
pub struct RestartWanted {
    wanted: Arc<AtomicBool>,
    writeback: Arc<Writeback>,
}

impl RestartWanted {
    pub fn new(writeback: Arc<Writeback>) -> Self {
        Self {
            wanted: Arc::default(),
            writeback,
        }
    }

    /// Called by the writer between batches: finishes the checkpoint when one was asked for.
    pub fn catch_up(&self, conn: &Connection) {
        if !self.wanted.swap(false, Ordering::AcqRel) {
            return;
        }
        let started = std::time::Instant::now();
        match checkpoint(conn, &self.writeback) {
            // Busy: the background thread holds the checkpoint lock; ask again next time.
            Ok((true, _, _)) => self.wanted.store(true, Ordering::Release),
            // done < log: a reader still uses older frames, so the WAL cannot start over yet;
            // the background thread will ask again.
            Ok((false, log, done)) => tracing::debug!(
                log,
                done,
                ms = started.elapsed().as_millis() as u64,
                "writer checkpoint (the WAL starts over when done = log)"
            ),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint by the writer failed"),
        }
    }
}

/// PASSIVE checkpoint: (busy, frames in the WAL, frames copied). Its pages are written out
/// while it copies them (`writeback`).
fn checkpoint(conn: &Connection, writeback: &Writeback) -> rusqlite::Result<(bool, i64, i64)> {
    let _copying = writeback.copying();
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
    })
}

/// Runs the background checkpointer on its own connection until `alive` no longer upgrades
/// (the store is gone). Once the WAL is past `RESTART_FRAMES` it copies pass after pass, each
/// one only what the writer appended during the last; when that is little enough, the writer's
/// catch-up (which holds ingest up) is short, and it is asked for.
pub fn spawn_checkpointer<T: Send + Sync + 'static>(
    conn: Connection,
    alive: Weak<T>,
    restart: RestartWanted,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ncsd-sqlite-checkpoint".into())
        .spawn(move || {
            let mut last_log = 0;
            let mut pause = INTERVAL;
            loop {
                std::thread::sleep(pause);
                if alive.upgrade().is_none() {
                    return;
                }
                pause = INTERVAL;
                let log = match checkpoint(&conn, &restart.writeback) {
                    Ok((_, log, _)) => log,
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                        continue;
                    }
                };
                // A smaller WAL than last time means it was started over since.
                let appended = if log >= last_log { log - last_log } else { log };
                last_log = log;
                if log < RESTART_FRAMES || restart.wanted.load(Ordering::Acquire) {
                    continue;
                }
                // Past twice the mark the background copy is not converging (ingest outpaces
                // it): ask anyway, for a longer pause, rather than let the WAL grow without bound.
                if appended <= CATCH_UP_FRAMES || log >= 2 * RESTART_FRAMES {
                    restart.wanted.store(true, Ordering::Release);
                } else {
                    pause = Duration::from_millis(1);
                }
            }
        })?;
    Ok(())
}
