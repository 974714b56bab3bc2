//! The session cache seen from the API: a kept state never hides a newer event, and start-up
//! warming keeps the most recently active sessions first.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::cr_body;
use common::router::{app, app_in};
use http_body_util::BodyExt;
use ncsd::api::AppState;
use ncsd::config::ServeConfig;
use ncsd::states::kept::{format, Keeper};
use ncsd::states::{SessionCache, SessionStates};
use ncsd::store::KeptState;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

#[tokio::test]
async fn a_kept_session_state_never_hides_a_newer_event() {
    let cached = app(&[]).await;
    let uncached = app(&["--session-cache-mb", "0"]).await;
    let send = |body: Vec<u8>| {
        let (a, b) = (&cached, &uncached);
        async move {
            assert_eq!(a.ingest(body.clone()).await.0, StatusCode::OK);
            assert_eq!(b.ingest(body).await.0, StatusCode::OK);
        }
    };
    let read = || async {
        let (s1, a) = cached.get("/v1/sessions/sid-c").await;
        let (s2, b) = uncached.get("/v1/sessions/sid-c").await;
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
        assert_eq!(a, b, "the kept state and a fresh fold differ");
        a
    };
    send(cr_body("c0", "sid-c", 40, 0, json!({"status": 0}))).await;
    send(cr_body("c3", "sid-c", 41, 3, json!({"exitStatus": 0}))).await;
    let first = read().await;
    assert_eq!(first["missing_sequences"], json!([1, 2]));
    assert_eq!(read().await, first, "read twice, same answer");
    // Sequence 1 arrives late: the kept state is stale and must not be served.
    send(cr_body("c1", "sid-c", 30, 1, json!({"status": 0}))).await;
    assert_eq!(read().await["missing_sequences"], json!([2]));
    // A resend of a stored noticeId changes no state; the answer stays the same.
    send(cr_body("c1", "sid-c", 30, 1, json!({"status": 0}))).await;
    assert_eq!(read().await["missing_sequences"], json!([2]));
    send(cr_body("c2", "sid-c", 42, 2, json!({"streamUid": "0"}))).await;
    assert_eq!(read().await["missing_sequences"], json!([]));
    // Events 43/44 (audio/video stream state changed) of sid-c.
    let stream_state = |id: &str, event_type, sequence, uid: &str, state: i64| {
        cr_body(
            id,
            "sid-c",
            event_type,
            sequence,
            json!({"streamUid": uid, "state": state}),
        )
    };
    // Newer events in sequence order: the kept fold is carried forward over just them.
    send(stream_state("c4", 43, 4, "0", 1)).await;
    assert_eq!(read().await["event_count"], json!(5));
    send(stream_state("c5", 43, 5, "0", 0)).await;
    send(stream_state("c6", 44, 6, "0", 1)).await;
    let carried = read().await;
    assert_eq!(carried["event_count"], json!(7));
    assert_eq!(carried["max_sequence"], json!(6));
    // A redundant-path copy of the newest event (new noticeId, same content) counts once; an
    // old sequence arriving now makes the kept fold unusable, and a refold counts it.
    send(stream_state("c6-copy", 44, 6, "0", 1)).await;
    assert_eq!(read().await["event_count"], json!(7));
    send(stream_state("c0-late", 43, 0, "9", 1)).await;
    assert_eq!(read().await["event_count"], json!(8));
}

/// The API of `store` with a session cache of `bytes`.
fn with_cache(store: &ncsd::store::DynStore, bytes: usize) -> (AppState, Router) {
    let st = AppState {
        store: store.clone(),
        api_token: None,
        shutdown: CancellationToken::new(),
        states: SessionStates {
            store: store.clone(),
            cache: Arc::new(SessionCache::new(bytes)),
            keeper: None,
        },
        auth_failures: Arc::new(ncsd::ratelog::RateLog::per_minute()),
        stall_after: std::time::Duration::from_secs(300),
        destinations: Arc::new(Vec::new()),
        projects: Arc::new(vec!["default".into()]),
        metrics_here: true,
    };
    (st.clone(), ncsd::api::router(st))
}

