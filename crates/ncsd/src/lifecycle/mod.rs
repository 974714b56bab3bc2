//! Lifecycle events: the few facts an application waits for ("recording X is complete, here are
//! its files"), recorded once per (sid, kind) when a recording enters a phase, when it first
//! reports a fatal error, and when it goes quiet.
//!
//! They are derived from stored events, in commit order, by `deriver`: a background task that
//! resumes from its cursor in the store after a crash, so none is missed; the store's unique
//! (sid, kind) key makes a repeat (a restart, a second instance) a no-op. `transitions` is the
//! pure rule, `message` the JSON an application receives.

mod deriver;
mod message;
mod rules;

pub use deriver::{derive_round, derive_with, spawn, sweep, Held, Settings};
pub use message::{lifecycle_id, message};
pub use rules::{transitions, Kind, Merged, Transition};
