//! One case or table per rule: phase precedence, lost sequences, streams,
//! leave codes, deduplication, ordering, "latest" fields, unknown events.

use super::{ev, phase_of, session};
use crate::session::*;
use serde_json::{json, Value};

/// (case name, events as (type, details) in sequence order, expected phase)
type PhaseCase = (&'static str, Vec<(u32, Value)>, &'static str);

/// The phase table (README "Phases"), one case per row and rule. Each case is also folded
/// with its events stored in reverse order: the phase depends on the set, not the arrival.
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
        ("40 status 0", vec![(40, json!({"status": 0}))], "recording"),
        (
            "40 abnormal is no evidence",
            vec![(40, json!({"status": 2}))],
            "starting",
        ),
        (
            "42 (40 lost)",
            vec![(42, json!({"streamUid": "0"}))],
            "recording",
        ),
        ("4", vec![(4, json!({"fileList": "a.m3u8"}))], "recording"),
        (
            "43",
            vec![(43, json!({"streamUid": "1", "state": 0}))],
            "recording",
        ),
        (
            "44",
            vec![(44, json!({"streamUid": "1", "state": 1}))],
            "recording",
        ),
        ("33", vec![(33, json!({"progress": 0}))], "recording"),
        (
            "45",
            vec![(45, json!({"fileName": "p/a.jpg"}))],
            "recording",
        ),
        ("3 status 1", vec![(3, json!({"status": 1}))], "recording"),
        ("3 status 5", vec![(3, json!({"status": 5}))], "recording"),
        (
            "3 status 0 says nothing",
            vec![(3, json!({"status": 0}))],
            "starting",
        ),
        (
            "41 leaveCode 2",
            vec![(40, json!({})), (41, json!({"leaveCode": 2}))],
            "uploading",
        ),
        (
            "3 status 6",
            vec![(40, json!({})), (3, json!({"status": 6}))],
            "uploading",
        ),
        ("3 status 7", vec![(3, json!({"status": 7}))], "uploading"),
        ("3 status 8", vec![(3, json!({"status": 8}))], "uploading"),
        (
            "11 exit 0: ended and uploaded",
            vec![(40, json!({})), (11, json!({"exitStatus": 0}))],
            "completed",
        ),
        (
            "11 alone",
            vec![(11, json!({"exitStatus": 0}))],
            "completed",
        ),
        (
            "31 status 0 without 11",
            vec![(40, json!({})), (31, files.clone())],
            "completed",
        ),
        ("32 status 0", vec![(32, files.clone())], "completed"),
        (
            "31 abnormal is no evidence",
            vec![(40, json!({})), (31, json!({"status": 1}))],
            "recording",
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
            "11 exit 1",
            vec![(40, json!({})), (11, json!({"exitStatus": 1}))],
            "failed",
        ),
        (
            "exit status as string",
            vec![(11, json!({"exitStatus": "1"}))],
            "failed",
        ),
        (
            "3 status 20",
            vec![(40, json!({})), (3, json!({"status": 20}))],
            "failed",
        ),
        (
            "41 leaveCode 0: init failed",
            vec![(41, json!({"leaveCode": 0}))],
            "failed",
        ),
        (
            "a fatal error alone is not terminal",
            vec![(40, json!({})), (1, json!({"errorLevel": 5, "module": 0}))],
            "recording",
        ),
        (
            "fatal error, then a normal exit",
            vec![
                (1, json!({"errorLevel": 5})),
                (11, json!({"exitStatus": 0})),
                (31, files.clone()),
            ],
            "completed",
        ),
        (
            "both terminal kinds, no exit: completed",
            vec![(3, json!({"status": 20})), (31, files.clone())],
            "completed",
        ),
        (
            "both terminal kinds, exit 1 decides",
            vec![(31, files.clone()), (11, json!({"exitStatus": 1}))],
            "failed",
        ),
        (
            "both terminal kinds, exit 0 decides",
            vec![
                (41, json!({"leaveCode": 0})),
                (11, json!({"exitStatus": 0})),
            ],
            "completed",
        ),
        (
            "two exits: the higher sequence decides (1)",
            vec![
                (11, json!({"exitStatus": 0})),
                (11, json!({"exitStatus": 1})),
            ],
            "failed",
        ),
        (
            "two exits: the higher sequence decides (0)",
            vec![
                (11, json!({"exitStatus": 1})),
                (11, json!({"exitStatus": 0})),
            ],
            "completed",
        ),
        (
            "completed over uploading over recording",
            vec![
                (40, json!({})),
                (41, json!({"leaveCode": 4})),
                (31, files.clone()),
            ],
            "completed",
        ),
        (
            "major error is not fatal",
            vec![(40, json!({})), (1, json!({"errorLevel": 4}))],
            "recording",
        ),
    ];
    for (name, list, want) in &cases {
        let mut reversed = session(list);
        reversed.reverse();
        assert_eq!(
            fold("s", &reversed).phase.as_str(),
            *want,
            "{name}, reversed"
        );
    }
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