async fn get_json(router: &Router, uri: &str) -> Value {
    let res = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn warming_keeps_the_newest_sessions_first_and_never_a_stale_state() {
    let first = app(&[]).await;
    let sids = ["w-old", "w-mid", "w-new"];
    for (i, sid) in sids.iter().enumerate() {
        let started = cr_body(&format!("w{i}a"), sid, 40, 0, json!({"status": 0}));
        let audio = json!({"streamUid": "7", "state": 0, "UtcMs": 1});
        assert_eq!(first.ingest(started).await.0, StatusCode::OK);
        let changed = cr_body(&format!("w{i}b"), sid, 43, 1, audio);
        assert_eq!(first.ingest(changed).await.0, StatusCode::OK);
        // Last activity is the receive time, in ms: keep the three apart.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A restarted instance: its cache starts empty.
    let restarted = app_in(first.dir.clone(), &[]).await;
    let store = &restarted.state.store;
    let (_, uncached) = with_cache(store, 0);

    let (roomy, roomy_api) = with_cache(store, 1 << 20);
    assert_eq!(
        ncsd::states::warm::warm(&roomy.states, &roomy.shutdown, None, Duration::ZERO)
            .await
            .unwrap(),
        3
    );
    for sid in sids {
        let row = store.session(sid).await.unwrap().unwrap();
        let kept = roomy.states.cache.kept(sid).expect("warmed");
        assert_eq!(
            kept.last_seq, row.last_seq,
            "{sid} warmed at its newest event"
        );
        let uri = format!("/v1/sessions/{sid}");
        assert_eq!(
            get_json(&roomy_api, &uri).await,
            get_json(&uncached, &uri).await
        );
    }

    // Room for two and a half: the two most recently active are kept, and warming stops
    // rather than push one of them out for an older session.
    let one = roomy.states.cache.bytes() / 3;
    let (tight, tight_api) = with_cache(store, one * 5 / 2);
    assert_eq!(
        ncsd::states::warm::warm(&tight.states, &tight.shutdown, None, Duration::ZERO)
            .await
            .unwrap(),
        2
    );
    assert!(tight.states.cache.kept("w-new").is_some());
    assert!(tight.states.cache.kept("w-mid").is_some());
    assert!(tight.states.cache.kept("w-old").is_none());

    // An event stored after warming is in the next answer.
    let stopped = cr_body(
        "w2c",
        "w-new",
        43,
        2,
        json!({"streamUid": "7", "state": 1, "UtcMs": 2}),
    );
    assert_eq!(first.ingest(stopped).await.0, StatusCode::OK);
    let now = get_json(&tight_api, "/v1/sessions/w-new").await;
    assert_eq!(now, get_json(&uncached, "/v1/sessions/w-new").await);
    assert_eq!(now["event_count"], json!(3));
}

#[tokio::test]
async fn warming_gives_up_when_no_session_fits_the_budget() {
    let app = app(&[]).await;
    let sessions = ncsd::states::warm::MISFITS + 4;
    for i in 0..sessions {
        let body = cr_body(
            &format!("m{i}"),
            &format!("m-{i}"),
            40,
            0,
            json!({"status": 0}),
        );
        assert_eq!(app.ingest(body).await.0, StatusCode::OK);
    }
    // One byte: smaller than any session's state, so nothing can be kept.
    let (tiny, _) = with_cache(&app.state.store, 1);
    let folded = ncsd::states::warm::warm(&tiny.states, &tiny.shutdown, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        folded,
        ncsd::states::warm::MISFITS,
        "not one fold per session"
    );
    assert_eq!(tiny.states.cache.bytes(), 0);
    // With room, the same pass folds and keeps every session.
    let (roomy, _) = with_cache(&app.state.store, 1 << 20);
    let folded = ncsd::states::warm::warm(&roomy.states, &roomy.shutdown, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(folded, sessions);
}

#[tokio::test]
async fn a_finished_recordings_answer_is_kept_in_the_store_for_the_next_start() {
    let first = app(&[]).await;
    let store = first.state.store.clone();
    for (id, event_type, sequence, details) in [
        ("f0", 40, 0, json!({"status": 0})),
        ("f1", 11, 1, json!({"exitStatus": 0})),
        ("f2", 31, 2, json!({"status": 0})),
    ] {
        let body = cr_body(id, "sid-f", event_type, sequence, details);
        assert_eq!(first.ingest(body).await.0, StatusCode::OK);
    }
    let (status, answer) = first.get("/v1/sessions/sid-f").await;
    assert_eq!(
        (status, &answer["phase"]),
        (StatusCode::OK, &json!("completed"))
    );
    // Written in the background, at the session's newest cursor.
    let last_seq = store.session("sid-f").await.unwrap().unwrap().last_seq;
    let kept = kept_in_store(&store, "sid-f")
        .await
        .expect("the finished answer is kept in the store");
    assert_eq!((kept.last_seq, kept.format.as_str()), (last_seq, format()));
    // The kept state is the fold; the answer adds the session's project and its lifecycle
    // events (none here: this router runs no deriver).
    let mut fold = answer.clone();
    assert_eq!(
        fold.as_object_mut().unwrap().remove("lifecycle"),
        Some(json!([]))
    );
    assert_eq!(
        fold.as_object_mut().unwrap().remove("project"),
        Some(json!("default"))
    );
    assert_eq!(serde_json::from_slice::<Value>(&kept.json).unwrap(), fold);

    // A restarted instance answers from the store without folding: a marker kept at the same
    // cursor is what it serves. Folding on every read (`--session-cache-mb 0`) ignores it.
    let marker = |format: &str| KeptState {
        sid: "sid-f".into(),
        last_seq,
        format: format.into(),
        json: br#"{"kept":true}"#.to_vec(),
    };
    store.keep_states(vec![marker(format())]).await.unwrap();
    let restarted = app_in(first.dir.clone(), &[]).await;
    assert_eq!(
        restarted.get("/v1/sessions/sid-f").await.1,
        json!({"kept": true, "project": "default", "lifecycle": []})
    );
    let folding = app_in(first.dir.clone(), &["--session-cache-mb", "0"]).await;
    assert_eq!(folding.get("/v1/sessions/sid-f").await.1, answer);
    // Another build's answer is folded again.
    store
        .keep_states(vec![marker("ncsd 0.0.0 other")])
        .await
        .unwrap();
    let upgraded = app_in(first.dir.clone(), &[]).await;
    assert_eq!(upgraded.get("/v1/sessions/sid-f").await.1, answer);

    // A late event moves the session on: the kept answer is no longer used.
    store.keep_states(vec![marker(format())]).await.unwrap();
    let late = cr_body(
        "f3",
        "sid-f",
        43,
        3,
        json!({"streamUid": "7", "state": 1, "UtcMs": 9}),
    );
    assert_eq!(first.ingest(late).await.0, StatusCode::OK);
    let after_late = app_in(first.dir.clone(), &[]).await;
    let now = after_late.get("/v1/sessions/sid-f").await.1;
    assert_eq!(now, folding.get("/v1/sessions/sid-f").await.1);
    assert_eq!(now["event_count"], json!(4));
}

#[tokio::test]
async fn answers_waiting_to_be_kept_are_written_in_one_round_not_a_batch_per_pause() {
    // A start on a store full of finished recordings folds hundreds of them a second. Their
    // answers wait in a queue, and a round writes all that wait (up to 1,024) before the
    // pause: a pause after every 64 would leave most of a burst unwritten for seconds, and
    // each write then slows the reads again.
    let app = app(&[]).await;
    let store = app.state.store.clone();
    let keeper = Keeper::spawn_with(store.clone(), Duration::from_secs(3600));
    let sids: Vec<String> = (0..300).map(|i| format!("burst-{i:03}")).collect();
    // No await in between: the writer finds all 300 waiting when it first runs.
    for (i, sid) in sids.iter().enumerate() {
        keeper.keep(sid, i as i64 + 1, format!(r#"{{"n":{i}}}"#).as_bytes());
    }
    kept_in_store(&store, sids.last().unwrap()).await;
    for (i, sid) in sids.iter().enumerate() {
        let kept = store.kept_state(sid).await.unwrap();
        let kept = kept.unwrap_or_else(|| panic!("{sid} kept in the first round"));
        assert_eq!(
            (kept.last_seq, kept.json),
            (i as i64 + 1, format!(r#"{{"n":{i}}}"#).into_bytes())
        );
    }
}

#[tokio::test]
async fn a_flush_writes_the_answers_waiting_for_the_next_round() {
    // What `ncsd serve` does when it stops: answers queued after a round wait for the next
    // one (1.6 s later, here an hour); a flush writes them at once.
    let app = app(&[]).await;
    let store = app.state.store.clone();
    let keeper = Keeper::spawn_with(store.clone(), Duration::from_secs(3600));
    keeper.keep("first", 1, b"{}");
    assert!(kept_in_store(&store, "first").await.is_some());
    for i in 0..100 {
        keeper.keep(&format!("later-{i}"), 1, b"{}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        store.kept_state("later-0").await.unwrap().is_none(),
        "the next round is an hour away"
    );
    keeper.flush().await;
    for i in 0..100 {
        let sid = format!("later-{i}");
        assert!(
            store.kept_state(&sid).await.unwrap().is_some(),
            "{sid} kept by the flush"
        );
    }
}

#[test]
fn session_cache_warming_is_on_unless_turned_off() {
    let warm =
        |args: &[&str]| ServeConfig::from_args(args.iter().copied()).map(|c| c.session_cache_warm);
    assert!(warm(&[]).unwrap());
    assert!(!warm(&["--session-cache-warm", "false"]).unwrap());
    assert!(warm(&["--session-cache-warm", "nope"]).is_err());
}

/// Waits (up to 5 s) until the store keeps an answer for `sid` (they are written in the
/// background), and returns it.
async fn kept_in_store(store: &ncsd::store::DynStore, sid: &str) -> Option<KeptState> {
    for _ in 0..500 {
        if let Some(kept) = store.kept_state(sid).await.unwrap() {
            return Some(kept);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Waits (up to 5 s) until `sid`'s kept state is the one folded at its newest stored event.
async fn kept_current(st: &AppState, sid: &str) -> bool {
    for _ in 0..500 {
        if let (Some(kept), Some(row)) = (
            st.states.cache.kept(sid),
            st.store.session(sid).await.unwrap(),
        ) {
            if kept.last_seq == row.last_seq {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn sessions_changed_by_ingest_are_warmed_again_once_it_is_quiet() {
    let app = app(&[]).await;
    let st = app.state.clone();
    ncsd::states::warm::spawn_with(
        st.states.clone(),
        st.shutdown.clone(),
        Duration::ZERO,
        Duration::from_millis(50),
    );
    let audio = |state: i64| json!({"streamUid": "7", "state": state, "UtcMs": 1});
    for (i, sid) in ["q-1", "q-2"].iter().enumerate() {
        let body = cr_body(&format!("q{i}a"), sid, 40, 0, json!({"status": 0}));
        assert_eq!(app.ingest(body).await.0, StatusCode::OK);
    }
    // Nobody read them: warming did, once ingest was quiet.
    assert!(kept_current(&st, "q-1").await && kept_current(&st, "q-2").await);
    // A new event makes q-1's kept state stale; the next quiet moment brings it up to date.
    assert_eq!(
        app.ingest(cr_body("q0b", "q-1", 43, 1, audio(0))).await.0,
        StatusCode::OK
    );
    assert!(kept_current(&st, "q-1").await, "q-1 was not warmed again");
    let kept = st.states.cache.kept("q-1").unwrap();
    let state: Value = serde_json::from_slice(&kept.json).unwrap();
    assert_eq!(state["event_count"], json!(2));
}
