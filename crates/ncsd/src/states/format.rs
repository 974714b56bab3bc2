//! Which build wrote a kept answer. A session's state kept in the store (`keeper`) is served
//! only when it was written by a build that answers the same way, so a change to the fold or to
//! the answer's JSON makes every kept answer unusable (and the keeper writes them again).

use std::sync::LazyLock;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::session::{Folding, StoredEvent};
use crate::store::KeptState;

/// Marks the answers this build writes; an answer marked otherwise is folded again. Besides
/// the version and the phase rules' version it holds a digest of this build's answers for a
/// fixed set of recordings written out below (every kind of event, ending well and badly), so a
/// change to the fold or to the answer's JSON changes it even when nobody bumps a version.
pub fn format() -> &'static str {
    static FORMAT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "ncsd {} rules {} {}",
            env!("CARGO_PKG_VERSION"),
            crate::summary::RULES_VERSION,
            answers_digest()
        )
    });
    &FORMAT
}

/// The fixed recordings: (event type, details) in sequence order.
const RECORDINGS: [&[(u32, &str)]; 3] = [
    &[
        (30, r#"{"status":0}"#),
        (40, r#"{"status":0}"#),
        (3, r#"{"status":5,"recordingMode":1,"fileList":"r.m3u8"}"#),
        (
            42,
            r#"{"startUtcMs":1000,"discontinueUtcMs":1000,"streamUid":"0","trackType":"audio_and_video","mixedAllUser":true}"#,
        ),
        (43, r#"{"streamUid":"7","state":0,"UtcMs":1100}"#),
        (44, r#"{"streamUid":"7","state":0,"UtcMs":1200}"#),
        (4, r#"{"fileList":"r.m3u8"}"#),
        (33, r#"{"progress":5000}"#),
        (2, r#"{"module":1,"warnCode":31}"#),
        (45, r#"{"fileName":"p/a.jpg"}"#),
        (43, r#"{"streamUid":"7","state":1,"UtcMs":2100}"#),
        (41, r#"{"leaveCode":6}"#),
        (12, r#"{"newUid":4242}"#),
        (11, r#"{"exitStatus":0}"#),
        (
            31,
            r#"{"status":0,"fileList":[{"fileName":"r.m3u8","trackType":"audio_and_video","uid":"0","mixedAllUser":true,"isPlayable":true,"sliceStartTime":1000}]}"#,
        ),
        (33, r#"{"progress":10000}"#),
    ],
    &[
        (40, r#"{"status":0}"#),
        (
            1,
            r#"{"module":1,"errorLevel":5,"errorCode":47,"stat":1,"errorMsg":"upload failed"}"#,
        ),
        (3, r#"{"status":20}"#),
        (32, r#"{"status":1}"#),
        (11, r#"{"exitStatus":1}"#),
    ],
    &[
        (70, r#"{"recorderStartTime":1000}"#),
        (72, r#"{"limitType":"WebGL"}"#),
        (73, r#"{"reason":"audio_silence"}"#),
        (100, r#"{"rtmpUrl":"rtmp://x/y","status":"publishing"}"#),
        (60, r#"{"aliVodInfo":{"videoId":"v1"}}"#),
        (
            71,
            r#"{"code":0,"message":"ok","fileList":[{"fileName":"w.mp4","sliceStartTime":1000}]}"#,
        ),
        (80, r#"{}"#),
        (
            81,
            r#"{"result":"all_success","uids":[{"uid":"7","result":"success","fileList":[{"fileName":"t.mp4"}]}]}"#,
        ),
        (
            90,
            r#"{"vendor":1,"region":0,"bucket":"b","fileName":"a.ts;b.ts"}"#,
        ),
        (
            1001,
            r#"{"result":"total_success","fileList":[{"fileName":"t.mp4"}]}"#,
        ),
    ],
];

fn answers_digest() -> String {
    let mut digest = Sha256::new();
    for (i, recording) in RECORDINGS.iter().enumerate() {
        let sid = format!("digest-{i}");
        let events: Vec<StoredEvent> = recording
            .iter()
            .enumerate()
            .map(|(n, (event_type, details))| StoredEvent {
                notice_id: format!("{sid}-{n}"),
                event_type: *event_type,
                sequence: Some(n as i64),
                sendts: Some(1_700_000_000_000 + n as i64 * 1000),
                uid: Some("100".into()),
                cname: Some("room".into()),
                sid: sid.clone(),
                details: serde_json::from_str::<serde_json::Value>(details)
                    .unwrap_or_default()
                    .into(),
                received_at_ms: 1_700_000_000_000 + n as i64 * 1000,
            })
            .collect();
        let state = Folding::new(&sid, &events).state();
        // A state always serialises (it is plain data).
        digest.update(serde_json::to_vec(&state).unwrap_or_default());
    }
    hex::encode(&digest.finalize()[..8])
}
/// A kept answer this build can serve (the store already matched its `last_seq` with the
/// session's newest).
pub fn usable(kept: KeptState) -> Option<Bytes> {
    (kept.format == format()).then(|| Bytes::from(kept.json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_the_same_every_time_it_is_computed() {
        // A digest that varied (a map's iteration order leaking into the JSON, say) would make
        // every kept answer unusable after a restart.
        assert_eq!(answers_digest(), answers_digest());
        let prefix = format!(
            "ncsd {} rules {} ",
            env!("CARGO_PKG_VERSION"),
            crate::summary::RULES_VERSION
        );
        assert!(format().starts_with(&prefix), "{}", format());
        assert_eq!(format().len(), prefix.len() + 16);
    }
}
