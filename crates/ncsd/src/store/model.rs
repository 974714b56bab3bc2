//! Plain records that cross the storage port, shared by every adapter.

use serde::Serialize;

/// One delivery as it arrived, with what ingest already read from the envelope.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub notice_id: String,
    pub product_id: i64,
    pub event_type: i64,
    pub notify_ms: Option<i64>,
    pub sid: Option<String>,
    pub cname: Option<String>,
    pub uid: Option<String>,
    pub sequence: Option<i64>,
    pub sendts: Option<i64>,
    /// Raw body exactly as received (the signature covers these bytes).
    pub body: Vec<u8>,
    /// Signature headers as received, JSON object text.
    pub headers: String,
    pub received_at_ms: i64,
    /// Key shared by redundant-path copies of one Cloud Recording event (see `ingest::copies`).
    /// Present only with `sid` and `sequence`, which it is derived from: equal keys always
    /// mean the same (sid, sequence), and a store may look copies up by those.
    pub content_key: Option<String>,
    /// Bits folded into the session summary row (see `session::flags`).
    pub session_flags: i64,
    /// The Agora project whose path and secret took the delivery (`default` without
    /// `[[project]]`).
    pub project: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    pub seq: i64,
    /// Same `noticeId` seen before: counted as another delivery, stored once.
    pub duplicate: bool,
    pub deliveries: i64,
    /// A different `noticeId` carrying the same event (redundant notification path).
    pub copy_of: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewQuarantine {
    pub body: Vec<u8>,
    pub headers: String,
    pub reason: String,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub seq: i64,
    pub notice_id: String,
    pub product_id: i64,
    pub event_type: i64,
    pub notify_ms: Option<i64>,
    pub sid: Option<String>,
    pub cname: Option<String>,
    pub uid: Option<String>,
    pub sequence: Option<i64>,
    pub sendts: Option<i64>,
    pub body: Vec<u8>,
    pub headers: String,
    pub received_at_ms: i64,
    pub last_received_at_ms: i64,
    pub deliveries: i64,
    pub copy_of: Option<String>,
    pub content_key: Option<String>,
    pub session_flags: i64,
    pub project: String,
}

#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub after: i64,
    pub limit: i64,
    pub event_type: Option<i64>,
    pub product_id: Option<i64>,
    pub sid: Option<String>,
    pub cname: Option<String>,
    /// `received_at_ms >= since`
    pub since: Option<i64>,
    /// Newest first: `seq < before` in descending order (`after` still applies).
    pub before: Option<i64>,
    pub project: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    pub cname: Option<String>,
    pub phase: Option<String>,
    /// last activity (ms) >= since
    pub since: Option<i64>,
    /// last activity (ms) < until
    pub until: Option<i64>,
    pub limit: i64,
    /// Resume after this (last_activity_ms, sid) position, newest first.
    pub cursor: Option<(i64, String)>,
    /// Only sessions with any of these evidence bits (`summary::FATAL_ERROR`, ...).
    pub flags_any: Option<i64>,
    /// Only unfinished sessions last active before this (stalled).
    pub unfinished_before: Option<i64>,
    pub project: Option<String>,
}

/// The per-session summary kept at ingest: every column merges commutatively (sum, min, max,
/// bit-or), so concurrent writers on several instances never lose an update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    pub sid: String,
    pub cname: Option<String>,
    pub flags: i64,
    pub event_count: i64,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_activity_ms: i64,
    pub last_seq: i64,
    /// The session's exits merged with max (`summary::exit_key`; -1: none).
    pub exit_key: i64,
    /// The project of the session's first stored event.
    pub project: String,
}

/// A recording's answer (`GET /v1/sessions/{sid}`), kept in the database by the state keeper
/// (`crate::states::keeper`) so that a read is one row. Derived data: it is only used while
/// the session's summary still has this `last_seq` and `format` is the reader's own, and
/// losing it costs one fold.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptState {
    pub sid: String,
    /// The session's newest event cursor when this answer was folded.
    pub last_seq: i64,
    /// Which build wrote the JSON (a newer one may answer differently).
    pub format: String,
    pub json: Vec<u8>,
}

/// How far the state keeper got: the event cursor the kept states cover, and the format they
/// were written in (a build that answers differently starts again from the first event).
#[derive(Debug, Clone, PartialEq)]
pub struct StatesProgress {
    pub cursor: i64,
    pub format: String,
}

