//! Details shapes shared by several events, and the file entry of `fileList`.

use crate::lenient as l;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Events whose details are only `msgName` (61 `vod_triggered`, 80 `transcoder_started`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsgOnlyDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `msgName` + `status` (0 = normal): 30 `uploader_started`, 40 `recorder_started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatusDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of a `fileList` array (31/32 carry all fields; 71, 81 and 1001
/// only some). `filename` is accepted for `fileName` (spec §9.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FileEntry {
    #[serde(
        alias = "filename",
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_name: Option<String>,
    /// `"audio"`, `"video"` or `"audio_and_video"`.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub track_type: Option<String>,
    /// Recorded user; `"0"` in composite mode.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<String>,
    #[serde(
        deserialize_with = "l::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub mixed_all_user: Option<bool>,
    #[serde(
        deserialize_with = "l::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_playable: Option<bool>,
    /// Unix ms when recording of this file started.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub slice_start_time: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
