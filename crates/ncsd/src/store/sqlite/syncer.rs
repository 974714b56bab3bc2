//! Pipelined durability. The writer commits with `synchronous = NORMAL`: SQLite writes the
//! batch's WAL frames but does not wait for the disk. The committed batch comes here, and this
//! thread makes it durable (`fdatasync` of the WAL file, exactly what `synchronous = FULL` would
//! have done inside COMMIT) before answering any of its callers. Meanwhile the writer already
//! runs the next batch, so the disk's wait no longer stalls ingest: that wait was a quarter of
//! the machine sitting idle under full load.
//!
//! One `fdatasync` covers every frame written before it started, so all batches waiting when
//! a sync begins are answered by it. Batches are answered in commit order, so a duplicate is
//! never acknowledged before the delivery it duplicates is on disk. The stream is told of new
//! events only once they are durable too.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use tokio::sync::broadcast;

use super::writer::{answer, Done, Failing, Job};
use crate::store::{StoreError, StoreResult};

/// A committed (or failed) batch, waiting for the WAL to reach the disk.
pub struct Committed {
    pub answers: Vec<(Job, StoreResult<Done>)>,
    /// The newest event seq the batch stored.
    pub newest: Option<i64>,
    /// Whether every write of the batch went through.
    pub ok: bool,
}

pub fn spawn(
    db_path: &str,
    notify: broadcast::Sender<i64>,
    failing: Failing,
) -> std::io::Result<mpsc::Sender<Committed>> {
    let (tx, rx) = mpsc::channel::<Committed>();
    let mut wal = Wal {
        path: PathBuf::from(format!("{db_path}-wal")),
        file: None,
    };
    std::thread::Builder::new()
        .name("ncsd-sqlite-sync".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                group.extend(rx.try_iter());
                let synced = if group.iter().any(|c| c.answers.iter().any(|(_, r)| r.is_ok())) {
                    wal.sync()
                } else {
                    Ok(())
                };
                if let Err(e) = &synced {
                    tracing::error!(error = %e, "cannot fsync the WAL; answering 503");
                }
                let ok = synced.is_ok() && group.iter().all(|c| c.ok);
                failing.store(!ok, Ordering::Release);
                let newest = group.iter().filter_map(|c| c.newest).max();
                for c in group {
                    for (job, result) in c.answers {
                        let result = match (&synced, result) {
                            (Err(e), Ok(_)) => Err(StoreError::Unavailable(format!(
                                "stored but not confirmed on disk (fsync failed: {e})"
                            ))),
                            (_, r) => r,
                        };
                        answer(job, result);
                    }
                }
                if let (Ok(()), Some(seq)) = (&synced, newest) {
                    let _ = notify.send(seq);
                }
            }
        })?;
    Ok(tx)
}

/// The WAL file, opened by its path. SQLite keeps one WAL file for as long as a connection is
/// open, but should it ever be replaced, the handle is opened again (fsync is per file, so a
/// handle on an old file would sync nothing useful).
struct Wal {
    path: PathBuf,
    file: Option<(File, u64)>,
}

impl Wal {
    fn sync(&mut self) -> std::io::Result<()> {
        let current = std::fs::metadata(&self.path)?.ino();
        if !matches!(&self.file, Some((_, ino)) if *ino == current) {
            let f = File::open(&self.path)?;
            let ino = f.metadata()?.ino();
            self.file = Some((f, ino));
        }
        let (f, _) = self.file.as_ref().expect("opened above");
        f.sync_data()
    }
}
