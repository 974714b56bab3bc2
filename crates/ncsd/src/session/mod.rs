//! A recording session's state, folded from its stored events.
//!
//! NCS delivers out of order, resends (same `noticeId`), sends redundant-path
//! copies (new `noticeId`, same content) and loses notifications (spec §4).
//! So the state is never updated in place: it is recomputed from every stored
//! event of the `sid` by a pure function. `distinct_ordered` first reduces the
//! events to one canonical, ordered list, then `fold` applies them in that
//! order; the result depends only on the *set* of distinct events, so every
//! instance sharing a database, in any arrival order, reports the same state.

mod details;
mod distinct;
mod extensions;
mod fold;
mod state;
mod stored;

#[cfg(test)]
mod tests;

pub use details::Details;
pub use distinct::{display_key, distinct_ordered, DisplayKey};
pub use fold::{fold, Folding};
pub use state::*;
pub use stored::stored_event;

/// What the store hands the fold: one stored Cloud Recording event of one sid.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub notice_id: String,
    pub event_type: u32,
    pub sequence: Option<i64>,
    pub sendts: Option<i64>,
    pub uid: Option<String>,
    pub cname: Option<String>,
    pub sid: String,
    /// `payload.details`, as stored; typed by the fold.
    pub details: Details,
    /// Delivery metadata only: resends change it, so the state never uses it.
    pub received_at_ms: i64,
}
