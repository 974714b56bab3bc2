//! SQLite connections: the writer's and the checkpointer's settings, the pool of read
//! connections queries take one from, and stopping a query whose caller went away.

use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::store::{StoreError, StoreResult};

/// Warm read connections kept. Each maps the database file on its own, and a page mapped by
/// several counts that many times in the process's RSS (not in memory used: the page cache is
/// shared), so fewer, busier connections also keep `top` honest.
const MAX_IDLE_READERS: usize = 16;

/// Queries running at once: twice the CPUs, at least 4 (and at most `MAX_IDLE_READERS`, so
/// every running query finds a warm connection). Queries are CPU work on memory-mapped pages;
/// more of them at once than there are CPUs only time-slice each other. Unbounded, 16 clients
/// reading sessions grew the blocking pool to ~45 threads, each keeping freed memory in its own
/// allocator heap: 120 MiB of anonymous memory with no session kept (docs/performance.md).
pub fn max_running_queries() -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cpus).clamp(4, MAX_IDLE_READERS)
}

/// Idle read connections; a query takes one (or opens one) and gives it back.
pub struct ReadPool {
    pub path: String,
    pub idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path).map_err(|e| StoreError::Unavailable(e.to_string()))?,
        };
        let out = f(&conn).map_err(|e| StoreError::Unavailable(e.to_string()));
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // Keep enough warm connections for the blocking pool's concurrency: each has its own
        // page cache, and opening one costs a schema read.
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

pub fn open_conn(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // FULL: the WAL is fsynced at every commit, which is what "200 means on disk" needs.
    // temp_store: statement journals and the purge's scratch table stay in memory, not in a file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;",
    )?;
    Ok(conn)
}

/// A query connection: memory-mapped reads (no copy through `pread`), read-only by intent. The
/// map covers a database of up to 2 GiB (SQLite's own ceiling); past 256 MiB, the previous
/// setting, session reads went back to `pread` and a page cache per connection: 25% slower,
/// and 4 MiB of copies per connection.
pub fn open_reader(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch("PRAGMA mmap_size = 2147418112; PRAGMA cache_size = -4096;")?;
    Ok(conn)
}

/// A new database file is created readable by its owner only (0600): it holds every event and
/// the signature headers. SQLite gives the `-wal` and `-shm` files it creates the database
/// file's permissions, so they are private too. An existing file keeps its mode: an operator
/// who widened it on purpose stays in charge.
pub fn create_private(path: &str) -> anyhow::Result<()> {
    if path == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot create SQLite file {path}: {e}")),
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds the interrupt handle of the connection a query runs on, while it runs.
#[derive(Default)]
pub struct InterruptOnDrop(pub Arc<Mutex<Option<rusqlite::InterruptHandle>>>);

impl InterruptOnDrop {
    pub fn disarm(self) {
        lock(&self.0).take();
    }
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        // Under the lock the query is either still running (the handle is there) or finished
        // (it is gone): an interrupt never reaches the connection's next query.
        if let Some(h) = lock(&self.0).as_ref() {
            h.interrupt();
        }
    }
}
