//! Serving a recording's state: `GET /v1/sessions/{sid}` and the dashboard's session page need
//! the state a fold of every stored event of the session gives, and folding a long recording
//! on every read is slow. So each session's state is kept in the store, beside its summary
//! row, by one background follower of the event log (`keeper`): it reads the events stored
//! since its cursor, folds each session they touch, and writes the new states with its cursor.
//! A read takes the summary row and the kept state in one look-up and serves the state when it
//! was folded at the session's newest event by this build (`format`); otherwise (the follower
//! has not caught up yet, a fraction of a second under load) the read folds the session itself.
//! None of this is HTTP: the API and the dashboard both call `SessionStates`.

pub mod format;
pub mod keeper;

use bytes::Bytes;

use crate::session::{stored_event, Folding, SessionState, StoredEvent};
use crate::store::{DynStore, SessionRow, StoreError, StoreResult};

/// The states of recordings, as the API serves them.
#[derive(Clone)]
pub struct SessionStates {
    pub store: DynStore,
}

impl SessionStates {
    pub fn new(store: DynStore) -> Self {
        SessionStates { store }
    }

    /// The current state of one session as JSON, or None when the sid is unknown.
    pub async fn current(&self, sid: &str) -> StoreResult<Option<Bytes>> {
        Ok(self.current_with_row(sid).await?.map(|(_, json)| json))
    }

    /// [`Self::current`], with the session's summary row it was checked against (so a caller
    /// needing the row reads it once).
    pub async fn current_with_row(&self, sid: &str) -> StoreResult<Option<(SessionRow, Bytes)>> {
        let Some((row, kept)) = self.store.session_with_kept(sid).await? else {
            return Ok(None);
        };
        if let Some(json) = kept.and_then(format::usable) {
            return Ok(Some((row, json)));
        }
        match fold_all(&self.store, sid).await? {
            Some((_, folding)) => Ok(Some((row, to_json(&folding.state())?))),
            None => Ok(None),
        }
    }
}

/// Every event of the session folded, with the newest cursor among them; None when it has none.
pub async fn fold_all(store: &DynStore, sid: &str) -> StoreResult<Option<(i64, Folding)>> {
    let records = store.session_events(sid).await?;
    let Some(folded_at) = records.iter().map(|r| r.seq).max() else {
        return Ok(None);
    };
    let events: Vec<StoredEvent> = records.iter().filter_map(stored_event).collect();
    Ok(Some((folded_at, Folding::new(sid, &events))))
}

/// The answer's JSON text.
pub fn to_json(state: &SessionState) -> StoreResult<Bytes> {
    serde_json::to_vec(state)
        .map(Bytes::from)
        .map_err(|e| StoreError::Other(format!("cannot serialise the state: {e}")))
}
