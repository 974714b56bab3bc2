//! How a stored event looks in the API (`GET /v1/events/{noticeId}`, lists, and the live stream).

use serde_json::{json, Value};

use serde_json::value::RawValue;

use crate::session::{Details, StoredEvent};
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
    let event_name = if e.product_id == 3 {
        u32::try_from(e.event_type)
            .ok()
            .and_then(agora_ncs::event_name)
    } else {
        None
    };
    json!({
        "cursor": e.seq,
        "notice_id": e.notice_id,
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
        "details": details,
        "headers": headers,
        "body": body,
    })
}

/// The one part of a stored body the fold reads. Deserialising into this skips every other
/// field without building it, which is most of what a session read used to spend its time on.
#[derive(serde::Deserialize)]
struct DetailsOnly<'a> {
    #[serde(borrow, default)]
    payload: Option<PayloadDetails<'a>>,
}

#[derive(serde::Deserialize)]
struct PayloadDetails<'a> {
    #[serde(borrow, default)]
    details: Option<&'a RawValue>,
}

/// `payload.details` of a stored body, as its text, or null. A body the narrow read refuses
/// (a repeated key, say) is read whole, so the answer is the same as reading it whole.
fn details_of(e: &EventRecord) -> Details {
    match serde_json::from_slice::<DetailsOnly>(&e.body) {
        Ok(d) => d
            .payload
            .and_then(|p| p.details)
            .map(|raw| Details::from_raw(raw.to_owned()))
            .unwrap_or_default(),
        Err(_) => body_json(e)
            .get("payload")
            .and_then(|p| p.get("details"))
            .cloned()
            .unwrap_or(Value::Null)
            .into(),
    }
}

/// What the fold needs from a stored row.
pub fn stored_event(e: &EventRecord) -> Option<StoredEvent> {
    Some(StoredEvent {
        notice_id: e.notice_id.clone(),
        event_type: u32::try_from(e.event_type).ok()?,
        sequence: e.sequence,
        sendts: e.sendts,
        uid: e.uid.clone(),
        cname: e.cname.clone(),
        sid: e.sid.clone()?,
        details: details_of(e),
        received_at_ms: e.received_at_ms,
    })
}
