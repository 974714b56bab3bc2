//! `payload.details` of a stored event, kept as its JSON text.
//!
//! Folding a session types every event's details; building a JSON tree first and typing from
//! the tree was most of the cost of a session read. So the text is kept and typed directly
//! (`RecordingEvent::parse_str`, which gives what typing the tree gives); a tree is built only
//! where one is needed: telling redundant copies apart, which is rare.

use std::fmt;

use agora_ncs::RecordingEvent;
use serde_json::value::RawValue;
use serde_json::Value;

#[derive(Clone)]
pub struct Details(Box<RawValue>);

impl Details {
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        Details(raw)
    }

    /// The details typed for `event_type`.
    pub fn typed(&self, event_type: u32) -> RecordingEvent {
        RecordingEvent::parse_str(event_type, self.0.get())
    }

    /// The details as a JSON tree.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl From<Value> for Details {
    fn from(v: Value) -> Self {
        // Serialising a JSON tree cannot fail: its keys are strings.
        Details(serde_json::value::to_raw_value(&v).expect("a JSON value serialises"))
    }
}

impl Default for Details {
    fn default() -> Self {
        Value::Null.into()
    }
}

/// Equal when the JSON is, whatever the spacing or key order of the text.
impl PartialEq for Details {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}
