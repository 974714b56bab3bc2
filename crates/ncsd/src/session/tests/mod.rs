//! Tests of the fold. `rules`: one table or case per rule of the state;
//! `scenarios`: whole sessions and the sections built from several events;
//! `props`: order and duplication never matter.

mod props;
mod rules;
mod scenarios;

use super::{fold, StoredEvent};
use serde_json::Value;

/// An event of sid "s" by recording uid "100"; `sendts` follows the sequence.
pub fn ev(notice_id: &str, event_type: u32, sequence: i64, details: Value) -> StoredEvent {
    StoredEvent {
        notice_id: notice_id.to_owned(),
        event_type,
        sequence: Some(sequence),
        sendts: Some(1_000_000 + sequence * 1000),
        uid: Some("100".into()),
        cname: Some("room".into()),
        sid: "s".into(),
        details: details.into(),
        received_at_ms: 5_000_000 + sequence,
    }
}

/// Events from (type, details) in sequence order, notice ids "n00", "n01", ...
pub fn session(list: &[(u32, Value)]) -> Vec<StoredEvent> {
    list.iter()
        .enumerate()
        .map(|(i, (t, d))| ev(&format!("n{i:02}"), *t, i as i64, d.clone()))
        .collect()
}

pub fn phase_of(list: &[(u32, Value)]) -> &'static str {
    fold("s", &session(list)).phase.as_str()
}
