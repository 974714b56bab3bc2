//! The per-session summary row kept at ingest time. Each event contributes bits that are merged
//! with bit-or, so the row never depends on arrival order or on which instance wrote it; the
//! list endpoint derives a session's phase from these bits with the same rules as the fold.

use agora_ncs::RecordingEvent;

// Evidence bits (spec §6.1, §7.4). Each names what one event shows, never a phase: the phase is
// decided from all of them together by `phase`.
/// 11 with `exitStatus` 1.
pub const EXIT_FAILED: i64 = 1;
/// 11 with `exitStatus` 0: "recording ended and files uploaded, then the service exited".
pub const EXIT_OK: i64 = 2;
/// 31 or 32 with status 0: every file uploaded (so recording ended).
pub const UPLOADED: i64 = 4;
/// 71 with a non-empty `fileList`.
pub const WEB_STOPPED_WITH_FILES: i64 = 8;
/// 41 with `leaveCode` other than 0; 3 with status 6, 7 or 8.
pub const UPLOADING: i64 = 16;
/// 40 with status 0; 42; 4; 43; 44; 33; 45; 3 with status 1 to 5.
pub const RECORDING: i64 = 32;
/// 3 with status 20 (abnormal exit).
pub const STATUS_FAILED: i64 = 64;
/// 41 with `leaveCode` 0 (`LEAVE_CODE_INIT`: initialisation failed).
pub const INIT_FAILED: i64 = 128;
/// 1 with `errorLevel` 5: not terminal by itself, a reason for attention.
pub const FATAL_ERROR: i64 = 256;
/// 30, 31, 32 or 40 with a status other than 0: not evidence of its phase.
pub const ABNORMAL_STATUS: i64 = 512;

const COMPLETE_EVIDENCE: i64 = EXIT_OK | UPLOADED | WEB_STOPPED_WITH_FILES;
const FAILED_EVIDENCE: i64 = EXIT_FAILED | STATUS_FAILED | INIT_FAILED;

/// The phase rules' version (with how events are read: a change to either changes the bits).
/// Stored derived data (the summary rows' bits, kept answers) made by other rules is derived
/// again at start-up. 3: a field of the wrong type no longer makes an event unknown.
pub const RULES_VERSION: i64 = 3;

/// A status absent from the body counts as 0 (normal): older API versions omit it.
fn normal(status: Option<i64>) -> bool {
    status.unwrap_or(0) == 0
}

/// Bits one event contributes to its session.
pub fn flags_for(event: &RecordingEvent) -> i64 {
    use RecordingEvent as E;
    match event {
        E::SessionExit(d) => match d.exit_status {
            Some(0) => EXIT_OK,
            Some(1) => EXIT_FAILED,
            _ => 0,
        },
        E::StatusUpdate(d) => match d.status {
            Some(1..=5) => RECORDING,
            Some(6..=8) => UPLOADING,
            Some(20) => STATUS_FAILED,
            _ => 0,
        },
        E::Error(d) if d.error_level == Some(5) => FATAL_ERROR,
        E::Uploaded(d) | E::Backuped(d) if normal(d.status) => UPLOADED,
        E::Uploaded(_) | E::Backuped(_) => ABNORMAL_STATUS,
        E::UploaderStarted(d) if !normal(d.status) => ABNORMAL_STATUS,
        E::RecorderStarted(d) if normal(d.status) => RECORDING,
        E::RecorderStarted(_) => ABNORMAL_STATUS,
        E::WebRecorderStopped(d) if d.file_list.as_ref().is_some_and(|l| !l.is_empty()) => {
            WEB_STOPPED_WITH_FILES
        }
        E::RecorderLeave(d) if d.leave_code == Some(0) => INIT_FAILED,
        E::RecorderLeave(_) => UPLOADING,
        E::SliceStart(_)
        | E::FileInfos(_)
        | E::AudioStreamStateChanged(_)
        | E::VideoStreamStateChanged(_)
        | E::UploadingProgress(_)
        | E::SnapshotFile(_) => RECORDING,
        _ => 0,
    }
}

/// An exit's place among a session's exits: `sequence * 2 + exitStatus` for an event 11 with
/// status 0 or 1, so the largest key is the exit with the highest sequence (-1: none). Merged
/// with max, it commutes like the bits.
pub fn exit_key(event_type: i64, sequence: Option<i64>, flags: i64) -> i64 {
    if event_type != 11 || flags & (EXIT_OK | EXIT_FAILED) == 0 {
        return NO_EXIT;
    }
    let seq = sequence.unwrap_or(0).clamp(0, i64::MAX / 4);
    seq * 2 + i64::from(flags & EXIT_FAILED != 0)
}

pub const NO_EXIT: i64 = -1;

/// Where a recording stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    #[default]
    Starting,
    Recording,
    Uploading,
    Completed,
    Failed,
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

    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Completed | Phase::Failed)
    }

    /// How far along: the terminal phases share the top rank (one can follow the other when
    /// later evidence decides).
    pub fn rank(self) -> u8 {
        match self {
            Phase::Starting => 0,
            Phase::Recording => 1,
            Phase::Uploading => 2,
            Phase::Completed | Phase::Failed => 3,
        }
    }
}

