//! Property: the state depends only on the set of distinct events. Shuffling
//! a realistic session, resending events (same noticeId) and adding
//! redundant-path copies (new noticeId) never changes it; losing events shows
//! up exactly as missing sequences.

use crate::session::*;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
enum Mode {
    Composite,
    Individual,
    Web,
}

/// A realistic session, in the shape the Cloud Recording service reports it.
#[derive(Debug, Clone)]
struct Shape {
    mode: Mode,
    fails: bool,
    users: u32,
    progress_steps: i64,
    failover: bool,
    leave_code: i64,
    start_ms: i64,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop_oneof![
            Just(Mode::Composite),
            Just(Mode::Individual),
            Just(Mode::Web)
        ],
        any::<bool>(),
        1u32..=3,
        0i64..4,
        any::<bool>(),
        prop::sample::select(vec![2i64, 4, 6, 16, 24]),
        1_600_000_000_000i64..1_800_000_000_000,
    )
        .prop_map(
            |(mode, fails, users, progress_steps, failover, leave_code, start_ms)| Shape {
                mode,
                fails,
                users,
                progress_steps,
                failover,
                leave_code,
                start_ms,
            },
        )
}

fn build(sh: &Shape) -> Vec<StoredEvent> {
    let mut list: Vec<(u32, Value)> = Vec::new();
    let mut push = |t: u32, d: Value| list.push((t, d));
    let users: Vec<String> = match sh.mode {
        Mode::Individual => (0..sh.users).map(|i| (1000 + i).to_string()).collect(),
        _ => vec!["0".into()],
    };
    if let Mode::Web = sh.mode {
        push(
            70,
            json!({"msgName": "web_recorder_started", "recorderStartTime": sh.start_ms}),
        );
        push(30, json!({"msgName": "uploader_started", "status": 0}));
        push(
            100,
            json!({"rtmpUrl": "rtmp://cdn/x", "status": "connecting"}),
        );
        push(
            100,
            json!({"rtmpUrl": "rtmp://cdn/x", "status": "publishing"}),
        );
    } else {
        push(40, json!({"msgName": "recorder_started", "status": 0}));
        push(30, json!({"msgName": "uploader_started", "status": 0}));
        for u in &users {
            push(
                44,
                json!({"streamUid": u, "state": 0, "UtcMs": sh.start_ms + 500}),
            );
            push(
                43,
                json!({"streamUid": u, "state": 0, "UtcMs": sh.start_ms + 500}),
            );
            push(
                42,
                json!({"startUtcMs": sh.start_ms + 800, "discontinueUtcMs": sh.start_ms + 800, "streamUid": u, "trackType": "audio"}),
            );
            push(4, json!({"fileList": format!("s_{u}.m3u8")}));
        }
        push(3, json!({"status": 5, "recordingMode": 1}));
    }
    if sh.failover {
        push(12, json!({"newUid": 424242}));
    }
    for i in 1..=sh.progress_steps {
        push(33, json!({"progress": 2000 * i}));
    }
    push(2, json!({"module": 1, "warnCode": 31}));
    if sh.fails {
        push(
            1,
            json!({"module": 1, "errorLevel": 5, "errorCode": 47, "stat": 1, "errorMsg": "upload failed"}),
        );
        push(11, json!({"exitStatus": 1}));
    } else if let Mode::Web = sh.mode {
        push(
            71,
            json!({"code": 0, "message": "ok", "fileList": [{"fileName": "w_0.mp4", "sliceStartTime": sh.start_ms}]}),
        );
        push(31, json!({"status": 0}));
        push(11, json!({"exitStatus": 0}));
    } else {
        push(41, json!({"leaveCode": sh.leave_code}));
        push(33, json!({"progress": 10000}));
        push(11, json!({"exitStatus": 0}));
        for u in &users {
            push(
                43,
                json!({"streamUid": u, "state": 1, "UtcMs": sh.start_ms + 60_000}),
            );
        }
        let files: Vec<Value> = users
            .iter()
            .map(|u| json!({"fileName": format!("s_{u}.m3u8"), "uid": u}))
            .collect();
        push(31, json!({"status": 0, "fileList": files}));
    }
    push(13, json!({"msgName": "undocumented"}));
    list.into_iter()
        .enumerate()
        .map(|(i, (event_type, details))| StoredEvent {
            notice_id: format!("ev-{i:03}"),
            event_type,
            sequence: Some(i as i64),
            sendts: Some(sh.start_ms + i as i64 * 1000),
            // After a failover the new uid reports (spec §4, HA duplicates).
            uid: Some(
                if sh.failover && i > 12 {
                    "424242"
                } else {
                    "100"
                }
                .into(),
            ),
            cname: Some("room".into()),
            sid: "s".into(),
            details: details.into(),
            received_at_ms: sh.start_ms + i as i64 * 1000 + 40,
        })
        .collect()
}

/// An original session and a noisy delivery of it: shuffled, with resends
/// and redundant-path copies mixed in.
fn noisy() -> impl Strategy<Value = (Vec<StoredEvent>, Vec<StoredEvent>)> {
    shape()
        .prop_flat_map(|sh| {
            let orig = build(&sh);
            let n = orig.len();
            // Copy ids never contain '-', so they cannot collide with an original's.
            let extra = prop::collection::vec(
                (0..n, any::<bool>(), "[0-9a-z]{1,8}", 1i64..600_000),
                0..2 * n,
            );
            (Just(orig), extra)
        })
        .prop_flat_map(|(orig, extra)| {
            let mut all = orig.clone();
            for (i, resend, new_id, delay) in extra {
                let mut e = orig[i].clone();
                e.received_at_ms += delay;
                if !resend {
                    e.notice_id = new_id;
                }
                all.push(e);
            }
            (Just(orig), Just(all).prop_shuffle())
        })
}

