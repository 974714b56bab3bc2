//! Writing a checkpoint's pages out while it copies them, not all at once at its end.
//!
//! A checkpoint copies WAL frames into the database file (megabytes per background pass under
//! full ingest) and then `fdatasync`s the file. Left alone, the kernel keeps those pages dirty
//! until that sync, which then sends them all to the disk in one burst; the commits whose WAL
//! sync lands in that burst wait behind it, and they were the ingest tail
//! (docs/performance.md, "Where the ingest tail comes from"). So while a checkpoint runs, a
//! thread asks the kernel every few milliseconds to start writing the file's dirty pages
//! (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`: start, do not wait). The same pages reach
//! the disk, spread over the pass, and the closing sync finds little left. Durability is
//! unchanged: SQLite still syncs the file before the WAL may start over; this only moves when
//! the bytes travel.
//!
//! Measured in alternating 6 s runs (same section): p99 at 64 connections 7.4–10.2 ms against
//! 11.7–15.9 ms, at 16 connections 3.1–4.2 ms (one run 9.3) against 4.6–5.8 ms; throughput
//! within the noise.

use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

/// How often writeback is started while a checkpoint copies. 1, 5 and 20 ms all did about
/// as well; 5 ms keeps each burst under about a megabyte at full ingest.
const NUDGE: Duration = Duration::from_millis(5);
/// How long the idle thread sleeps before it checks whether the store is gone.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Shared by everything that checkpoints: count of checkpoints running now.
#[derive(Default)]
pub struct Writeback {
    copying: Mutex<usize>,
    started: Condvar,
}

/// Held while one checkpoint runs.
pub struct Copying<'a>(&'a Writeback);

impl Writeback {
    /// Starts the thread that nudges writeback of the database file at `path` while a
    /// checkpoint runs; it ends once `alive` no longer upgrades (the store is gone). Without
    /// the thread (the file cannot be opened again, no thread can start) checkpoints work as
    /// they did before it: this only logs.
    pub fn spawn<T: Send + Sync + 'static>(path: &str, alive: Weak<T>) -> Arc<Self> {
        let this = Arc::new(Self::default());
        // Read-only is enough: writeback is per file, not per descriptor.
        let started = File::open(path).and_then(|file| {
            let shared = Arc::clone(&this);
            // Not "ncsd-sqlite-…": a thread's name is cut to 15 bytes in /proc, where the
            // writer's reads "ncsd-sqlite-wri" (bench/threads.sh tells threads apart by it).
            std::thread::Builder::new()
                .name("ncsd-writeback".into())
                .spawn(move || shared.run(&file, &alive))
        });
        if let Err(e) = started {
            tracing::warn!(
                error = %e,
                "checkpoint writeback is off: each checkpoint's pages go to disk at its end"
            );
        }
        this
    }

    /// Marks a checkpoint as running until the guard drops.
    pub fn copying(&self) -> Copying<'_> {
        *self.copying.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.started.notify_one();
        Copying(self)
    }

    fn busy(&self) -> bool {
        *self.copying.lock().unwrap_or_else(|e| e.into_inner()) > 0
    }

    fn run<T>(&self, file: &File, alive: &Weak<T>) {
        loop {
            {
                let running = self.copying.lock().unwrap_or_else(|e| e.into_inner());
                let (running, _) = self
                    .started
                    .wait_timeout_while(running, IDLE_CHECK, |n| *n == 0)
                    .unwrap_or_else(|e| e.into_inner());
                if *running == 0 {
                    if alive.upgrade().is_none() {
                        return;
                    }
                    continue;
                }
            }
            while self.busy() {
                std::thread::sleep(NUDGE);
                if let Err(e) = start_writeback(file) {
                    // Not fatal, and it would fail again (the file system refuses the call):
                    // the checkpoints' own syncs still write everything.
                    tracing::warn!(error = %e, "checkpoint writeback stops: sync_file_range failed");
                    return;
                }
            }
        }
    }
}

impl Drop for Copying<'_> {
    fn drop(&mut self) {
        let mut n = self.0.copying.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
    }
}

/// Asks the kernel to start writing the file's dirty pages, without waiting for them.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn start_writeback(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range takes a descriptor and integers only; the descriptor belongs to
    // `file`, which is borrowed, so it stays open for the call. Neither rustix nor nix wraps
    // this call.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere the checkpoint's closing sync writes everything, as before.
#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn writeback_starts_on_a_read_only_descriptor_of_a_file_with_dirty_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut w = File::create(&path).unwrap();
        w.write_all(&vec![7u8; 1 << 20]).unwrap();
        let r = File::open(&path).unwrap();
        start_writeback(&r).unwrap();
    }

    #[test]
    fn a_file_that_cannot_be_opened_leaves_checkpoints_working_without_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let alive = Arc::new(());
        let wb = Writeback::spawn(
            dir.path().join("missing").to_str().unwrap(),
            Arc::downgrade(&alive),
        );
        assert_eq!(Arc::strong_count(&wb), 1, "no thread holds it");
        drop(wb.copying());
        assert!(!wb.busy());
    }

    #[test]
    fn checkpoints_count_as_running_exactly_while_their_guards_live() {
        let wb = Writeback::default();
        assert!(!wb.busy());
        let a = wb.copying();
        let b = wb.copying();
        drop(a);
        assert!(wb.busy(), "one checkpoint still runs");
        drop(b);
        assert!(!wb.busy());
    }

    #[test]
    fn the_thread_ends_when_the_store_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        File::create(&path).unwrap();
        let alive = Arc::new(());
        let wb = Writeback::spawn(path.to_str().unwrap(), Arc::downgrade(&alive));
        drop(wb.copying());
        drop(alive);
        // The thread holds the only other reference; it drops it when it returns.
        let deadline = std::time::Instant::now() + IDLE_CHECK * 5;
        while Arc::strong_count(&wb) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "writeback thread still runs"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
