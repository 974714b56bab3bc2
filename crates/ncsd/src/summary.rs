//! The per-session summary row kept at ingest time. Each event contributes bits that are merged
//! with bit-or, so the row never depends on arrival order or on which instance wrote it; the
//! list endpoint derives a session's phase from these bits with the same rules as the fold.

use agora_ncs::RecordingEvent;

pub const FAILED: i64 = 1;
pub const EXIT_OK: i64 = 2;
pub const UPLOADED: i64 = 4;
pub const WEB_STOPPED_WITH_FILES: i64 = 8;
pub const UPLOADING: i64 = 16;
pub const RECORDING: i64 = 32;

/// Bits one event contributes to its session.
pub fn flags_for(event: &RecordingEvent) -> i64 {
    match event {
        RecordingEvent::SessionExit(d) => match d.exit_status {
            Some(0) => EXIT_OK | UPLOADING,
            Some(1) => FAILED | UPLOADING,
            _ => UPLOADING,
        },
        RecordingEvent::StatusUpdate(d) if d.status == Some(20) => FAILED,
        RecordingEvent::Error(d) if d.error_level == Some(5) => FAILED,
        RecordingEvent::Uploaded(_) | RecordingEvent::Backuped(_) => UPLOADED,
        RecordingEvent::WebRecorderStopped(d)
            if d.file_list.as_ref().is_some_and(|l| !l.is_empty()) =>
        {
            WEB_STOPPED_WITH_FILES
        }
        RecordingEvent::RecorderLeave(_) => UPLOADING,
        RecordingEvent::RecorderStarted(_) | RecordingEvent::SliceStart(_) => RECORDING,
        _ => 0,
    }
}

/// Where a recording stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Failed,
    Completed,
    Uploading,
    Recording,
    #[default]
    Starting,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Failed => "failed",
            Phase::Completed => "completed",
            Phase::Uploading => "uploading",
            Phase::Recording => "recording",
            Phase::Starting => "starting",
        }
    }
}

/// Phase from merged bits: the first that holds of failed, completed, uploading, recording.
pub fn phase(flags: i64) -> Phase {
    if flags & FAILED != 0 {
        Phase::Failed
    } else if (flags & EXIT_OK != 0 && flags & UPLOADED != 0) || flags & WEB_STOPPED_WITH_FILES != 0
    {
        Phase::Completed
    } else if flags & UPLOADING != 0 {
        Phase::Uploading
    } else if flags & RECORDING != 0 {
        Phase::Recording
    } else {
        Phase::Starting
    }
}

pub const PHASES: [&str; 5] = ["failed", "completed", "uploading", "recording", "starting"];

/// The same rule as [`phase`], as SQL over a `flags` column (valid in SQLite and PostgreSQL).
pub const PHASE_SQL: &str = "CASE \
    WHEN flags & 1 <> 0 THEN 'failed' \
    WHEN (flags & 2 <> 0 AND flags & 4 <> 0) OR flags & 8 <> 0 THEN 'completed' \
    WHEN flags & 16 <> 0 THEN 'uploading' \
    WHEN flags & 32 <> 0 THEN 'recording' \
    ELSE 'starting' END";

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_str(flags: i64) -> &'static str {
        phase(flags).as_str()
    }

    #[test]
    fn phase_precedence() {
        assert_eq!(phase_str(0), "starting");
        assert_eq!(phase_str(RECORDING), "recording");
        assert_eq!(phase_str(RECORDING | UPLOADING), "uploading");
        assert_eq!(phase_str(UPLOADING | EXIT_OK), "uploading");
        assert_eq!(phase_str(UPLOADING | EXIT_OK | UPLOADED), "completed");
        assert_eq!(phase_str(WEB_STOPPED_WITH_FILES), "completed");
        assert_eq!(phase_str(FAILED | EXIT_OK | UPLOADED), "failed");
    }

    #[test]
    fn events_contribute_bits() {
        let exit1 = RecordingEvent::parse(11, &serde_json::json!({"exitStatus": 1}));
        assert_eq!(phase_str(flags_for(&exit1)), "failed");
        let fatal = RecordingEvent::parse(1, &serde_json::json!({"errorLevel": 5, "module": 0}));
        assert_eq!(phase_str(flags_for(&fatal)), "failed");
        let minor = RecordingEvent::parse(1, &serde_json::json!({"errorLevel": 2, "module": 0}));
        assert_eq!(flags_for(&minor), 0);
        let web = RecordingEvent::parse(
            71,
            &serde_json::json!({"code": 0, "fileList": [{"fileName": "a.mp4"}]}),
        );
        assert_eq!(phase_str(flags_for(&web)), "completed");
    }
}