#[test]
fn attention_lists_fatal_errors_abnormal_statuses_and_gaps() {
    let s = fold(
        "s",
        &session(&[(40, json!({"status": 0})), (1, json!({"errorLevel": 5}))]),
    );
    assert_eq!(s.attention, ["fatal_error"]);
    // 30 with status 1: listed under errors with its type, not evidence of anything.
    let s = fold(
        "s",
        &session(&[(30, json!({"status": 1})), (40, json!({"status": 0}))]),
    );
    assert_eq!(s.attention, ["abnormal_status"]);
    assert_eq!(s.errors.len(), 1);
    assert_eq!((s.errors[0].event_type, s.errors[0].status), (30, Some(1)));
    // A lost sequence (1 of 0..=2), out of order.
    let mut events = session(&[(40, json!({})), (42, json!({})), (43, json!({}))]);
    events.remove(1);
    events.reverse();
    assert_eq!(fold("s", &events).attention, ["gap"]);
    assert!(fold("s", &session(&[(40, json!({}))])).attention.is_empty());
}

#[test]
fn upload_progress_is_the_highest_sequence_not_the_largest_value() {
    let mut events = session(&[
        (33, json!({"progress": 9000})),
        (33, json!({"progress": 4000})),
        (11, json!({"exitStatus": 0})),
    ]);
    events.reverse();
    assert_eq!(fold("s", &events).upload.progress, Some(4000));
}

#[test]
fn files_fall_back_to_event_3_and_slices_keep_same_named_files_apart() {
    let s = fold(
        "s",
        &session(&[(3, json!({"status": 5, "fileList": "s_room.m3u8"}))]),
    );
    assert_eq!(
        serde_json::to_value(&s.files).unwrap(),
        json!([{"fileName": "s_room.m3u8"}])
    );
    let list = json!([
        {"fileName": "a.mp4", "uid": "7", "sliceStartTime": 1000},
        {"fileName": "a.mp4", "uid": "7", "sliceStartTime": 2000},
        {"fileName": "a.mp4", "uid": "7", "sliceStartTime": 1000}
    ]);
    let s = fold(
        "s",
        &session(&[(31, json!({"status": 0, "fileList": list}))]),
    );
    assert_eq!(s.files.len(), 2, "two slices of one name are two files");
}

#[test]
fn failover_uids_are_numbers() {
    let s = fold("s", &session(&[(12, json!({"newUid": 424242}))]));
    assert_eq!(
        serde_json::to_value(&s.failover_uids).unwrap(),
        json!([424242])
    );
}

#[test]
fn stream_intervals_follow_each_streams_own_time() {
    // Delivered in sequence order, but the changes' own times (UtcMs, or sendts) say otherwise:
    // uid 7 audio received 100..300 and again from 500; video 200..400; uid 8 from sendts.
    let mut events = session(&[
        (43, json!({"streamUid": "7", "state": 1, "UtcMs": 300})),
        (43, json!({"streamUid": "7", "state": 0, "UtcMs": 100})),
        (44, json!({"streamUid": "7", "state": 0, "utcMs": 200})),
        (43, json!({"streamUid": "7", "state": 0, "UtcMs": 500})),
        (44, json!({"streamUid": "7", "state": 1, "UtcMs": 400})),
        (43, json!({"streamUid": "8", "state": 0})),
    ]);
    events.reverse();
    let s = fold("s", &events);
    let got: Vec<(&str, &str, Option<i64>, Option<i64>)> = s
        .stream_intervals
        .iter()
        .map(|i| (i.uid.as_str(), i.kind, i.from_ms, i.to_ms))
        .collect();
    assert_eq!(
        got,
        [
            ("7", "audio", Some(100), Some(300)),
            ("7", "audio", Some(500), None),
            ("7", "video", Some(200), Some(400)),
            ("8", "audio", Some(1_005_000), None),
        ]
    );
}

#[test]
fn duration_runs_from_the_first_recording_evidence_to_the_leave() {
    // sendts is 1_000_000 + 1000 * sequence.
    let s = fold(
        "s",
        &session(&[
            (30, json!({"status": 0})),
            (40, json!({"status": 0})),
            (42, json!({})),
            (41, json!({"leaveCode": 2})),
            (11, json!({"exitStatus": 0})),
        ]),
    );
    assert_eq!(s.duration_ms, Some(2000));
    // No leave yet: up to the last event.
    let s = fold(
        "s",
        &session(&[(40, json!({})), (33, json!({"progress": 1}))]),
    );
    assert_eq!(s.duration_ms, Some(1000));
    assert_eq!(fold("s", &session(&[(30, json!({}))])).duration_ms, None);
}
