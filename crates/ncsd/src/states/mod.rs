//! Serving a recording's state: `GET /v1/sessions/{sid}`, the live stream's session messages
//! and lifecycle events all need the state a fold of every stored event of the session gives,
//! and folding a long recording on every read is slow. So states are kept (`cache`, in memory;
//! `kept`, finished recordings' answers in the store), always checked against the session's
//! newest stored event before they are served, and folded ahead of reads in the background
//! (`warm`). None of this is HTTP: the API and background work both call `SessionStates`.

pub mod cache;
pub mod kept;
pub mod warm;

use std::sync::Arc;

use bytes::Bytes;

use crate::session::{stored_event, Folding, StoredEvent};
use crate::store::{DynStore, SessionRow, StoreError, StoreResult};

pub use cache::SessionCache;
pub use kept::Keeper;

/// The states of recordings, as the API serves them.
#[derive(Clone)]
pub struct SessionStates {
    pub store: DynStore,
    /// Folds and answers kept in memory.
    pub cache: Arc<SessionCache>,
    /// Keeps finished recordings' answers in the store (None: nothing is kept there).
    pub keeper: Option<Keeper>,
}

impl SessionStates {
    /// `cache_bytes` of memory for kept states; 0: fold on every read, and keep nothing in the
    /// store either.
    pub fn new(store: DynStore, cache_bytes: usize) -> Self {
        let keeper = (cache_bytes > 0).then(|| Keeper::spawn(store.clone()));
        SessionStates {
            cache: Arc::new(SessionCache::new(cache_bytes)),
            keeper,
            store,
        }
    }

    /// The current state of one session as JSON, or None when the sid is unknown.
    ///
    /// A state kept in memory (`cache`) is current while the summary row's `last_seq` is the
    /// one it was folded at. With nothing kept in memory, a finished recording's answer kept in
    /// the store (`kept`) is read along with the summary row and used on the same condition.
    /// When only newer events were stored since a kept fold, it is carried forward over them
    /// (`Folding::extend`: the live case, a recording reporting in sequence order); otherwise,
    /// or with nothing kept, every event is folded.
    pub async fn current(&self, sid: &str) -> StoreResult<Option<Bytes>> {
        Ok(self.current_with_row(sid).await?.map(|(_, json)| json))
    }

    /// [`Self::current`], with the session's summary row it was checked against (so a caller
    /// needing the row reads it once).
    pub async fn current_with_row(&self, sid: &str) -> StoreResult<Option<(SessionRow, Bytes)>> {
        let st = self;
        let kept = st.cache.kept(sid);
        // Nothing in memory: a finished recording's answer may be kept in the store (after a
        // restart, or written by another instance); it comes with the summary row.
        let (row, stored) = match (&kept, &st.keeper) {
            (None, Some(_)) => match st.store.session_with_kept(sid).await? {
                Some((row, stored)) => (Some(row), stored),
                None => (None, None),
            },
            _ => (st.store.session(sid).await?, None),
        };
        let Some(row) = row else {
            st.cache.forget(sid);
            return Ok(None);
        };
        if let Some(k) = kept.as_ref().filter(|k| k.last_seq == row.last_seq) {
            return Ok(Some((row, k.json.clone())));
        }
        if let Some(json) = stored.and_then(kept::usable) {
            st.cache.put(sid, row.last_seq, json.clone(), None);
            return Ok(Some((row, json)));
        }
        let carried = match kept.and_then(|k| Some((k.last_seq, k.folding?))) {
            Some((at, folding)) => carry_forward(&st.store, sid, at, &folding).await?,
            None => None,
        };
        let (folded_at, folding) = match carried {
            Some(c) => c,
            None => match fold_all(&st.store, sid).await? {
                Some(f) => f,
                None => return Ok(None),
            },
        };
        let state = folding.state();
        let json = Bytes::from(
            serde_json::to_vec(&state)
                .map_err(|e| StoreError::Other(format!("cannot serialise the state: {e}")))?,
        );
        let carry = cache::worth_carrying(state.phase).then(|| Arc::new(folding));
        if let (None, Some(keeper)) = (&carry, &st.keeper) {
            keeper.keep(sid, folded_at, &json);
        }
        st.cache.put(sid, folded_at, json.clone(), carry);
        Ok(Some((row, json)))
    }
}

/// Every event of the session folded, with the newest cursor among them; None when it has none.
async fn fold_all(store: &DynStore, sid: &str) -> StoreResult<Option<(i64, Folding)>> {
    let records = store.session_events(sid).await?;
    let Some(folded_at) = records.iter().map(|r| r.seq).max() else {
        return Ok(None);
    };
    let events: Vec<StoredEvent> = records.iter().filter_map(stored_event).collect();
    Ok(Some((folded_at, Folding::new(sid, &events))))
}

/// The kept fold (at cursor `at`) carried over the events stored since; None when they cannot
/// be appended (an event sorting before one already folded) or there are none to append.
async fn carry_forward(
    store: &DynStore,
    sid: &str,
    at: i64,
    kept: &Folding,
) -> StoreResult<Option<(i64, Folding)>> {
    let records = store.session_events_after(sid, at).await?;
    let Some(folded_at) = records.iter().map(|r| r.seq).max() else {
        return Ok(None);
    };
    let events: Vec<StoredEvent> = records.iter().filter_map(stored_event).collect();
    let mut folding = kept.clone();
    Ok(folding.extend(&events).then_some((folded_at, folding)))
}
