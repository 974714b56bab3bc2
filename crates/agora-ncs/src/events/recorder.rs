//! Events of the recorder (serviceType 1): 41–45 (40 is [`super::StatusDetails`]).

use crate::lenient as l;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// 41 `recorder_leave`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RecorderLeaveDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// Bitmask; decode with [`crate::leave_reasons`].
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub leave_code: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 42 `recorder_slice_start`: the first slice, and again after each auto-resume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceStartDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_utc_ms: Option<i64>,
    /// Equals `startUtcMs` normally; after an interruption, the end of the last good slice.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub discontinue_utc_ms: Option<i64>,
    #[serde(
        deserialize_with = "l::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub mixed_all_user: Option<bool>,
    /// `"0"` in composite mode.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub stream_uid: Option<String>,
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub track_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 43 audio / 44 video `recorder_*_stream_state_changed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StreamStateDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// `"0"` = the mixed stream in composite mode.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub stream_uid: Option<String>,
    /// 0 receiving, 1 not receiving.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub state: Option<i64>,
    /// Documented `UtcMs`; real handlers read `utcMs` (spec §9.4).
    #[serde(
        rename = "UtcMs",
        alias = "utcMs",
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub utc_ms: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 45 `recorder_snapshot_file`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SnapshotFileDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// `"<fileNamePrefix>/<name>.jpg"`.
    #[serde(
        alias = "filename",
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
