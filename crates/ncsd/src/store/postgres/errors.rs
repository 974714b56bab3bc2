//! Which database errors mean "try again later".

use crate::store::StoreError;

/// Lost connections, refused connections and a server shutting down are `Unavailable` (503: NCS
/// resends later); anything else is a fault of ours or of the data.
pub fn store_error(e: &sqlx::Error) -> StoreError {
    if is_unavailable(e) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Other(e.to_string())
    }
}

pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes: 08 connection, 53 insufficient resources (disk full, too many
        // connections), 57 operator intervention (shutdown, cannot connect now), 40 rolled back
        // (serialization, deadlock), and 25006 read-only (a standby after fail-over).
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "53", "57", "40"]
                .iter()
                .any(|class| code.starts_with(class))
                || code == "25006"
        }),
        _ => false,
    }
}
