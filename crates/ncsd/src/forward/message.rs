//! What a destination receives: the Standard Webhooks shape `{"id", "type", "timestamp",
//! "data"}`, the same bytes on every attempt.

use serde_json::{json, Value};

use crate::store::{EventRecord, LifecycleRecord, OutMessage};

/// A stored NCS event as a message, when a destination would want it: Console "Check"
/// deliveries and redundant-path copies are never forwarded.
pub fn from_event(e: &EventRecord) -> Option<OutMessage> {
    let health_check =
        e.product_id == 3 && e.cname.as_deref() == Some(agora_ncs::HEALTH_CHECK_CNAME);
    if health_check || e.copy_of.is_some() {
        return None;
    }
    let kind = format!("ncs.{}", e.event_type);
    let body = json!({
        "id": e.notice_id,
        "type": kind,
        "timestamp": crate::clock::rfc3339(e.received_at_ms),
        "data": crate::event_view::event_json(e),
    });
    Some(OutMessage {
        id: e.notice_id.clone(),
        kind,
        sid: e.sid.clone(),
        body: body.to_string(),
        created_ms: e.received_at_ms,
    })
}

/// A lifecycle event as a message: recorded in that shape already, with its project added to
/// `data` (the store sets it from the session when recording).
pub fn from_lifecycle(r: &LifecycleRecord) -> OutMessage {
    OutMessage {
        id: r.id.clone(),
        kind: r.kind.clone(),
        sid: Some(r.sid.clone()),
        body: with_project(r).to_string(),
        created_ms: r.recorded_at_ms,
    }
}

/// The recorded message with `data.project`.
pub fn with_project(r: &LifecycleRecord) -> Value {
    let mut v: Value = serde_json::from_str(&r.message).unwrap_or(Value::Null);
    if let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) {
        data.insert("project".into(), json!(r.project));
    }
    v
}
