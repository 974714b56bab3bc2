//! Typed `details` for every documented Cloud Recording event (spec §6, §6.1).
//!
//! The catalogue below is the single table mapping an event type to its
//! variant, its details type and its documented `msgName`; `parse`,
//! `event_type`, `name`, `to_details` and [`event_name`] are all generated
//! from it so they cannot drift apart.
//!
//! Every details struct is lenient (see [`crate::lenient`]), keeps unknown
//! fields in `extra`, and serialises back under Agora's names. Parsing never
//! fails: what does not fit stays raw in [`RecordingEvent::Unknown`].

mod common;
mod extension;
mod recorder;
mod service;
mod transcode;
mod uploader;

pub use common::{FileEntry, MsgOnlyDetails, StatusDetails};
pub use extension::{
    AliVodInfo, CapabilityLimitDetails, RtmpPublishStatusDetails, VodStartedDetails,
    WebRecorderReloadDetails, WebRecorderStartedDetails, WebRecorderStoppedDetails,
};
pub use recorder::{
    RecorderLeaveDetails, SliceStartDetails, SnapshotFileDetails, StreamStateDetails,
};
pub use service::{
    ErrorDetails, FileInfosDetails, SessionExitDetails, SessionFailoverDetails,
    StatusUpdateDetails, WarningDetails,
};
pub use transcode::{
    DownloadFailedDetails, PostponeTranscodeDetails, TranscodeUidResult, TranscoderCompletedDetails,
};
pub use uploader::{UploadedDetails, UploadingProgressDetails};

use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $code:literal $name:literal => $variant:ident($ty:ty), )*) => {
        /// A Cloud Recording event with its `details` typed.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub enum RecordingEvent {
            $( $(#[$doc])* $variant($ty), )*
            /// An undocumented event type (13, 34, 46, ...) or a documented one
            /// whose details did not fit its type: kept raw.
            Unknown { event_type: u32, details: Value },
        }

        impl RecordingEvent {
            /// Type `details` for `event_type`. Never fails.
            pub fn parse(event_type: u32, details: &Value) -> RecordingEvent {
                Self::parse_noting(event_type, details).0
            }

            /// [`RecordingEvent::parse`], with the fields that had to be dropped to type the
            /// details (a field of the wrong type, a second spelling of one): the event keeps
            /// its type and those fields read as absent.
            pub fn parse_noting(event_type: u32, details: &Value) -> (RecordingEvent, Vec<String>) {
                // A details that is not an object cannot be any documented
                // event; keeping it raw also keeps it byte-for-byte.
                if let Some(map) = details.as_object() {
                    match event_type {
                        $( $code => {
                            if let Ok(d) = <$ty>::deserialize(details) {
                                return (RecordingEvent::$variant(d), Vec::new());
                            }
                            if let (Some(d), dropped) = crate::lenient::salvage::<$ty>(map) {
                                return (RecordingEvent::$variant(d), dropped);
                            }
                        } )*
                        _ => {}
                    }
                }
                let raw = RecordingEvent::Unknown {
                    event_type,
                    details: details.clone(),
                };
                (raw, Vec::new())
            }

            /// [`RecordingEvent::parse`] from the details' JSON text (as stored), typed
            /// straight from the text instead of through a JSON tree first, which is most
            /// of the cost of folding a session. The same result as `parse` on the parsed
            /// text: text the direct route refuses (a repeated key, say) takes `parse`'s.
            pub fn parse_str(event_type: u32, details: &str) -> RecordingEvent {
                if details.trim_start().starts_with('{') {
                    let typed = match event_type {
                        $( $code => serde_json::from_str::<$ty>(details).ok().map(RecordingEvent::$variant), )*
                        _ => None,
                    };
                    if let Some(t) = typed {
                        return t;
                    }
                }
                let value = serde_json::from_str(details).unwrap_or(Value::Null);
                Self::parse(event_type, &value)
            }

            pub fn event_type(&self) -> u32 {
                match self {
                    $( RecordingEvent::$variant(_) => $code, )*
                    RecordingEvent::Unknown { event_type, .. } => *event_type,
                }
            }

            /// The documented `msgName`, or `"unknown"` for [`RecordingEvent::Unknown`].
            pub fn name(&self) -> &'static str {
                match self {
                    $( RecordingEvent::$variant(_) => $name, )*
                    RecordingEvent::Unknown { .. } => "unknown",
                }
            }

            /// The details back as JSON, under Agora's field names.
            pub fn to_details(&self) -> Value {
                match self {
                    $( RecordingEvent::$variant(d) => {
                        serde_json::to_value(d).expect("details serialise to JSON")
                    } )*
                    RecordingEvent::Unknown { details, .. } => details.clone(),
                }
            }
        }

        /// Documented `msgName` of a Cloud Recording event type; `None` when undocumented.
        pub fn event_name(event_type: u32) -> Option<&'static str> {
            match event_type {
                $( $code => Some($name), )*
                _ => None,
            }
        }

        /// Every documented event type, ascending.
        pub const EVENT_TYPES: &[u32] = &[$( $code, )*];
    };
}

catalogue! {
    1 "cloud_recording_error" => Error(ErrorDetails),
    2 "cloud_recording_warning" => Warning(WarningDetails),
    3 "cloud_recording_status_update" => StatusUpdate(StatusUpdateDetails),
    /// First upload of the M3U8 only.
    4 "cloud_recording_file_infos" => FileInfos(FileInfosDetails),
    11 "session_exit" => SessionExit(SessionExitDetails),
    12 "session_failover" => SessionFailover(SessionFailoverDetails),
    30 "uploader_started" => UploaderStarted(StatusDetails),
    31 "uploaded" => Uploaded(UploadedDetails),
    /// At least one file went through Agora Cloud Backup.
    32 "backuped" => Backuped(UploadedDetails),
    33 "uploading_progress" => UploadingProgress(UploadingProgressDetails),
    40 "recorder_started" => RecorderStarted(StatusDetails),
    41 "recorder_leave" => RecorderLeave(RecorderLeaveDetails),
    42 "recorder_slice_start" => SliceStart(SliceStartDetails),
    43 "recorder_audio_stream_state_changed" => AudioStreamStateChanged(StreamStateDetails),
    44 "recorder_video_stream_state_changed" => VideoStreamStateChanged(StreamStateDetails),
    45 "recorder_snapshot_file" => SnapshotFile(SnapshotFileDetails),
    60 "vod_started" => VodStarted(VodStartedDetails),
    61 "vod_triggered" => VodTriggered(MsgOnlyDetails),
    70 "web_recorder_started" => WebRecorderStarted(WebRecorderStartedDetails),
    71 "web_recorder_stopped" => WebRecorderStopped(WebRecorderStoppedDetails),
    72 "web_recorder_capability_limit" => WebRecorderCapabilityLimit(CapabilityLimitDetails),
    73 "web_recorder_reload" => WebRecorderReload(WebRecorderReloadDetails),
    /// Postponed transcoding started.
    80 "transcoder_started" => TranscoderStarted(MsgOnlyDetails),
    81 "transcoder_completed" => TranscoderCompleted(TranscoderCompletedDetails),
    90 "download_failed" => DownloadFailed(DownloadFailedDetails),
    100 "rtmp_publish_status" => RtmpPublishStatus(RtmpPublishStatusDetails),
    1001 "postpone_transcode_final_result" => PostponeTranscodeFinalResult(PostponeTranscodeDetails),
}
