//! One case or table per rule: phase precedence, lost sequences, streams,
//! leave codes, deduplication, ordering, "latest" fields, unknown events.

use super::{ev, phase_of, session};
use crate::session::*;
use serde_json::{json, Value};

/// (case name, events as (type, details) in sequence order, expected phase)
type PhaseCase = (&'static str, Vec<(u32, Value)>, &'static str);

#[test]
fn phase_rules_in_precedence_order() {
    let files = json!({"status": 0, "fileList": [{"fileName": "a.m3u8", "uid": "0"}]});
    let cases: Vec<PhaseCase> = vec![
        ("nothing yet", vec![], "starting"),
        (
            "uploader only",
            vec![(30, json!({"status": 0}))],
            "starting",
        ),
        (
            "recorder started",
            vec![(40, json!({"status": 0}))],
            "recording",
        ),
        (
            "slice without 40 (lost)",
            vec![(42, json!({"streamUid": "0"}))],
            "recording",
        ),
        (
            "recorder left",
            vec![(40, json!({})), (41, json!({"leaveCode": 2}))],
            "uploading",
        ),
        (
            "exited, no upload report yet",
            vec![(40, json!({})), (11, json!({"exitStatus": 0}))],
            "uploading",
        ),
        (
            "uploaded but not exited",
            vec![(40, json!({})), (31, files.clone())],
            "recording",
        ),
        (
            "exit 0 and 31",
            vec![
                (40, json!({})),
                (41, json!({})),
                (11, json!({"exitStatus": 0})),
                (31, files.clone()),
            ],
            "completed",
        ),
        (
            "exit 0 and 32",
            vec![(11, json!({"exitStatus": 0})), (32, files.clone())],
            "completed",
        ),
        (
            "31 after 11 counts too",
            vec![(31, files.clone()), (11, json!({"exitStatus": 0}))],
            "completed",
        ),
        (
            "web stop with files",
            vec![
                (70, json!({})),
                (71, json!({"code": 0, "fileList": [{"filename": "w.mp4"}]})),
            ],
            "completed",
        ),
        (
            "web stop without files",
            vec![(70, json!({})), (71, json!({"code": 3, "fileList": []}))],
            "starting",
        ),
        (
            "abnormal exit",
            vec![(40, json!({})), (11, json!({"exitStatus": 1}))],
            "failed",
        ),
        (
            "status 20",
            vec![(40, json!({})), (3, json!({"status": 20}))],
            "failed",
        ),
        (
            "fatal error beats completed",
            vec![
                (1, json!({"errorLevel": 5})),
                (11, json!({"exitStatus": 0})),
                (31, files.clone()),
            ],
            "failed",
        ),
        (
            "major error is not fatal",
            vec![(40, json!({})), (1, json!({"errorLevel": 4}))],
            "recording",
        ),
        (
            "status 5 is not failure",
            vec![(3, json!({"status": 5}))],
            "starting",
        ),
        (
            "exit status as string",
            vec![(11, json!({"exitStatus": "1"}))],
            "failed",
        ),
    ];
    for (name, list, want) in cases {
        assert_eq!(phase_of(&list), want, "{name}");
    }
}

#[test]
fn missing_sequences_are_the_gaps_below_the_maximum() {
    let mut events = session(&[
        (40, json!({})),
        (43, json!({})),
        (44, json!({})),
        (42, json!({})),
    ]);
    events[1].sequence = Some(3); // 0, 3, 2... with 1 and 4, 5 lost
    events[3].sequence = Some(6);
    events[2].sequence = Some(2);
    let s = fold("s", &events);
    assert_eq!(
        (s.max_sequence, s.missing_sequences.clone(), s.missing_count),
        (Some(6), vec![1, 4, 5], 3)
    );

    let none = fold("s", &[]);
    assert_eq!(
        (
            none.max_sequence,
            none.missing_sequences.len(),
            none.event_count
        ),
        (None, 0, 0)
    );

    // A hostile sequence must not blow up the state.
    let mut huge = session(&[(40, json!({})), (41, json!({}))]);
    huge[1].sequence = Some(1_000_000_000_000_000);
    let s = fold("s", &huge);
    assert_eq!(s.missing_sequences.len(), MAX_MISSING_LISTED);
    assert_eq!(s.missing_sequences[..3], [1, 2, 3]);
    assert_eq!(s.missing_count, 1_000_000_000_000_000 - 1);
}

