//! What a payload is, decided from (productId, eventType) and its shape.
//!
//! Routing must never fail: anything we cannot type is `Notice::Other` and is
//! stored as-is (spec §10.3), so an unknown product or a surprising payload
//! is still acked.

use crate::envelope::CLOUD_RECORDING;
use crate::events::RecordingEvent;
use crate::payload::RecordingPayload;
use crate::transcoder::{TranscoderPayload, SERVICE_SCENE};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Product 3 with a Cloud Recording payload.
    CloudRecording(RecordingNotice),
    /// Events 110–113 on product 3, or any product whose payload says
    /// `serviceScene: "rtsc/cloud-transcoder"`.
    CloudTranscoder(TranscoderPayload),
    /// Everything else (RTC, STT, unknown products, unreadable payloads).
    Other { product_id: u32, event_type: u32 },
}

/// A Cloud Recording payload with its `details` typed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingNotice {
    pub payload: RecordingPayload,
    pub event: RecordingEvent,
}

/// Classify one payload. See [`Notice`] for the rules.
pub fn classify(product_id: u32, event_type: u32, payload: &Map<String, Value>) -> Notice {
    let other = Notice::Other {
        product_id,
        event_type,
    };
    let transcoder_scene =
        payload.get("serviceScene").and_then(Value::as_str) == Some(SERVICE_SCENE);
    // RTC (product 1) also has events 111/112, so the event number alone is
    // not enough outside product 3.
    let transcoder_event = (110..=113).contains(&event_type);
    let is_transcoder = (transcoder_event && (product_id == CLOUD_RECORDING || transcoder_scene))
        || (product_id == CLOUD_RECORDING && transcoder_scene);
    if is_transcoder {
        return TranscoderPayload::from_map(payload)
            .map(Notice::CloudTranscoder)
            .unwrap_or(other);
    }
    if product_id != CLOUD_RECORDING {
        return other;
    }
    match RecordingPayload::from_map(payload) {
        Ok(payload) => {
            let event = RecordingEvent::parse(event_type, &payload.details);
            Notice::CloudRecording(RecordingNotice { payload, event })
        }
        Err(_) => other,
    }
}
