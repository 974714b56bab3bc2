//! The JSON of a lifecycle event, in the Standard Webhooks payload shape: `{"id", "type",
//! "timestamp", "data"}`. Its id depends only on (sid, kind), so the same event always has the
//! same id, whoever records it.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Kind, Transition};
use crate::store::Evidence;

pub fn lifecycle_id(sid: &str, kind: Kind) -> String {
    let mut h = Sha256::new();
    h.update(sid.as_bytes());
    h.update([0]);
    h.update(kind.as_str().as_bytes());
    format!("lc_{}", hex::encode(&h.finalize()[..16]))
}

/// `cause` is the event that caused it (none for a stall); `session` the session's state when
/// it was recorded (the answer of `GET /v1/sessions/{sid}`).
pub fn message(
    sid: &str,
    t: &Transition,
    cause: Option<&Evidence>,
    session: Value,
    recorded_at_ms: i64,
) -> Value {
    json!({
        "id": lifecycle_id(sid, t.kind),
        "type": t.kind.as_str(),
        "timestamp": crate::clock::rfc3339(recorded_at_ms),
        "data": {
            "sid": sid,
            "cname": session.get("cname").cloned().unwrap_or(Value::Null),
            "uid": session.get("uid").cloned().unwrap_or(Value::Null),
            "phase": t.phase.as_str(),
            "previous_phase": t.previous_phase.as_str(),
            "cause": cause.map(|e| json!({
                "notice_id": e.notice_id,
                "event_type": e.event_type,
                "sequence": e.sequence,
            })),
            "session": session,
        }
    })
}
