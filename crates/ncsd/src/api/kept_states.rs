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

use crate::store::{DynStore, KeptState, StoreResult};

/// Marks the answers this build writes; any other is folded again.
pub const FORMAT: &str = concat!("ncsd ", env!("CARGO_PKG_VERSION"), " session state 1");
/// Answers written per store call.
const BATCH: usize = 256;
/// Answers waiting to be written; more are dropped (they will be folded again).
const QUEUE: usize = 4096;

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

/// The answer kept for `sid`, if this build folded it at `last_seq` (the session's newest).
pub async fn lookup(store: &DynStore, sid: &str, last_seq: i64) -> StoreResult<Option<Bytes>> {
    Ok(store
        .kept_state(sid)
        .await?
        .filter(|k| k.last_seq == last_seq && k.format == FORMAT)
        .map(|k| Bytes::from(k.json)))
}
