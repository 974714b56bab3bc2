//! How a stored event is shown: by the API (`GET /v1/events/{noticeId}`, lists, the live
//! stream) and in forwarded messages, the same everywhere.

use serde_json::{json, Value};

use crate::store::EventRecord;

/// The body as received, as JSON (it was valid JSON when stored); raw text if that ever fails.
pub fn body_json(e: &EventRecord) -> Value {
    serde_json::from_slice(&e.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&e.body).into_owned()))
}

pub fn event_json(e: &EventRecord) -> Value {
    let body = body_json(e);
    let details = body
        .get("payload")
        .and_then(|p| p.get("details"))
        .cloned()
        .unwrap_or(Value::Null);
    let headers: Value = serde_json::from_str(&e.headers).unwrap_or(Value::Null);
    let event_type = u32::try_from(e.event_type)
        .ok()
        .filter(|_| e.product_id == 3);
    let event_name = event_type.and_then(agora_ncs::event_name);
    // Fields of a recording event that had to be read as absent (a wrong type, a second
    // spelling): the event keeps its type, and this says what was left out.
    let anomalies: Vec<String> = event_type
        .map(|t| agora_ncs::RecordingEvent::parse_noting(t, &details).1)
        .unwrap_or_default();
    json!({
        "cursor": e.seq,
        "notice_id": e.notice_id,
        "project": e.project,
        "product_id": e.product_id,
        "event_type": e.event_type,
        "event_name": event_name,
        "sid": e.sid,
        "cname": e.cname,
        "uid": e.uid,
        "sequence": e.sequence,
        "sendts": e.sendts,
        "notify_ms": e.notify_ms,
        "received_at_ms": e.received_at_ms,
        "last_received_at_ms": e.last_received_at_ms,
        "deliveries": e.deliveries,
        "copy_of": e.copy_of,
        "health_check": e.product_id == 3
            && e.cname.as_deref() == Some(agora_ncs::HEALTH_CHECK_CNAME),
        "anomalies": anomalies,
        "details": details,
        "headers": headers,
        "body": body,
    })
}
