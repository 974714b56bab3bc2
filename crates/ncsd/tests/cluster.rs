//! Several ncsd instances on one PostgreSQL database, over HTTP, and a database that goes away
//! and comes back. Needs PostgreSQL (see `common::pg`); fails if it is unreachable unless
//! `NCSD_SKIP_POSTGRES=1`.

mod common;

use std::time::Duration;

use common::pg::{pg_target, via_port, PgDatabase, Relay};
use common::{cr_body, start, SseReader, TestServer};
use serde_json::json;

async fn two_instances(db: &PgDatabase) -> (TestServer, TestServer) {
    let a = start(&["--database", &db.url]).await;
    let b = start(&["--database", &db.url]).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_delivered_to_two_instances_at_once_is_stored_once() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    for i in 0..30 {
        let body = cr_body(&format!("both-{i}"), "s-both", 43, i, json!({"state": 0}));
        let (ra, rb) = tokio::join!(a.post(&body), b.post(&body));
        assert_eq!((ra.0, rb.0), (200, 200));
        assert_ne!(
            ra.1["duplicate"], rb.1["duplicate"],
            "exactly one instance stored it first"
        );
    }
    let (_, list) = a.get("/v1/events?limit=1000").await;
    assert_eq!(list["events"].as_array().unwrap().len(), 30);
    assert!(list["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["deliveries"] == 2));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_spread_over_instances_reads_the_same_everywhere() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    let mut events: Vec<(u32, serde_json::Value)> =
        vec![(40, json!({"status": 0})), (30, json!({"status": 0}))];
    for i in 0..20 {
        events.push((33, json!({"progress": i * 100})));
    }
    events.push((41, json!({"leaveCode": 6})));
    events.push((11, json!({"exitStatus": 0})));
    events.push((
        31,
        json!({"status": 0, "fileList": [{"fileName": "a.m3u8", "uid": "0"}]}),
    ));
    let bodies: Vec<Vec<u8>> = events
        .iter()
        .enumerate()
        .rev()
        .map(|(seq, (t, d))| {
            cr_body(
                &format!("spread-{seq}"),
                "s-spread",
                *t,
                seq as i64,
                d.clone(),
            )
        })
        .collect();
    let mut tasks = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let target = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let client = a.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = client.post(format!("{target}/ncs")).body(body.clone());
            for (k, v) in common::signed(common::SECRET, &body) {
                req = req.header(k, v);
            }
            req.send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, mut sa) = a.get("/v1/sessions/s-spread").await;
    let (_, mut sb) = b.get("/v1/sessions/s-spread").await;
    // Lifecycle events follow ingest by up to a second (tests/lifecycle.rs checks that both
    // instances agree on them); the state itself must agree at once.
    sa.as_object_mut().unwrap().remove("lifecycle");
    sb.as_object_mut().unwrap().remove("lifecycle");
    assert_eq!(sa, sb);
    assert_eq!(sa["event_count"], events.len());
    assert_eq!(sa["phase"], "completed");
    assert_eq!(sa["missing_sequences"], json!([]));
    assert_eq!(
        sa["recorder"]["leave_reasons"],
        json!(["LEAVE_CODE_SIG", "LEAVE_CODE_NO_USERS"])
    );
    let (_, la) = a.get("/v1/sessions").await;
    let (_, lb) = b.get("/v1/sessions").await;
    assert_eq!(la, lb);
    assert_eq!(
        la["sessions"][0]["event_count"],
        events.len(),
        "no lost update in the summary row"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_on_any_instance_carries_what_any_instance_stored() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    let url_b = format!("{}/v1/stream", b.base);
    let mut on_b = SseReader::connect(&b.client, &url_b, None).await;
    a.post(&cr_body("x1", "s-x", 40, 0, json!({"status": 0})))
        .await;
    b.post(&cr_body("x2", "s-x", 42, 1, json!({"streamUid": "0"})))
        .await;
    a.post(br#"{"noticeId":"x3","productId":1,"eventType":101,"payload":{}}"#)
        .await;
    let wait = Duration::from_secs(10);
    // Event and session messages (lifecycle messages, derived in the background, may come
    // between them: tests/lifecycle.rs covers those).
    let mut got = Vec::new();
    while got.len() < 5 {
        let m = on_b.next(wait).await.expect("a message on instance B");
        if m.event != "lifecycle" {
            got.push(m);
        }
    }
    let events: Vec<_> = got
        .iter()
        .filter(|m| m.event == "event")
        .map(|m| m.data["notice_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["x1", "x2", "x3"]);
    assert!(got.windows(2).all(|w| w[0].id < w[1].id));
    // Resume on instance A from B's ids: the same messages, no gap, no repeat.
    let mut on_a =
        SseReader::connect(&a.client, &format!("{}/v1/stream", a.base), Some(got[0].id)).await;
    for want in &got[1..] {
        let mut m = on_a.next(wait).await.unwrap();
        while m.event == "lifecycle" {
            m = on_a.next(wait).await.unwrap();
        }
        assert_eq!((m.id, &m.event), (want.id, &want.event));
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_then_recovers_without_restart() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let mut relay = Relay::start(pg_target(&db.url).await).await;
    let url = via_port(&db.url, &db.name, relay.port);
    let srv = start(&["--database", &url]).await;
    assert_eq!(
        srv.post(&cr_body("before", "s", 40, 0, json!({}))).await.0,
        200
    );
    relay.cut().await;
    let (status, err) = srv.post(&cr_body("during", "s", 42, 1, json!({}))).await;
    assert_eq!(status, 503, "{err}");
    assert!(err["error"].as_str().unwrap().contains("storage"));
    assert_eq!(srv.get("/healthz").await.0, 503);
    relay.restore().await;
    let mut recovered = false;
    for _ in 0..50 {
        if srv.post(&cr_body("after", "s", 42, 1, json!({}))).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "ingest recovers by itself");
    assert_eq!(srv.get("/healthz").await.0, 200);
    assert_eq!(srv.get("/v1/events/before").await.0, 200);
    assert_eq!(
        srv.get("/v1/events/during").await.0,
        404,
        "the 503 delivery was not stored"
    );
    srv.stop().await;
}
