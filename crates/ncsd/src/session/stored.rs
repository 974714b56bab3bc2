//! The adapter from a stored event row to what the fold reads.

use serde_json::value::RawValue;
use serde_json::Value;

use super::{Details, StoredEvent};
use crate::store::EventRecord;

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
        Err(_) => serde_json::from_slice::<Value>(&e.body)
            .unwrap_or(Value::Null)
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
