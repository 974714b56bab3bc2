//! Stories about the `sessions` summary: how events fold into one row per Cloud Recording
//! session (out of order, copies, flags), the phase and time filters, paging, and a session's
//! events in order.

use ncsd::store::{DynStore, KeptState, NewDelivery, SessionQuery, SessionRow, StatesProgress};
use ncsd::summary::{self, EXIT_FAILED, EXIT_OK, RECORDING, UPLOADED, UPLOADING};

use crate::records::{all_sessions, delivery, ids, put, recording, sids};

pub async fn story_session_summary(store: DynStore) {
    let ev =
        |id: &str, sid: &str, at: i64, sendts: Option<i64>, cname: Option<&str>, flags: i64| {
            NewDelivery {
                sendts,
                cname: cname.map(str::to_string),
                session_flags: flags,
                ..recording(id, sid, at)
            }
        };
    // sA arrives out of order: its oldest sendts comes last.
    put(&store, ev("a1", "sA", 1_000, None, None, RECORDING)).await;
    put(&store, ev("a2", "sA", 1_100, Some(900), Some("roomA"), 0)).await;
    put(
        &store,
        ev(
            "a3",
            "sA",
            1_200,
            Some(1_500),
            Some("other"),
            UPLOADING | EXIT_OK,
        ),
    )
    .await;
    let a4 = put(&store, ev("a4", "sA", 1_300, Some(800), None, UPLOADED)).await;
    put(
        &store,
        ev("b1", "sB", 3_000, Some(2_000), Some("roomB"), EXIT_FAILED),
    )
    .await;
    put(
        &store,
        ev("c1", "sC", 2_000, None, Some("roomA"), RECORDING),
    )
    .await;
    put(&store, ev("d1", "sD", 2_000, None, Some("roomD"), 0)).await;
    put(&store, ev("e1", "sE", 500, None, None, UPLOADING)).await;
    // Not sessions: another product under a sid, and a recording event without one.
    put(
        &store,
        NewDelivery {
            product_id: 1,
            ..recording("x1", "sX", 9_000)
        },
    )
    .await;
    put(
        &store,
        NewDelivery {
            received_at_ms: 9_000,
            ..delivery("x2")
        },
    )
    .await;

    let all = all_sessions(&store).await;
    assert_eq!(
        sids(&all),
        ["sB", "sD", "sC", "sA", "sE"],
        "newest activity first, then sid descending"
    );
    let a = all.iter().find(|s| s.sid == "sA").unwrap();
    let expected = SessionRow {
        sid: "sA".into(),
        cname: Some("roomA".into()),
        flags: RECORDING | UPLOADING | EXIT_OK | UPLOADED,
        event_count: 4,
        first_event_ms: Some(800),
        last_event_ms: Some(1_500),
        last_activity_ms: 1_500,
        last_seq: a4.seq,
        exit_key: -1,
        project: "default".into(),
    };
    assert_eq!(*a, expected);
    // One row by sid: what a session read checks a kept state against.
    assert_eq!(store.session("sA").await.unwrap(), Some(expected));
    assert_eq!(store.session("sX").await.unwrap(), None, "not a recording");
    assert_eq!(store.session("nope").await.unwrap(), None);
    let e = all.iter().find(|s| s.sid == "sE").unwrap();
    assert_eq!(
        (e.first_event_ms, e.last_event_ms, e.last_activity_ms),
        (None, None, 500)
    );

    let q = || SessionQuery {
        limit: 100,
        ..Default::default()
    };
    for (phase, want) in [
        ("failed", "sB"),
        ("completed", "sA"),
        ("uploading", "sE"),
        ("recording", "sC"),
        ("starting", "sD"),
    ] {
        let rows = store
            .sessions(&SessionQuery {
                phase: Some(phase.into()),
                ..q()
            })
            .await
            .unwrap();
        assert_eq!(sids(&rows), [want], "phase {phase}");
        assert_eq!(
            summary::phase(rows[0].flags, rows[0].exit_key).as_str(),
            phase,
            "SQL and Rust agree on {want}"
        );
    }
    let by_cname = store
        .sessions(&SessionQuery {
            cname: Some("roomA".into()),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&by_cname), ["sC", "sA"]);
    let since = store
        .sessions(&SessionQuery {
            since: Some(1_500),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&since), ["sB", "sD", "sC", "sA"]);
    let until = store
        .sessions(&SessionQuery {
            until: Some(2_000),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&until), ["sA", "sE"]);
    let window = store
        .sessions(&SessionQuery {
            since: Some(1_000),
            until: Some(3_000),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&window), ["sD", "sC", "sA"]);

    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = store
            .sessions(&SessionQuery {
                limit: 2,
                cursor: cursor.clone(),
                ..q()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some((last.last_activity_ms, last.sid.clone()));
        pages.push(sids(&page).join(","));
    }
    assert_eq!(pages, ["sB,sD", "sC,sA", "sE"]);
}

pub async fn story_session_events(store: DynStore) {
    let ev = |id: &str, sequence: Option<i64>, key: Option<&str>| NewDelivery {
        sequence,
        content_key: key.map(str::to_string),
        ..recording(id, "s1", 1_000)
    };
    let three = put(&store, ev("three", Some(3), None)).await;
    put(&store, ev("one", Some(1), None)).await;
    put(&store, ev("none", None, None)).await;
    put(&store, ev("two", Some(2), Some("k2"))).await;
    let copy = put(&store, ev("two-copy", Some(2), Some("k2"))).await;
    assert_eq!(copy.copy_of.as_deref(), Some("two"));
    put(
        &store,
        NewDelivery {
            product_id: 1,
            sequence: Some(0),
            ..recording("other-product", "s1", 1_000)
        },
    )
    .await;
    put(
        &store,
        NewDelivery {
            sequence: Some(0),
            ..recording("other-session", "s2", 1_000)
        },
    )
    .await;

    let listed = store.session_events("s1").await.unwrap();
    // No sequence sorts first (SQLite's NULL order), then sequence, then arrival.
    assert_eq!(ids(&listed), ["none", "one", "two", "two-copy", "three"]);
    assert_eq!(listed[4].seq, three.seq);
    assert_eq!(listed[3].copy_of.as_deref(), Some("two"));
    assert!(store.session_events("nope").await.unwrap().is_empty());
    // Catching up from a cursor: only what was stored after it, in the same order.
    let after = store.session_events_after("s1", three.seq).await.unwrap();
    assert_eq!(ids(&after), ["none", "one", "two", "two-copy"]);
    let after_all = store.session_events_after("s1", copy.seq).await.unwrap();
    assert!(
        after_all.is_empty(),
        "nothing of s1 was stored after its copy"
    );
    assert_eq!(store.session_events_after("s1", 0).await.unwrap(), listed);
}

/// Sessions' answers kept in the store: read back as written, never replaced by one folded at
/// an older cursor, one per sid even when a batch repeats it, and purged with their session;
/// the keeper's progress kept with them, as last written.
pub async fn story_kept_states(store: DynStore) {
    let state = |sid: &str, last_seq: i64, format: &str, json: &str| KeptState {
        sid: sid.to_string(),
        last_seq,
        format: format.to_string(),
        json: json.as_bytes().to_vec(),
    };
    assert_eq!(store.kept_state("sK").await.unwrap(), None);
    assert_eq!(store.states_progress().await.unwrap(), None);
    let progress = |cursor: i64, format: &str| StatesProgress {
        cursor,
        format: format.to_string(),
    };
    store
        .keep_states(Vec::new(), Some(progress(40, "f1")))
        .await
        .unwrap();
    assert_eq!(
        store.states_progress().await.unwrap(),
        Some(progress(40, "f1"))
    );
    // Another build starts again from the first event: the progress is what was last written,
    // even an earlier cursor.
    store
        .keep_states(vec![state("sX", 1, "f2", "{}")], Some(progress(3, "f2")))
        .await
        .unwrap();
    assert_eq!(
        store.states_progress().await.unwrap(),
        Some(progress(3, "f2"))
    );
    assert!(store.kept_state("sX").await.unwrap().is_some());
    store
        .keep_states(
            vec![
                state("sK", 5, "f1", r#"{"v":5}"#),
                state("sL", 2, "f1", "{}"),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.kept_state("sK").await.unwrap(),
        Some(state("sK", 5, "f1", r#"{"v":5}"#))
    );
    // Older: ignored. Same cursor (another build's format): replaces. Newer: replaces, and a
    // batch naming one sid twice keeps the newest.
    store
        .keep_states(vec![state("sK", 4, "f1", r#"{"v":4}"#)], None)
        .await
        .unwrap();
    assert_eq!(store.kept_state("sK").await.unwrap().unwrap().last_seq, 5);
    store
        .keep_states(vec![state("sK", 5, "f2", r#"{"v":"5b"}"#)], None)
        .await
        .unwrap();
    assert_eq!(
        store.kept_state("sK").await.unwrap(),
        Some(state("sK", 5, "f2", r#"{"v":"5b"}"#))
    );
    store
        .keep_states(
            vec![
                state("sK", 7, "f2", r#"{"v":7}"#),
                state("sK", 6, "f2", r#"{"v":6}"#),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.kept_state("sK").await.unwrap(),
        Some(state("sK", 7, "f2", r#"{"v":7}"#))
    );
    // With the summary row: only an answer folded at the session's newest cursor.
    assert_eq!(store.session_with_kept("sM").await.unwrap(), None);
    let m1 = put(&store, recording("m-1", "sM", 9_000)).await;
    let (row, kept) = store.session_with_kept("sM").await.unwrap().unwrap();
    assert_eq!((row.last_seq, kept), (m1.seq, None));
    store
        .keep_states(vec![state("sM", m1.seq, "f1", r#"{"m":1}"#)], None)
        .await
        .unwrap();
    let (_, kept) = store.session_with_kept("sM").await.unwrap().unwrap();
    assert_eq!(kept, Some(state("sM", m1.seq, "f1", r#"{"m":1}"#)));
    put(&store, recording("m-2", "sM", 9_100)).await;
    let (row, kept) = store.session_with_kept("sM").await.unwrap().unwrap();
    assert!(row.last_seq > m1.seq);
    assert_eq!(
        kept, None,
        "folded before the newest event: not this session's answer"
    );
    // Purged with its session (it holds the session's data); another session's stays.
    put(&store, recording("k-old", "sK", 1_000)).await;
    put(&store, recording("l-new", "sL", 9_000)).await;
    assert_eq!(store.purge_before(5_000).await.unwrap(), 1);
    assert_eq!(store.kept_state("sK").await.unwrap(), None);
    assert!(store.kept_state("sL").await.unwrap().is_some());
}

/// Two exits of one recording (an exit 0 and an exit 1): the one with the higher sequence
/// decides between completed and failed, whatever order they are stored in.
pub async fn story_session_exits(store: DynStore) {
    let exit = |id: &str, sid: &str, sequence: i64, flags: i64| NewDelivery {
        event_type: 11,
        sequence: Some(sequence),
        session_flags: flags,
        ..recording(id, sid, 1_000 + sequence)
    };
    let uploaded = |id: &str, sid: &str| NewDelivery {
        event_type: 31,
        sequence: Some(7),
        session_flags: UPLOADED,
        ..recording(id, sid, 1_000)
    };
    // sLate: the failing exit has the higher sequence; stored first.
    put(&store, exit("l2", "sLate", 9, EXIT_FAILED)).await;
    put(&store, uploaded("l1", "sLate")).await;
    put(&store, exit("l3", "sLate", 5, EXIT_OK)).await;
    // sEarly: the same events, but the normal exit comes last in sequence; stored last.
    put(&store, exit("e2", "sEarly", 3, EXIT_FAILED)).await;
    put(&store, uploaded("e1", "sEarly")).await;
    put(&store, exit("e3", "sEarly", 9, EXIT_OK)).await;
    let late = store.session("sLate").await.unwrap().unwrap();
    let early = store.session("sEarly").await.unwrap().unwrap();
    assert_eq!(summary::phase(late.flags, late.exit_key).as_str(), "failed");
    assert_eq!(
        summary::phase(early.flags, early.exit_key).as_str(),
        "completed"
    );
    for (phase, sid) in [("failed", "sLate"), ("completed", "sEarly")] {
        let rows = store
            .sessions(&SessionQuery {
                phase: Some(phase.into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(sids(&rows), [sid], "SQL phase {phase}");
    }
}
