//! Sessions' states kept in the store by the state keeper: a read serves the kept state only
//! when it was folded at the session's newest event by this build, the keeper's carried-forward
//! folds equal a fold of every event, and it resumes from its cursor.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::cr_body;
use common::router::{app, app_in, App};
use ncsd::states::format::format;
use ncsd::states::keeper::{self, Keeper};
use ncsd::store::{DynStore, KeptState, StatesProgress};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The state a fold of every stored event gives, as the API would serve it before adding the
/// session's project and lifecycle events.
async fn folded(store: &DynStore, sid: &str) -> Value {
    let (_, folding) = ncsd::states::fold_all(store, sid).await.unwrap().unwrap();
    serde_json::to_value(folding.state()).unwrap()
}

/// What the store keeps for `sid`, checked to be current: folded at the session's newest event
/// by this build.
async fn kept_current(store: &DynStore, sid: &str) -> Option<Value> {
    let (row, kept) = store.session_with_kept(sid).await.unwrap()?;
    let kept = kept?;
    assert_eq!(kept.last_seq, row.last_seq);
    (kept.format == format()).then(|| serde_json::from_slice(&kept.json).unwrap())
}

/// The API's answer without what it adds to the kept state.
async fn answer(app: &App, sid: &str) -> Value {
    let (status, mut v) = app.get(&format!("/v1/sessions/{sid}")).await;
    assert_eq!(status, StatusCode::OK);
    let o = v.as_object_mut().unwrap();
    assert_eq!(o.remove("project"), Some(json!("default")));
    assert!(o.remove("lifecycle").is_some());
    v
}

fn stream_state(id: &str, sid: &str, event_type: u32, sequence: i64, uid: &str) -> Vec<u8> {
    cr_body(
        id,
        sid,
        event_type,
        sequence,
        json!({"streamUid": uid, "state": sequence % 2, "UtcMs": 1000 + sequence}),
    )
}

/// A keeper round, then checks: the kept state is current, is the fold of every event, and is
/// what the API serves.
async fn round(app: &App, keeper: &mut Keeper, sid: &str) -> Value {
    let store = &app.state.store;
    keeper.round().await.unwrap();
    let kept = kept_current(store, sid).await.expect("kept and current");
    assert_eq!(kept, folded(store, sid).await, "the kept state is the fold");
    assert_eq!(answer(app, sid).await, kept);
    kept
}

#[tokio::test]
async fn kept_states_equal_a_fold_of_every_event_in_any_arrival_order() {
    let app = app(&[]).await;
    let store = app.state.store.clone();
    let mut keeper = Keeper::new(store.clone());
    let sid = "sid-k";
    let send = |body: Vec<u8>| {
        let app = &app;
        async move { assert_eq!(app.ingest(body).await.0, StatusCode::OK) }
    };
    send(cr_body("k0", sid, 40, 0, json!({"status": 0}))).await;
    send(cr_body("k3", sid, 41, 3, json!({"leaveCode": 0}))).await;
    assert_eq!(
        round(&app, &mut keeper, sid).await["missing_sequences"],
        json!([1, 2])
    );

    // A late, older sequence: until the next round the kept state is stale, and the read
    // folds; the round folds the session again.
    send(cr_body("k1", sid, 30, 1, json!({"status": 0}))).await;
    assert!(
        kept_current(&store, sid).await.is_none(),
        "stale, not served"
    );
    assert_eq!(answer(&app, sid).await["missing_sequences"], json!([2]));
    assert_eq!(
        round(&app, &mut keeper, sid).await["missing_sequences"],
        json!([2])
    );

    // Newer events in sequence order, over several rounds: carried forward.
    send(stream_state("k4", sid, 43, 4, "7")).await;
    send(stream_state("k2", sid, 42, 2, "0")).await;
    round(&app, &mut keeper, sid).await;
    for n in 5..12 {
        send(stream_state(
            &format!("k{n}"),
            sid,
            43 + (n % 2) as u32,
            n,
            "7",
        ))
        .await;
        if n % 3 == 0 {
            round(&app, &mut keeper, sid).await;
        }
    }
    assert_eq!(
        round(&app, &mut keeper, sid).await["event_count"],
        json!(12)
    );
    // A resend changes nothing; a redundant-path copy of the newest event counts once.
    send(stream_state("k11", sid, 44, 11, "7")).await;
    send(stream_state("k11-copy", sid, 44, 11, "7")).await;
    assert_eq!(
        round(&app, &mut keeper, sid).await["event_count"],
        json!(12)
    );
    // The exit finishes it; a late event of a finished recording is folded from the store.
    send(cr_body("k12", sid, 11, 12, json!({"exitStatus": 0}))).await;
    round(&app, &mut keeper, sid).await;
    send(stream_state("k0b", sid, 43, 0, "9")).await;
    assert_eq!(
        round(&app, &mut keeper, sid).await["event_count"],
        json!(14)
    );
}

