//! Wakes this instance's live streams when any instance commits. Every writer sends
//! `NOTIFY ncsd_events, '<newest seq>'` inside its transaction (so it fires at COMMIT); this task
//! holds a `LISTEN` connection and forwards the numbers to the local broadcast. Notifications sent
//! while it was disconnected are lost, so after every (re)connect it reads the newest `seq` once.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use super::{reads, Announcer, CHANNEL};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until aborted (when the store is dropped); never gives up on the database.
pub async fn run(pool: PgPool, announcer: Announcer) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listen(&pool).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(100);
                catch_up(&pool, &announcer).await;
                loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => match n.payload().parse::<i64>() {
                            Ok(seq) => announcer.announce(seq),
                            Err(_) => tracing::warn!(
                                payload = n.payload(),
                                "ignoring a foreign {CHANNEL} notification"
                            ),
                        },
                        // The connection dropped and sqlx re-established it (and re-ran LISTEN).
                        Ok(None) => catch_up(&pool, &announcer).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the {CHANNEL} listener; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN {CHANNEL}; retrying in {backoff:?}")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Announce whatever was committed while nobody was listening. Runs after LISTEN succeeded, so a
/// commit in between is either seen here or notified.
async fn catch_up(pool: &PgPool, announcer: &Announcer) {
    match reads::latest_seq(pool).await {
        Ok(seq) => announcer.announce(seq),
        Err(e) => tracing::warn!(error = %e, "cannot read the newest seq after reconnecting"),
    }
}
