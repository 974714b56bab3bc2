//! The Cloud Recording `payload` (spec §5): who, which session, which order.
//!
//! `details` stays raw here; [`crate::RecordingEvent::parse`] types it once
//! the event type is known.

use crate::lenient;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
    /// Recording client uid. Documented as a string; numbers are accepted and
    /// kept as their decimal text.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Per-session serial number from 0; a string in the legacy format.
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence: Option<i64>,
    /// Unix ms when the event occurred.
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub sendts: Option<i64>,
    #[serde(
        rename = "serviceType",
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_type: Option<i64>,
    /// CN docs only (`rtc_record`, `web_record`, ...).
    #[serde(
        rename = "serviceScene",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_scene: Option<String>,
    /// Event-specific object, raw.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// Anything else Agora sends (legacy `noticeLevel`, future fields).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RecordingPayload {
    /// Read a payload object; `Err` when a documented field has an impossible
    /// type (e.g. `cname` is an object).
    pub fn from_map(map: &Map<String, Value>) -> Result<Self, serde_json::Error> {
        Self::deserialize(map)
    }
}