/// What identifies an event's content, noticeId aside.
fn contents(events: &[&StoredEvent]) -> Vec<(u32, Option<i64>, Option<String>, Value)> {
    events
        .iter()
        .map(|e| (e.event_type, e.sequence, e.uid.clone(), e.details.value()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn order_and_duplication_do_not_change_the_state((orig, noisy) in noisy()) {
        let want = fold("s", &orig);
        prop_assert_eq!(want.event_count, orig.len());
        prop_assert_eq!(&fold("s", &noisy), &want);
        prop_assert_eq!(contents(&distinct_ordered(&noisy)), contents(&distinct_ordered(&orig)));
    }

    #[test]
    fn lost_events_are_reported_as_missing(sh in shape(), lose in prop::collection::vec(any::<bool>(), 64)) {
        let orig = build(&sh);
        let kept: Vec<StoredEvent> = orig.iter().enumerate().filter(|(i, _)| !lose[*i]).map(|(_, e)| e.clone()).collect();
        let s = fold("s", &kept);
        let max = kept.iter().filter_map(|e| e.sequence).max();
        let want: Vec<i64> = (0..max.unwrap_or(0)).filter(|q| !kept.iter().any(|e| e.sequence == Some(*q))).collect();
        prop_assert_eq!(s.max_sequence, max);
        prop_assert_eq!(s.missing_count, want.len() as i64);
        prop_assert_eq!(s.missing_sequences, want);
        prop_assert_eq!(s.event_count, kept.len());
    }
}

/// Carry a fold forward over `arrivals` in chunks, as the kept states of `GET
/// /v1/sessions/{sid}` are: extend when possible, refold everything received so far when not.
/// Checks the state against a full fold after every chunk; returns how many chunks were refused.
fn carried(arrivals: &[StoredEvent], cuts: &[usize]) -> Result<usize, TestCaseError> {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (arrivals.len() + 1)).collect();
    bounds.extend([0, arrivals.len()]);
    bounds.sort_unstable();
    bounds.dedup();
    let mut folding = Folding::new("s", &[]);
    let mut refused = 0;
    for w in bounds.windows(2) {
        let (seen, chunk) = (&arrivals[..w[1]], &arrivals[w[0]..w[1]]);
        let before = folding.state();
        let mut attempt = folding.clone();
        if attempt.extend(chunk) {
            folding = attempt;
        } else {
            prop_assert_eq!(
                &attempt.state(),
                &before,
                "a refused extend changes nothing"
            );
            refused += 1;
            folding = Folding::new("s", seen);
        }
        prop_assert_eq!(&folding.state(), &fold("s", seen));
    }
    Ok(refused)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_carried_fold_equals_a_full_fold_in_any_arrival_order(
        (_, noisy) in noisy(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        carried(&noisy, &cuts)?;
    }

    #[test]
    fn events_arriving_in_sequence_order_are_always_carried(
        sh in shape(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let in_order = build(&sh);
        prop_assert_eq!(carried(&in_order, &cuts)?, 0);
    }
}

#[test]
fn a_late_event_or_a_copy_is_refused_and_changes_nothing() {
    let sh = Shape {
        mode: Mode::Composite,
        fails: false,
        users: 1,
        progress_steps: 1,
        failover: false,
        leave_code: 0,
        start_ms: 1_700_000_000_000,
    };
    let all = build(&sh);
    let (early, late) = all.split_at(all.len() / 2);
    let mut f = Folding::new("s", &late[1..]);
    let before = f.state();
    assert!(!f.extend(&late[..1]), "a lower sequence than one folded");
    assert!(!f.extend(&early[..1]));
    let mut copy = late[late.len() - 1].clone();
    copy.notice_id = "copy".into();
    assert!(!f.extend(&[copy]), "a copy shares its original's sequence");
    assert_eq!(f.state(), before);
    let mut unsequenced = late[0].clone();
    unsequenced.sequence = None;
    let mut g = Folding::new("s", early);
    assert!(
        g.extend(&[unsequenced.clone()]),
        "no sequence: it sorts last"
    );
    assert!(
        !g.extend(&late[1..2]),
        "nothing can follow an event without a sequence"
    );
    assert!(g.extend(&[]));
    let mut all_late = early.to_vec();
    all_late.push(unsequenced);
    assert_eq!(g.state(), fold("s", &all_late));
}

#[test]
fn generated_sessions_reach_their_expected_phase() {
    let sh = |mode, fails| Shape {
        mode,
        fails,
        users: 2,
        progress_steps: 1,
        failover: true,
        leave_code: 6,
        start_ms: 1_700_000_000_000,
    };
    for mode in [Mode::Composite, Mode::Individual, Mode::Web] {
        assert_eq!(
            fold("s", &build(&sh(mode, false))).phase,
            Phase::Completed,
            "{mode:?}"
        );
        assert_eq!(
            fold("s", &build(&sh(mode, true))).phase,
            Phase::Failed,
            "{mode:?}"
        );
    }
    let s = fold("s", &build(&sh(Mode::Individual, false)));
    assert_eq!(s.streams.len(), 4, "audio and video of two users");
    assert!(s.streams.iter().all(|x| x.kind == "video" || !x.receiving));
    assert_eq!(s.failover_uids, [424242]);
}
