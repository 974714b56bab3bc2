//! Forwarding: every stored NCS event (`ncs.<eventType>`) and lifecycle event
//! (`recording.completed`, ...) that a destination asks for is handed to it, durably.
//!
//! Each destination has a cursor in the event and lifecycle logs and an outbox in the store: a
//! feeder moves what the destination wants from the logs into the outbox and the cursors
//! forward in one transaction; a sender leases due messages, sends them, and records each
//! attempt and its outcome (delivered, a retry on the schedule, failed after the last, or the
//! destination disabled by a 410). Nothing is held only in memory, so a crash or a receiver
//! down for hours loses nothing: at least once. Each destination has its own tasks, so a slow
//! one delays no other, and ingest never waits for any.

mod buses;
pub mod config;
pub mod message;
pub mod sign;
mod sink;
pub mod ssrf;
mod webhook;
mod worker;

pub use config::DestinationConfig;
pub use worker::{replay, spawn, start_cursors};
