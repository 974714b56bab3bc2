//! The Cloud Transcoder payload (spec §8, events 110–113).
//!
//! It can arrive on the Cloud Recording product id (3) but has its own shape:
//! `taskId` instead of `sid`, `details.event` instead of `msgName`. Keeping it
//! separate stops it from being misread as a recording event.

use crate::lenient;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `serviceScene` of every Cloud Transcoder payload.
pub const SERVICE_SCENE: &str = "rtsc/cloud-transcoder";

/// Documented `details.event` for a Cloud Transcoder event type.
pub fn transcoder_event_name(event_type: u32) -> Option<&'static str> {
    Some(match event_type {
        110 => "cloud_transcoder_started",
        111 => "cloud_transcoder_stopped",
        112 => "cloud_transcoder_status",
        113 => "cloud_transcoder_updated",
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscoderPayload {
    #[serde(rename = "taskId", default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(
        rename = "instanceId",
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence: Option<i64>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub sendts: Option<i64>,
    #[serde(
        rename = "serviceScene",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_scene: Option<String>,
    #[serde(default)]
    pub details: TranscoderDetails,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TranscoderDetails {
    /// Takes the place of `msgName`, e.g. `"cloud_transcoder_started"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Documented as seconds, examples are ms (spec §9.18): kept as sent.
    #[serde(
        rename = "createTs",
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_ts: Option<i64>,
    #[serde(
        rename = "updateTs",
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_ts: Option<i64>,
    #[serde(
        rename = "stopReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_reason: Option<String>,
    /// `{inputs, outputs, userConfigDetail}`: kept raw, it mirrors the task config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcoder: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TranscoderPayload {
    pub fn from_map(map: &Map<String, Value>) -> Result<Self, serde_json::Error> {
        Self::deserialize(map)
    }
}
