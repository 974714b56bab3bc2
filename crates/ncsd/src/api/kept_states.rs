//! Finished recordings' answers kept in the database (`Store::keep_states`), so that after a
//! restart, or on another instance sharing the database, the first read of a finished
//! recording is two row look-ups instead of a fold of all its events.
//!
//! Only finished recordings (completed or failed) are kept: their answer changes only when a
//! late event arrives, and then the session's `last_seq` moves on and the kept answer is no
//! longer used. A kept answer is also ignored when another build wrote it (`FORMAT`), since a
//! newer ncsd may answer differently. Writing happens in the background, batched and
//! best-effort: this is derived data, and a lost answer costs one fold.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::store::{DynStore, KeptState};

/// Marks the answers this build writes; any other is folded again.
pub const FORMAT: &str = concat!("ncsd ", env!("CARGO_PKG_VERSION"), " session state 1");
/// Answers written per store call (SQLite: per writer job, which shares its transaction with
/// ingest, so it stays small).
const BATCH: usize = 64;
/// Answers waiting to be written; more are dropped (they will be folded again).
const QUEUE: usize = 4096;
/// Pause after each write. A start on a store full of finished recordings folds thousands of
/// them in seconds; written as fast as they came, their answers (~9 KB of SQLite WAL each)
/// halved the reads those seconds could serve. Paced, at most `BATCH` per pause.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Queues finished sessions' answers for the store.
#[derive(Clone)]
pub struct Keeper {
    tx: mpsc::Sender<KeptState>,
}

impl Keeper {
    /// Starts the background writer; it stops once every `Keeper` clone is gone.
    pub fn spawn(store: DynStore) -> Self {
        let (tx, mut rx) = mpsc::channel(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(e) = store.keep_states(std::mem::take(&mut batch)).await {
                    tracing::debug!(error = %e, "could not keep session answers; they will be folded again");
                }
                tokio::time::sleep(PAUSE).await;
            }
        });
        Keeper { tx }
    }

    /// Queues the answer of a finished session folded at `last_seq`.
    pub fn keep(&self, sid: &str, last_seq: i64, json: &[u8]) {
        let _ = self.tx.try_send(KeptState {
            sid: sid.to_string(),
            last_seq,
            format: FORMAT.to_string(),
            json: json.to_vec(),
        });
    }
}

/// A kept answer this build can serve (the store already matched its `last_seq` with the
/// session's newest).
pub fn usable(kept: KeptState) -> Option<Bytes> {
    (kept.format == FORMAT).then(|| Bytes::from(kept.json))
}
