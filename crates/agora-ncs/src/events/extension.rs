//! Extension services: ApsaraVideo VoD (60, 61) and web page recording (70–73, 100).

use super::FileEntry;
use crate::lenient as l;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// 60 `vod_started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VodStartedDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ali_vod_info: Option<AliVodInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `aliVodInfo` of event 60.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AliVodInfo {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub video_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 70 `web_recorder_started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebRecorderStartedDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// Unix ms.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub recorder_start_time: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 71 `web_recorder_stopped`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebRecorderStoppedDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// 0 `ok` … 6 `recorder_error`: [`crate::CodeKind::WebRecorderStop`].
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<i64>,
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    /// Human-readable detail (a string, despite the name).
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub details: Option<String>,
    /// `{fileName, sliceStartTime}` entries; the doc example spells `filename`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_list: Option<Vec<FileEntry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 72 `web_recorder_capability_limit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CapabilityLimitDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// `"resolution"`, `"WebGL"` or `"bandwidth"`.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 73 `web_recorder_reload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebRecorderReloadDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// `"audio_silence"` or `"page_load_timeout"`.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 100 `rtmp_publish_status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RtmpPublishStatusDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub rtmp_url: Option<String>,
    /// Documented as a number, but the values are strings: `"connecting"`,
    /// `"publishing"`, `"onhold"`, `"disconnected"` (spec §9.6).
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
