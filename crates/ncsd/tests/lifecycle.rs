//! Lifecycle events end to end: recorded exactly once whatever the arrival order and however
//! often NCS repeats itself, on SQLite and on PostgreSQL with two instances; listed, attached
//! to the session, carried by the live stream (resumable without a gap or a repeat); stalls.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::pg::PgDatabase;
use common::{cr_body, start, SseReader, TestServer};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};

/// A whole recording: started, sliced, streams, a fatal error, left, exited 0, uploaded.
fn recording(sid: &str) -> Vec<Vec<u8>> {
    let events: Vec<(u32, Value)> = vec![
        (30, json!({"status": 0})),
        (40, json!({"status": 0})),
        (
            42,
            json!({"streamUid": "0", "startUtcMs": 1, "discontinueUtcMs": 1}),
        ),
        (43, json!({"streamUid": "7", "state": 0, "UtcMs": 10})),
        (33, json!({"progress": 4000})),
        (1, json!({"module": 1, "errorLevel": 5, "errorCode": 47})),
        (41, json!({"leaveCode": 6})),
        (11, json!({"exitStatus": 0})),
        (
            31,
            json!({"status": 0, "fileList": [{"fileName": "a.m3u8", "uid": "0"}]}),
        ),
    ];
    events
        .iter()
        .enumerate()
        .map(|(seq, (t, d))| cr_body(&format!("{sid}-{seq}"), sid, *t, seq as i64, d.clone()))
        .collect()
}

/// The recording's deliveries shuffled, each once, a third of them twice more, and a
/// redundant-path copy of two of them (a new noticeId, the same content).
fn misbehaving(sid: &str, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let bodies = recording(sid);
    let mut all = bodies.clone();
    for (i, b) in bodies.iter().enumerate() {
        if i % 3 == 0 {
            all.push(b.clone());
            all.push(b.clone());
        }
    }
    for i in [2usize, 7] {
        let mut v: Value = serde_json::from_slice(&bodies[i]).unwrap();
        v["noticeId"] = json!(format!("{sid}-{i}-copy"));
        all.push(v.to_string().into_bytes());
    }
    all.shuffle(&mut rng);
    all
}

async fn lifecycle_of(srv: &TestServer, sid: &str) -> Vec<Value> {
    let (s, body) = srv.get(&format!("/v1/lifecycle?sid={sid}&limit=100")).await;
    assert_eq!(s, 200, "{body}");
    body["lifecycle"].as_array().unwrap().clone()
}

