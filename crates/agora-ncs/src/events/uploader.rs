//! Events of the uploader (serviceType 2): 31, 32, 33 (30 is [`super::StatusDetails`]).

use super::FileEntry;
use crate::lenient as l;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// 31 `uploaded` and 32 `backuped`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UploadedDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// 0 normal; the 2021 CN examples send `"0"`.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    /// Absent for web page recording (its files come with event 71).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_list: Option<Vec<FileEntry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 33 `uploading_progress`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UploadingProgressDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// 0…10000 = uploaded / recorded × 10000.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub progress: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