impl KeptState {
    /// The kept answer a `session_states` row joined to a summary row carries (its columns are
    /// NULL when none was kept at the summary's `last_seq`).
    pub fn joined(row: &SessionRow, format: Option<String>, json: Option<Vec<u8>>) -> Option<Self> {
        Some(KeptState {
            sid: row.sid.clone(),
            last_seq: row.last_seq,
            format: format?,
            json: json?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantineRecord {
    pub id: i64,
    pub received_at_ms: i64,
    pub reason: String,
    pub body: Vec<u8>,
    pub headers: String,
    /// Times this very body was delivered (1: once).
    pub deliveries: i64,
    /// The latest delivery's receive time (None: delivered once).
    pub last_received_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub notice_id: String,
    pub received_at_ms: i64,
    pub notify_ms: Option<i64>,
}

/// One chunk of a purge (each its own short transaction, so ingest never waits long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeChunk {
    pub events: u64,
    /// Something was deleted, so there may be more.
    pub more: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    pub events: Vec<EventRecord>,
    pub deliveries: Vec<DeliveryRecord>,
    pub quarantine: Vec<QuarantineRecord>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub events: u64,
    pub deliveries: u64,
    pub quarantine: u64,
}

/// What the lifecycle deriver reads of a stored event: its place in commit order and the
/// evidence bits ingest derived from it (see `crate::summary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub seq: i64,
    pub notice_id: String,
    pub product_id: i64,
    pub event_type: i64,
    pub sid: Option<String>,
    pub cname: Option<String>,
    pub uid: Option<String>,
    pub sequence: Option<i64>,
    pub session_flags: i64,
}

/// A lifecycle event to record; at most one per (sid, kind), enforced by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLifecycle {
    /// Stable: the same (sid, kind) always has the same id.
    pub id: String,
    pub sid: String,
    /// `recording.completed`, ...
    pub kind: String,
    pub cname: Option<String>,
    pub recorded_at_ms: i64,
    /// The whole message, `{"id","type","timestamp","data"}`, as JSON text.
    pub message: String,
}

/// A recorded lifecycle event. `seq` is its cursor, in the order recorded; `placement` is the
/// newest event cursor when it was recorded, which places it in the live stream (after that
/// event) the same way on every connection.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleRecord {
    pub seq: i64,
    pub placement: i64,
    pub id: String,
    pub sid: String,
    pub kind: String,
    pub cname: Option<String>,
    pub recorded_at_ms: i64,
    pub message: String,
    /// The session's project, taken from its summary row when recorded.
    pub project: String,
}

/// Which lifecycle events to list: those after `(after_placement, after_seq)` in recorded
/// order (placement grows with seq), at most `up_to_placement`, filtered.
#[derive(Debug, Clone, Default)]
pub struct LifecycleQuery {
    pub after_seq: i64,
    /// With `after_seq`: also skip rows placed before this (stream resume); 0: no bound.
    pub after_placement: i64,
    pub up_to_placement: Option<i64>,
    pub limit: i64,
    pub kind: Option<String>,
    pub sid: Option<String>,
    pub cname: Option<String>,
    pub project: Option<String>,
}

/// A forwarding destination's progress and health, shared by every instance.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationRow {
    pub name: String,
    /// `active` or `disabled` (an HTTP 410 disables; enabled again by API or CLI).
    pub state: String,
    /// Events and lifecycle events up to these cursors are in the outbox.
    pub event_cursor: i64,
    pub lifecycle_cursor: i64,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// A message to put in a destination's outbox. `id` is the message id every attempt carries
/// (the `noticeId`, or the lifecycle id): one row per (destination, id).
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    pub id: String,
    pub kind: String,
    pub sid: Option<String>,
    /// The message exactly as sent, JSON text.
    pub body: String,
    pub created_ms: i64,
}

/// One delivery attempt of a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub at_ms: i64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// A message in an outbox, with its attempts when listed.
#[derive(Debug, Clone, PartialEq)]
pub struct OutRecord {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub sid: Option<String>,
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
    pub last_error: Option<String>,
    pub attempt_log: Vec<Attempt>,
}

/// What an attempt decided for its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Delivered,
    /// Pending again, due then.
    Retry {
        next_attempt_ms: i64,
    },
    /// No retry left: kept as failed (the dead letters).
    Failed,
    /// The receiver said 410 Gone: the message waits, the destination is disabled.
    Disable,
}

/// Which messages to send again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeue {
    One(String),
    Failed,
}

/// Counts of stored state, for the metrics gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// Sessions by phase.
    pub phases: Vec<(String, i64)>,
    /// Sessions needing attention, by reason (`fatal_error`, `abnormal_status`, `stalled`).
    pub attention: Vec<(String, i64)>,
    /// Lifecycle events recorded, by type.
    pub lifecycle: Vec<(String, i64)>,
}

/// Recent ingest, for the dashboard's overview.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Events stored per minute since the time asked for: (minute start in ms, count), by
    /// minute, minutes with none left out.
    pub per_minute: Vec<(i64, i64)>,
    /// Bodies in quarantine.
    pub quarantined: i64,
}