#[test]
fn streams_take_the_latest_change_by_sequence() {
    let events = vec![
        ev(
            "a",
            43,
            7,
            json!({"streamUid": "10", "state": 1, "UtcMs": 70}),
        ),
        ev(
            "b",
            43,
            2,
            json!({"streamUid": "10", "state": 0, "UtcMs": 20}),
        ),
        ev(
            "c",
            44,
            3,
            json!({"streamUid": "9", "state": 0, "utcMs": 30}),
        ),
        ev(
            "d",
            43,
            4,
            json!({"streamUid": "0", "state": 0, "UtcMs": 40}),
        ),
        ev(
            "e",
            44,
            1,
            json!({"streamUid": "0", "state": "1", "UtcMs": 10}),
        ),
        ev(
            "f",
            44,
            5,
            json!({"streamUid": "0", "state": 0, "UtcMs": 50}),
        ),
    ];
    let got: Vec<(String, &str, bool, Option<i64>)> = fold("s", &events)
        .streams
        .into_iter()
        .map(|s| (s.uid, s.kind, s.receiving, s.since_ms))
        .collect();
    assert_eq!(
        got,
        [
            ("0".into(), "audio", true, Some(40)),
            ("0".into(), "video", true, Some(50)),
            ("9".into(), "video", true, Some(30)),
            ("10".into(), "audio", false, Some(70)),
        ]
    );
}

#[test]
fn leave_code_is_decoded() {
    let s = fold(
        "s",
        &session(&[(40, json!({})), (41, json!({"leaveCode": 24}))]),
    );
    assert_eq!(s.recorder.leave_code, Some(24));
    assert_eq!(
        s.recorder.leave_reasons,
        ["LEAVE_CODE_TIMER_CATCH", "LEAVE_CODE_CLIENT_LEAVE"]
    );
    assert_eq!(s.recorder.started_ms, Some(1_000_000));
    let s = fold("s", &session(&[(41, json!({"leaveCode": 0}))]));
    assert_eq!(s.recorder.leave_reasons, ["LEAVE_CODE_INIT"]);
    assert!(fold("s", &session(&[(40, json!({}))]))
        .recorder
        .leave_reasons
        .is_empty());
}

#[test]
fn resends_and_redundant_copies_count_once() {
    let base = session(&[
        (40, json!({"status": 0})),
        (43, json!({"streamUid": "0", "state": 0})),
    ]);
    let mut events = base.clone();
    let mut resend = base[1].clone();
    resend.received_at_ms += 10_000; // a resend: same noticeId, later
    events.push(resend);
    let mut copy = base[1].clone();
    copy.notice_id = "0-other-path".into(); // a redundant-path copy, smaller id
    copy.details = json!({"state": 0, "streamUid": "0"}).into(); // same content, other key order
    events.push(copy);
    assert_eq!(fold("s", &events), fold("s", &base));
    assert_eq!(fold("s", &events).event_count, 2);
    let ids: Vec<&str> = distinct_ordered(&events)
        .iter()
        .map(|e| e.notice_id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["n00", "0-other-path"],
        "the copy with the smallest noticeId stands for both"
    );

    // Not copies: another uid (HA failover duplicate), other details, or no sequence.
    let mut ha = base[1].clone();
    ha.notice_id = "ha".into();
    ha.uid = Some("777".into());
    let mut other = base[1].clone();
    other.notice_id = "other".into();
    other.details = json!({"streamUid": "0", "state": 1}).into();
    let mut unsequenced = base[1].clone();
    unsequenced.sequence = None;
    let mut unsequenced2 = unsequenced.clone();
    unsequenced.notice_id = "u1".into();
    unsequenced2.notice_id = "u2".into();
    let all = [base.clone(), vec![ha, other, unsequenced, unsequenced2]].concat();
    assert_eq!(fold("s", &all).event_count, 6);
}

#[test]
fn order_is_sequence_then_sendts_then_notice_id_with_gaps_last() {
    let mut a = ev("z", 40, 1, json!({}));
    a.sendts = Some(5);
    let mut b = ev("y", 43, 1, json!({}));
    b.sendts = Some(5);
    let mut c = ev("x", 44, 1, json!({}));
    c.sendts = Some(4);
    let mut d = ev("w", 13, 0, json!({}));
    d.sequence = None;
    let mut e = ev("v", 42, 1, json!({}));
    e.sendts = None;
    let events = [a, b, c, d, e];
    let ids: Vec<&str> = distinct_ordered(&events)
        .iter()
        .map(|e| e.notice_id.as_str())
        .collect();
    assert_eq!(ids, ["x", "y", "z", "v", "w"]);
}

#[test]
fn status_and_mode_are_the_latest_by_sequence() {
    let mut events = session(&[
        (3, json!({"status": 4, "recordingMode": 0})),
        (3, json!({"status": 5})),
    ]);
    events.reverse();
    let s = fold("s", &events);
    assert_eq!(
        (s.status, s.recording_mode, s.status_description),
        (Some(5), Some(0), Some("first file uploaded (recording)"))
    );
}

#[test]
fn unknown_events_count_but_change_nothing_else() {
    let base = session(&[(40, json!({})), (41, json!({"leaveCode": 4}))]);
    let mut with_unknown = base.clone();
    let mut unknown = ev("u", 13, 0, json!({"msgName": "ha_register_success"}));
    unknown.sequence = None;
    unknown.sendts = None;
    with_unknown.push(unknown);
    let mut a = fold("s", &with_unknown);
    assert_eq!(a.event_count, 3);
    a.event_count = 2;
    assert_eq!(a, fold("s", &base));
}
