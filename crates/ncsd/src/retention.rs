//! `--retain`: purge old events and sessions in the background. The store deletes in small
//! chunks, each its own short transaction, so ingest keeps flowing between them.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::store::DynStore;

/// How often to look for expired data: a tenth of the retention, between 1 s and 1 h.
pub fn interval(retain: Duration) -> Duration {
    (retain / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600))
}

pub async fn run(store: DynStore, retain: Duration, shutdown: CancellationToken) {
    let every = interval(retain);
    loop {
        let cutoff = now_ms() - retain.as_millis() as i64;
        match store.purge_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                events = n,
                cutoff_ms = cutoff,
                "retention purged old events"
            ),
            Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
