//! Arbitrary bytes as an NCS request body.
//!
//! Properties:
//! - `Envelope::from_slice` never panics, whatever the bytes;
//! - an accepted envelope survives `to_value` unchanged, both as a value
//!   (`from_value`) and as bytes (`from_slice(to_vec(..))`);
//! - `notice()` (classification) never panics;
//! - `RecordingEvent::parse` never panics on the payload's `details`, under
//!   the envelope's own event type and under every documented one.
#![no_main]

use agora_ncs::{event_name, Envelope, RecordingEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::from_slice(data) else {
        return;
    };

    let value = env.to_value();
    let from_value = Envelope::from_value(value.clone())
        .unwrap_or_else(|e| panic!("to_value() output rejected by from_value: {e}\n{value}"));
    assert_eq!(env, from_value, "from_value(to_value()) differs");

    let bytes = serde_json::to_vec(&value).expect("a Value always serialises");
    let from_bytes = Envelope::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("to_value() bytes rejected by from_slice: {e}\n{value}"));
    assert_eq!(env, from_bytes, "from_slice(to_vec(to_value())) differs");

    let _ = env.notice();
    let _ = env.session_id();
    let _ = env.is_health_check();

    if let Some(details) = env.payload.get("details") {
        check_event(env.event_type, details);
        // The fuzzer rarely pairs an eventType with the details shape it
        // needs, so try every documented Cloud Recording event too.
        for t in (0..=120).chain([1001]) {
            if t != env.event_type && event_name(t).is_some() {
                check_event(t, details);
            }
        }
    }
});

fn check_event(event_type: u32, details: &serde_json::Value) {
    let event = RecordingEvent::parse(event_type, details);
    let _ = event.name();
    let _ = event.to_details();
    assert_eq!(event.event_type(), event_type);
}