/// Wait until `sid` has a `recording.completed` (and the deriver caught up with everything).
async fn settled(srv: &TestServer, sid: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = lifecycle_of(srv, sid).await;
        if list.iter().any(|l| l["type"] == "recording.completed") {
            // One more look after the deriver had time for anything left.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            return lifecycle_of(srv, sid).await;
        }
        assert!(
            Instant::now() < deadline,
            "no recording.completed for {sid}: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds(list: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in list {
        *out.entry(l["type"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    out
}

/// Whatever the order, each kind at most once; completed, fatal_error always; the ids stable.
fn check_once(sid: &str, list: &[Value]) {
    let k = kinds(list);
    assert!(k.values().all(|&n| n == 1), "{sid}: repeated: {k:?}");
    assert!(k.contains_key("recording.completed"), "{sid}: {k:?}");
    assert!(k.contains_key("recording.fatal_error"), "{sid}: {k:?}");
    assert!(
        !k.contains_key("recording.failed"),
        "{sid}: exit 0 decides: {k:?}"
    );
    for l in list {
        assert!(l["id"].as_str().unwrap().starts_with("lc_"));
        assert!(l["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(l["data"]["sid"], sid);
        assert!(l["data"]["session"].is_object());
    }
    let done = list
        .iter()
        .find(|l| l["type"] == "recording.completed")
        .unwrap();
    assert_eq!(done["data"]["phase"], "completed");
    assert!(done["data"]["cause"]["notice_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_are_recorded_exactly_once_on_sqlite() {
    let srv = start(&[]).await;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for seed in 0..6u64 {
        let sid = format!("sq-{seed}");
        for body in misbehaving(&sid, seed) {
            assert_eq!(srv.post(&body).await.0, 200);
        }
        let list = settled(&srv, &sid).await;
        check_once(&sid, &list);
        for l in &list {
            ids.insert(
                l["id"].as_str().unwrap().into(),
                format!("{sid} {}", l["type"]),
            );
        }
        // The session's answer carries its lifecycle events.
        let (_, state) = srv.get(&format!("/v1/sessions/{sid}")).await;
        assert_eq!(state["lifecycle"].as_array().unwrap().len(), list.len());
        assert_eq!(state["phase"], "completed");
    }
    // Distinct (sid, type) pairs have distinct ids.
    assert!(ids.len() >= 6 * 2);
    // Filters.
    let (_, done) = srv.get("/v1/lifecycle?type=recording.completed").await;
    assert_eq!(done["lifecycle"].as_array().unwrap().len(), 6);
    let (_, room) = srv.get("/v1/lifecycle?cname=room&limit=1").await;
    assert_eq!(room["lifecycle"].as_array().unwrap().len(), 1);
    assert!(room["next"].is_i64());
    let (s, bad) = srv.get("/v1/lifecycle?type=recording.done").await;
    assert_eq!(s, 400, "{bad}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_arriving_first_records_completed_alone() {
    let srv = start(&[]).await;
    let bodies = recording("exit-first");
    // 11 first, then everything else but the fatal error.
    assert_eq!(srv.post(&bodies[7]).await.0, 200);
    for (i, b) in bodies.iter().enumerate() {
        if i != 7 && i != 5 {
            srv.post(b).await;
        }
    }
    let list = settled(&srv, "exit-first").await;
    assert_eq!(
        kinds(&list).into_keys().collect::<Vec<_>>(),
        ["recording.completed"]
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_carries_lifecycle_events_and_resumes_without_gap_or_repeat() {
    let srv = start(&[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/stream", srv.base);
    let mut sse = SseReader::connect(&client, &url, None).await;
    let bodies = recording("streamed");
    for b in &bodies[..4] {
        srv.post(b).await;
    }
    // Read until recording.started, remembering the last id.
    let mut last_id = None;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains(&"recording.started".to_string()) {
        assert!(Instant::now() < deadline, "no lifecycle message");
        let Some(m) = sse.next(Duration::from_secs(5)).await else {
            continue;
        };
        last_id = Some(m.raw_id.clone());
        if m.event == "lifecycle" {
            assert!(m.raw_id.contains(':'), "{}", m.raw_id);
            seen.push(m.data["type"].as_str().unwrap().to_string());
        }
    }
    drop(sse);
    for b in &bodies[4..] {
        srv.post(b).await;
    }
    settled(&srv, "streamed").await;
    // Resume after the last message seen: the rest, each lifecycle event once.
    let mut sse = SseReader::connect_raw(&client, &url, last_id.as_deref()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains(&"recording.completed".to_string()) {
        assert!(
            Instant::now() < deadline,
            "resumed stream lacks completed: {seen:?}"
        );
        let Some(m) = sse.next(Duration::from_secs(5)).await else {
            continue;
        };
        if m.event == "lifecycle" {
            seen.push(m.data["type"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        seen,
        [
            "recording.started",
            "recording.fatal_error",
            "recording.stopped",
            "recording.completed"
        ]
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_recording_is_stalled_once_and_a_delivery_clears_it() {
    let srv = start(&["--stall-after", "1s"]).await;
    let bodies = recording("quiet");
    srv.post(&bodies[1]).await; // 40: recording
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let list = lifecycle_of(&srv, "quiet").await;
        if list.iter().any(|l| l["type"] == "recording.stalled") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not stalled within 1.5 windows: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, state) = srv.get("/v1/sessions/quiet").await;
    assert!(
        state["attention"]
            .as_array()
            .unwrap()
            .contains(&json!("stalled")),
        "{state}"
    );
    srv.post(&bodies[2]).await;
    let (_, state) = srv.get("/v1/sessions/quiet").await;
    assert!(
        !state["attention"]
            .as_array()
            .unwrap()
            .contains(&json!("stalled")),
        "a delivery clears it: {state}"
    );
    // Quiet again: still one recording.stalled.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let list = lifecycle_of(&srv, "quiet").await;
    assert_eq!(kinds(&list)["recording.stalled"], 1);
    // A finished recording is never stalled.
    for b in recording("finished") {
        srv.post(&b).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let list = lifecycle_of(&srv, "finished").await;
    assert!(!kinds(&list).contains_key("recording.stalled"), "{list:?}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_record_each_lifecycle_event_once() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let a = start(&["--database", &db.url]).await;
    let b = start(&["--database", &db.url]).await;
    for seed in 0..4u64 {
        let sid = format!("pg-{seed}");
        let bodies = misbehaving(&sid, seed);
        let mut tasks = Vec::new();
        for (i, body) in bodies.into_iter().enumerate() {
            let (base, client) = if i % 2 == 0 {
                (a.base.clone(), a.client.clone())
            } else {
                (b.base.clone(), b.client.clone())
            };
            tasks.push(tokio::spawn(async move {
                let mut req = client.post(format!("{base}/ncs")).body(body.clone());
                for (k, v) in common::signed(common::SECRET, &body) {
                    req = req.header(k, v);
                }
                req.send().await.unwrap().status().as_u16()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
        let list = settled(&a, &sid).await;
        check_once(&sid, &list);
        assert_eq!(lifecycle_of(&b, &sid).await, list, "both instances agree");
    }
    a.stop().await;
    b.stop().await;
}
