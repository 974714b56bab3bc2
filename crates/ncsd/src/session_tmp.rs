//! TEMPORARY until the fold lands.
use serde::Serialize;
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent { pub notice_id: String, pub event_type: u32, pub sequence: Option<i64>, pub sendts: Option<i64>, pub uid: Option<String>, pub cname: Option<String>, pub sid: String, pub details: serde_json::Value, pub received_at_ms: i64 }
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionState { pub sid: String }
pub fn fold(sid: &str, _events: &[StoredEvent]) -> SessionState { SessionState { sid: sid.into() } }
pub fn distinct_ordered(events: &[StoredEvent]) -> Vec<&StoredEvent> { events.iter().collect() }