#[tokio::test]
async fn a_read_serves_the_kept_state_only_when_current_and_of_this_build() {
    let app = app(&[]).await;
    let store = app.state.store.clone();
    for (id, seq) in [("f0", 0), ("f1", 1)] {
        let body = cr_body(id, "sid-f", 40 + seq as u32, seq, json!({"status": 0}));
        assert_eq!(app.ingest(body).await.0, StatusCode::OK);
    }
    let full = answer(&app, "sid-f").await;
    let last_seq = store.session("sid-f").await.unwrap().unwrap().last_seq;
    let marker = |format: &str, last_seq: i64| KeptState {
        sid: "sid-f".into(),
        last_seq,
        format: format.into(),
        json: br#"{"kept":true}"#.to_vec(),
    };
    // Kept at the newest event by this build: served as kept (one row, no fold).
    store
        .keep_states(vec![marker(format(), last_seq)], None)
        .await
        .unwrap();
    assert_eq!(answer(&app, "sid-f").await, json!({"kept": true}));
    // Another build's: folded.
    store
        .keep_states(vec![marker("ncsd 0.0.0 other", last_seq)], None)
        .await
        .unwrap();
    assert_eq!(answer(&app, "sid-f").await, full);
    // Folded before the newest event: folded.
    store
        .keep_states(vec![marker(format(), last_seq)], None)
        .await
        .unwrap();
    let late = stream_state("f2", "sid-f", 43, 2, "7");
    assert_eq!(app.ingest(late).await.0, StatusCode::OK);
    assert_eq!(answer(&app, "sid-f").await["event_count"], json!(3));
}

#[tokio::test]
async fn the_keeper_resumes_from_its_cursor_and_starts_over_for_another_build() {
    let app = app(&[]).await;
    let store = app.state.store.clone();
    for i in 0..3 {
        let body = cr_body(&format!("r{i}"), &format!("sid-r{i}"), 40, 0, json!({}));
        assert_eq!(app.ingest(body).await.0, StatusCode::OK);
    }
    let newest = store.latest_seq().await.unwrap();
    assert!(!Keeper::new(store.clone()).round().await.unwrap());
    assert_eq!(
        store.states_progress().await.unwrap(),
        Some(StatesProgress {
            cursor: newest,
            format: format().to_string()
        })
    );
    // A new keeper (a restart) resumes: the marker is not folded over.
    let seq0 = store.session("sid-r0").await.unwrap().unwrap().last_seq;
    let marker = KeptState {
        sid: "sid-r0".into(),
        last_seq: seq0,
        format: format().into(),
        json: br#"{"kept":true}"#.to_vec(),
    };
    store.keep_states(vec![marker], None).await.unwrap();
    assert!(!Keeper::new(store.clone()).round().await.unwrap());
    assert_eq!(
        kept_current(&store, "sid-r0").await,
        Some(json!({"kept": true}))
    );
    // Progress kept by another build: every state is written again.
    let other = StatesProgress {
        cursor: newest,
        format: "ncsd 0.0.0 other".into(),
    };
    store.keep_states(Vec::new(), Some(other)).await.unwrap();
    assert!(!Keeper::new(store.clone()).round().await.unwrap());
    assert_eq!(
        kept_current(&store, "sid-r0").await,
        Some(folded(&store, "sid-r0").await)
    );
    assert_eq!(
        store.states_progress().await.unwrap().unwrap().format,
        format()
    );
}

#[tokio::test]
async fn the_running_keeper_keeps_states_as_events_arrive_and_a_restart_reads_them() {
    let app = app(&[]).await;
    let store = app.state.store.clone();
    let shutdown = CancellationToken::new();
    let running = keeper::spawn(store.clone(), shutdown.clone());
    for n in 0..5 {
        let body = stream_state(&format!("s{n}"), "sid-s", 43, n, "7");
        assert_eq!(app.ingest(body).await.0, StatusCode::OK);
    }
    let mut kept = None;
    for _ in 0..500 {
        kept = kept_current(&store, "sid-s").await;
        if kept.as_ref().is_some_and(|k| k["event_count"] == json!(5)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(kept, Some(folded(&store, "sid-s").await), "kept within 5 s");
    shutdown.cancel();
    running.await.unwrap();
    // Another instance on the same database serves the kept state.
    let restarted = app_in(app.dir.clone(), &[]).await;
    assert_eq!(answer(&restarted, "sid-s").await, kept.unwrap());
}

#[test]
fn the_former_session_cache_settings_are_still_accepted() {
    // A configuration written for an earlier version still starts (with a warning).
    let cfg = ncsd::config::ServeConfig::from_args([
        "--session-cache-mb",
        "64",
        "--session-cache-warm",
        "false",
    ])
    .unwrap();
    assert_eq!(
        (cfg.session_cache_mb, cfg.session_cache_warm),
        (Some(64), Some(false))
    );
}
