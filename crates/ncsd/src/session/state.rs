//! The shape of a folded session, as the API serves it (snake_case names;
//! file entries keep Agora's names, as they are Agora's objects).

use agora_ncs::{FileEntry, TranscodeUidResult};
use serde::Serialize;

pub use crate::summary::Phase;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SessionState {
    pub sid: String,
    pub cname: Option<String>,
    /// Recording uid of the lowest-sequence event (a failover adds others).
    pub uid: Option<String>,
    pub phase: Phase,
    /// Why the recording needs a look: `fatal_error` (an event 1 with `errorLevel` 5),
    /// `abnormal_status` (30, 31, 32 or 40 with a status other than 0), `gap` (sequences never
    /// received); the API adds `stalled` (no delivery for `--stall-after`).
    pub attention: Vec<&'static str>,
    /// From the first recording evidence to the recorder's leave (or the last event).
    pub duration_ms: Option<i64>,
    /// Latest service status of event 3 (spec §7.4), and its meaning.
    pub status: Option<i64>,
    pub status_description: Option<&'static str>,
    /// Raw: EN and CN docs disagree on what 0 and 1 mean (spec §9.1).
    pub recording_mode: Option<i64>,
    /// Distinct events, after removing resends and redundant-path copies.
    pub event_count: usize,
    pub max_sequence: Option<i64>,
    /// Sequences in `0..max_sequence` never received (lost notifications),
    /// ascending; at most [`MAX_MISSING_LISTED`] of them, see `missing_count`.
    pub missing_sequences: Vec<i64>,
    pub missing_count: i64,
    /// Min / max `sendts`.
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub recorder: Recorder,
    pub upload: Upload,
    /// From event 11: 0 normal, 1 abnormal.
    pub exit_status: Option<i64>,
    pub files: Vec<FileEntry>,
    pub slices: Vec<Slice>,
    pub streams: Vec<Stream>,
    /// Receiving intervals per (uid, kind) from events 43/44, by their own time.
    pub stream_intervals: Vec<StreamInterval>,
    /// `newUid` of each event 12, numbers as Agora sends them.
    pub failover_uids: Vec<i64>,
    pub errors: Vec<ErrorEntry>,
    pub warnings: Vec<WarningEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vod: Option<Vod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_recorder: Option<WebRecorder>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postponed_transcoding: Option<PostponedTranscoding>,
}

/// A hostile `sequence` (say 10^15) must not make the state huge.
pub const MAX_MISSING_LISTED: usize = 1000;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recorder {
    /// `sendts` of event 40.
    pub started_ms: Option<i64>,
    /// Event 41 bitmask and its decoded flag names.
    pub leave_code: Option<i64>,
    pub leave_reasons: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Upload {
    /// Progress of the event 33 with the highest sequence, 0…10000 (it goes down as well as up
    /// while recording; 10000 after the exit means every file is uploaded).
    pub progress: Option<i64>,
    pub uploaded: bool,
    pub backuped: bool,
}

/// One event 42: a slice started (first, or after an interruption).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slice {
    pub sequence: Option<i64>,
    pub start_ms: Option<i64>,
    pub discontinue_ms: Option<i64>,
    pub stream_uid: Option<String>,
    pub track_type: Option<String>,
    pub mixed_all_user: Option<bool>,
}

/// Latest receive state of one stream (events 43 audio / 44 video).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stream {
    /// `streamUid`; `"0"` is the mixed stream.
    pub uid: String,
    /// `"audio"` or `"video"`.
    pub kind: &'static str,
    pub receiving: bool,
    /// `UtcMs` of the change.
    pub since_ms: Option<i64>,
}

/// A stream received from `from_ms` to `to_ms` (null while still receiving).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamInterval {
    pub uid: String,
    /// `"audio"` or `"video"`.
    pub kind: &'static str,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// An error (event 1), or an event whose `status` says it went wrong (30, 31, 32, 40).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorEntry {
    pub event_type: u32,
    /// The abnormal `status` of a 30, 31, 32 or 40.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    pub sequence: Option<i64>,
    pub sendts: Option<i64>,
    pub module: Option<i64>,
    pub error_level: Option<i64>,
    pub error_code: Option<i64>,
    /// From the table of the error's module; null when undocumented.
    pub description: Option<&'static str>,
    pub error_msg: Option<String>,
    pub stat: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarningEntry {
    pub sequence: Option<i64>,
    pub sendts: Option<i64>,
    pub module: Option<i64>,
    pub warn_code: Option<i64>,
    /// Uploader (module 1) codes only; recorder codes are SDK warnings.
    pub description: Option<&'static str>,
}

/// ApsaraVideo VoD (60, 61).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Vod {
    pub video_id: Option<String>,
    pub triggered: bool,
}

/// Web page recording (70–73, 100).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebRecorder {
    /// `recorderStartTime` of event 70.
    pub started_ms: Option<i64>,
    pub stopped: Option<WebStopped>,
    /// `limitType` of each event 72.
    pub capability_limits: Vec<String>,
    /// `reason` of each event 73.
    pub reloads: Vec<String>,
    /// Latest event-100 status per `rtmpUrl`, sorted by URL.
    pub rtmp: Vec<RtmpStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebStopped {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub description: Option<&'static str>,
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RtmpStatus {
    pub rtmp_url: String,
    pub status: Option<String>,
    pub since_ms: Option<i64>,
}

/// Postponed transcoding (80, 81, 90, 1001).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PostponedTranscoding {
    pub started: bool,
    /// Event 81: `all_success`, `partial_success` or `fail`, with per-uid results.
    pub result: Option<String>,
    pub uids: Vec<TranscodeUidResult>,
    pub download_failures: Vec<DownloadFailure>,
    /// Event 1001: `total_success`, `partial_success` or `failed`.
    pub final_result: Option<String>,
}

/// One event 90.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DownloadFailure {
    pub vendor: Option<i64>,
    pub region: Option<i64>,
    pub bucket: Option<String>,
    pub files: Vec<String>,
}
