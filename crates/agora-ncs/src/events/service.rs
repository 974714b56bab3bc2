//! Events of the cloud recording service itself (serviceType 0): 1, 2, 3, 4, 11, 12.

use crate::lenient as l;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// 1 `cloud_recording_error`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// 0 recorder, 1 uploader, 2 cloud recording service, 6 web page recording.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub module: Option<i64>,
    /// 1 debug … 5 fatal (the service may exit: call `query`).
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_level: Option<i64>,
    /// Decode with [`crate::describe_error`]: its table depends on `module`.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_code: Option<i64>,
    /// 0 normal, anything else abnormal.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub stat: Option<i64>,
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_msg: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 2 `cloud_recording_warning`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WarningDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// 0 recorder (SDK warning codes), 1 uploader (spec §7.2).
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub module: Option<i64>,
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub warn_code: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 3 `cloud_recording_status_update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatusUpdateDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// Service status, spec §7.4 (20 = abnormal exit).
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    /// Raw: EN and CN docs give opposite meanings for 0 and 1 (spec §9.1).
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub recording_mode: Option<i64>,
    /// M3U8 file name.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_list: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 4 `cloud_recording_file_infos`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FileInfosDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// M3U8 file name (a string here, unlike the array of 31/32).
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_list: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 11 `session_exit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionExitDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// 0 normal, 1 abnormal. The EN doc of 2021-02 called it `leaveStatus`.
    #[serde(
        alias = "leaveStatus",
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub exit_status: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 12 `session_failover`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionFailoverDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// The new random recording uid; documented as a number, unlike `payload.uid`.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub new_uid: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