/// Phase from merged bits and the merged exit key: the most advanced phase with evidence. When
/// both terminal kinds have evidence, the exit with the highest sequence decides; without an
/// exit, completed wins.
pub fn phase(flags: i64, exit_key: i64) -> Phase {
    let complete = flags & COMPLETE_EVIDENCE != 0;
    let failed = flags & FAILED_EVIDENCE != 0;
    match (complete, failed) {
        (true, true) if exit_key >= 0 && exit_key % 2 == 1 => Phase::Failed,
        (true, _) => Phase::Completed,
        (false, true) => Phase::Failed,
        _ if flags & UPLOADING != 0 => Phase::Uploading,
        _ if flags & RECORDING != 0 => Phase::Recording,
        _ => Phase::Starting,
    }
}

pub const PHASES: [&str; 5] = ["failed", "completed", "uploading", "recording", "starting"];

/// The same rule as [`phase`], as SQL over `flags` and `exit_key` columns (valid in SQLite and
/// PostgreSQL).
pub const PHASE_SQL: &str = "CASE \
    WHEN flags & 14 <> 0 AND flags & 193 <> 0 AND exit_key >= 0 AND exit_key % 2 = 1 \
        THEN 'failed' \
    WHEN flags & 14 <> 0 THEN 'completed' \
    WHEN flags & 193 <> 0 THEN 'failed' \
    WHEN flags & 16 <> 0 THEN 'uploading' \
    WHEN flags & 32 <> 0 THEN 'recording' \
    ELSE 'starting' END";

/// Attention reasons the bits show (a gap and a stall are found elsewhere).
pub fn attention_bits(flags: i64) -> Vec<&'static str> {
    let mut out = Vec::new();
    if flags & FATAL_ERROR != 0 {
        out.push("fatal_error");
    }
    if flags & ABNORMAL_STATUS != 0 {
        out.push("abnormal_status");
    }
    out
}

/// Bits and exit key of one stored body (an NCS envelope), by the current rules; (0, NO_EXIT)
/// for anything that is not a Cloud Recording event.
pub fn derive(body: &[u8]) -> (i64, i64) {
    let Ok(env) = agora_ncs::Envelope::from_slice(body) else {
        return (0, NO_EXIT);
    };
    match env.notice() {
        agora_ncs::Notice::CloudRecording(n) => {
            let flags = flags_for(&n.event);
            (
                flags,
                exit_key(i64::from(env.event_type), n.payload.sequence, flags),
            )
        }
        _ => (0, NO_EXIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_str(flags: i64) -> &'static str {
        phase(flags, NO_EXIT).as_str()
    }

    #[test]
    fn phase_precedence() {
        assert_eq!(phase_str(0), "starting");
        assert_eq!(phase_str(FATAL_ERROR | ABNORMAL_STATUS), "starting");
        assert_eq!(phase_str(RECORDING), "recording");
        assert_eq!(phase_str(RECORDING | UPLOADING), "uploading");
        assert_eq!(phase_str(UPLOADING | EXIT_OK), "completed");
        assert_eq!(phase_str(UPLOADED), "completed");
        assert_eq!(phase_str(WEB_STOPPED_WITH_FILES), "completed");
        assert_eq!(phase_str(INIT_FAILED | RECORDING), "failed");
        assert_eq!(
            phase_str(STATUS_FAILED | UPLOADED),
            "completed",
            "no exit: completed wins"
        );
        let exit1 = exit_key(11, Some(9), EXIT_FAILED);
        assert_eq!(
            phase(STATUS_FAILED | UPLOADED | EXIT_FAILED, exit1),
            Phase::Failed
        );
        // Two exits: the higher sequence decides.
        let exit0 = exit_key(11, Some(12), EXIT_OK);
        let both = EXIT_OK | EXIT_FAILED;
        assert_eq!(phase(both, exit0.max(exit1)), Phase::Completed);
        let exit0_early = exit_key(11, Some(3), EXIT_OK);
        assert_eq!(phase(both, exit0_early.max(exit1)), Phase::Failed);
    }

    #[test]
    fn the_sql_rule_is_the_rust_rule() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for flags in 0..1024i64 {
            for key in [NO_EXIT, 0, 1, 6, 7] {
                let sql: String = conn
                    .query_row(
                        &format!("SELECT {PHASE_SQL} FROM (SELECT ?1 AS flags, ?2 AS exit_key)"),
                        [flags, key],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(sql, phase(flags, key).as_str(), "flags {flags} exit {key}");
            }
        }
    }

    #[test]
    fn events_contribute_bits() {
        let bits = |t: u32, d: serde_json::Value| flags_for(&RecordingEvent::parse(t, &d));
        assert_eq!(bits(11, serde_json::json!({"exitStatus": 1})), EXIT_FAILED);
        assert_eq!(
            bits(1, serde_json::json!({"errorLevel": 5, "module": 0})),
            FATAL_ERROR
        );
        assert_eq!(
            bits(1, serde_json::json!({"errorLevel": 2, "module": 0})),
            0
        );
        assert_eq!(bits(41, serde_json::json!({"leaveCode": 0})), INIT_FAILED);
        assert_eq!(bits(41, serde_json::json!({"leaveCode": 6})), UPLOADING);
        assert_eq!(bits(40, serde_json::json!({"status": 3})), ABNORMAL_STATUS);
        assert_eq!(bits(31, serde_json::json!({"status": 1})), ABNORMAL_STATUS);
        assert_eq!(bits(3, serde_json::json!({"status": 5})), RECORDING);
        assert_eq!(bits(3, serde_json::json!({"status": 7})), UPLOADING);
        assert_eq!(bits(3, serde_json::json!({"status": 20})), STATUS_FAILED);
        let web = serde_json::json!({"code": 0, "fileList": [{"fileName": "a.mp4"}]});
        assert_eq!(bits(71, web), WEB_STOPPED_WITH_FILES);
    }
}
