//! Postponed transcoding (serviceType 7/8): 81, 90, 1001 (80 is [`super::MsgOnlyDetails`]).

use super::FileEntry;
use crate::lenient as l;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// 81 `transcoder_completed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TranscoderCompletedDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// `"all_success"`, `"partial_success"` or `"fail"`.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uids: Option<Vec<TranscodeUidResult>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `uids[]` entry of event 81.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TranscodeUidResult {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<String>,
    /// `"success"` or `"fail"`.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_list: Option<Vec<FileEntry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 90 `download_failed`: files could not be fetched back from your storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DownloadFailedDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// `vendor`, `region`, `bucket`: as in the `start` request's storageConfig.
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub vendor: Option<i64>,
    #[serde(
        deserialize_with = "l::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<i64>,
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket: Option<String>,
    /// `;`-separated names that failed; CN docs spell it `filename`.
    #[serde(
        alias = "filename",
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DownloadFailedDetails {
    /// The failed file names, split on `;`.
    pub fn file_names(&self) -> Vec<&str> {
        self.file_name
            .as_deref()
            .map(|s| {
                s.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// 1001 `postpone_transcode_final_result`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PostponeTranscodeDetails {
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_name: Option<String>,
    /// `"total_success"`, `"partial_success"` or `"failed"`.
    #[serde(
        deserialize_with = "l::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_list: Option<Vec<FileEntry>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
