//! What a destination receives: the Standard Webhooks shape `{"id", "type", "timestamp",
//! "data"}`, the same bytes on every attempt.

use serde_json::json;

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

/// A lifecycle event as a message: it is recorded in that shape already.
pub fn from_lifecycle(r: &LifecycleRecord) -> OutMessage {
    OutMessage {
        id: r.id.clone(),
        kind: r.kind.clone(),
        sid: Some(r.sid.clone()),
        body: r.message.clone(),
        created_ms: r.recorded_at_ms,
    }
}
