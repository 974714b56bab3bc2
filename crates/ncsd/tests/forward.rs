//! Forwarding end to end: ncsd with a configuration file, real HTTP receivers on loopback that
//! record what arrives and answer as told, and an independent Standard Webhooks verifier.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use common::{cr_body, TestServer};
use hmac::Mac;
use serde_json::{json, Value};

const KEY_B64: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What one request brought.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    at: Instant,
}

/// A planned answer: a status, and a `Retry-After` value.
type Planned = (u16, Option<&'static str>);

/// A receiver on loopback: records every request; answers each with the next planned
/// response (then 200), after an optional delay.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    plan: Arc<Mutex<Vec<Planned>>>,
    delay: Arc<Mutex<Duration>>,
}

impl Receiver {
    async fn start(self) -> (Self, String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(self.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (self, url, task)
    }

    fn received(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn types(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|g| body_json(&g.body)["type"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    // Recorded on arrival: a request the sender gives up on is cancelled during the delay.
    let delay = *r.delay.lock().unwrap();
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    r.got.lock().unwrap().push(Got {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body: body.to_vec(),
        at: Instant::now(),
    });
    let next = {
        let mut plan = r.plan.lock().unwrap();
        (!plan.is_empty()).then(|| plan.remove(0))
    };
    tokio::time::sleep(delay).await;
    match next {
        Some((status, retry_after)) => {
            let mut res = StatusCode::from_u16(status).unwrap().into_response();
            if let Some(ra) = retry_after {
                res.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            res
        }
        None => StatusCode::OK.into_response(),
    }
}

fn body_json(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap()
}

/// Standard Webhooks verification written from the specification, not with ncsd's code.
fn verifies(g: &Got, key_b64: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", g.id, g.timestamp).as_bytes());
    mac.update(&g.body);
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    g.signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(want.as_str()))
}

/// ncsd with `destinations` (TOML tables after `[[destination]]`) in a configuration file.
async fn with_destinations(
    destinations: &[String],
    extra: &[&str],
) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ncsd.toml");
    let text: String = destinations
        .iter()
        .map(|d| format!("[[destination]]\n{d}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    let mut args = vec!["--config", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    (common::start(&args).await, dir)
}

fn webhook(name: &str, url: &str, more: &str) -> String {
    format!(
        "name = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret = \"whsec_{KEY_B64}\"\nallow_private = true\nstart = \"beginning\"\n{more}"
    )
}

/// A short recording: started, left, exited 0.
async fn deliver_recording(srv: &TestServer, sid: &str) {
    for (i, (t, d)) in [
        (40, json!({"status": 0})),
        (41, json!({"leaveCode": 2})),
        (11, json!({"exitStatus": 0})),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, _) = srv
            .post(&cr_body(&format!("{sid}-{i}"), sid, t, i as i64, d))
            .await;
        assert_eq!(s, 200);
    }
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_and_chosen_ncs_events_arrive_signed() {
    let (rx, url, _task) = Receiver::default().start().await;
    let (srv, _dir) = with_destinations(
        &[webhook(
            "app",
            &url,
            "events = [\"recording.*\", \"ncs.40\"]",
        )],
        &[],
    )
    .await;
    deliver_recording(&srv, "s1").await;
    // A Console check is stored but never forwarded.
    let check = json!({"noticeId": "chk", "productId": 3, "eventType": 40, "payload":
        {"cname": "test_webhook", "sid": "x", "sequence": 0, "details": {"status": 0}}});
    srv.post(check.to_string().as_bytes()).await;
    wait_for("four messages", 10, || rx.received().len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = rx.received();
    let types: BTreeSet<String> = rx.types().into_iter().collect();
    assert_eq!(
        types,
        [
            "ncs.40",
            "recording.completed",
            "recording.started",
            "recording.stopped"
        ]
        .map(String::from)
        .into(),
        "{got:?}"
    );
    for g in &got {
        assert!(verifies(g, KEY_B64), "signature of {}", g.id);
        let b = body_json(&g.body);
        assert_eq!(b["id"], g.id.as_str(), "webhook-id is the message id");
        assert!(b["timestamp"].as_str().unwrap().ends_with('Z'));
        if b["type"] == "ncs.40" {
            assert_eq!(g.id, "s1-0", "an NCS event's id is its noticeId");
            assert_eq!(b["data"]["notice_id"], "s1-0");
            assert!(b["data"]["body"].is_object(), "the body as received");
        } else {
            assert!(g.id.starts_with("lc_"));
            assert_eq!(b["data"]["sid"], "s1");
        }
    }
    let (_, d) = srv.get("/v1/destinations").await;
    let app = &d["destinations"][0];
    assert_eq!(
        (app["name"].as_str(), app["state"].as_str()),
        (Some("app"), Some("active"))
    );
    assert_eq!(app["lag"], 0);
    assert!(app["last_success_ms"].is_i64());
    let (_, m) = srv
        .get("/v1/destinations/app/messages?state=delivered")
        .await;
    assert_eq!(m["messages"].as_array().unwrap().len(), 4);
    assert_eq!(m["messages"][0]["attempt_log"][0]["status"], 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_gets_everything_when_it_comes_back() {
    // Nothing listens on this port yet.
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let (srv, _dir) = with_destinations(
        &[webhook("late", &url, "retry = [\"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\", \"200ms\"]")],
        &[],
    )
    .await;
    for sid in ["d1", "d2", "d3"] {
        deliver_recording(&srv, sid).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, d) = srv.get("/v1/destinations").await;
    assert!(d["destinations"][0]["pending"].as_i64().unwrap() > 0, "{d}");
    assert!(d["destinations"][0]["last_error"].is_string());
    // Up now, on that port.
    let rx = Receiver::default();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(rx.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    wait_for("nine lifecycle messages", 10, || {
        rx.received()
            .iter()
            .map(|g| g.id.clone())
            .collect::<BTreeSet<_>>()
            .len()
            >= 9
    })
    .await;
    let ids: BTreeSet<String> = rx.received().into_iter().map(|g| g.id).collect();
    assert_eq!(
        ids.len(),
        9,
        "started, stopped and completed of three recordings"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_429_5xx_and_timeouts_are_handled() {
    // 410 disables; enable sends again.
    let (gone, gone_url, _t1) = Receiver::default().start().await;
    gone.plan.lock().unwrap().push((410, None));
    // 429 with Retry-After: 1, then accepted.
    let (busy, busy_url, _t2) = Receiver::default().start().await;
    busy.plan.lock().unwrap().push((429, Some("1")));
    // 500 on every try: failed after the last retry, then retried by hand.
    let (broken, broken_url, _t3) = Receiver::default().start().await;
    broken
        .plan
        .lock()
        .unwrap()
        .extend([(500, None), (502, None), (503, None)]);
    // Slower than the timeout once.
    let (slow, slow_url, _t4) = Receiver::default().start().await;
    *slow.delay.lock().unwrap() = Duration::from_millis(1500);
    let (srv, _dir) = with_destinations(
        &[
            webhook("gone", &gone_url, "events = [\"recording.started\"]"),
            webhook("busy", &busy_url, "events = [\"recording.started\"]\nretry = [\"30s\"]"),
            webhook(
                "broken",
                &broken_url,
                "events = [\"recording.started\"]\nretry = [\"100ms\", \"100ms\"]",
            ),
            webhook(
                "slow",
                &slow_url,
                "events = [\"recording.started\"]\ntimeout = \"500ms\"\nretry = [\"100ms\", \"100ms\", \"100ms\"]",
            ),
        ],
        &[],
    )
    .await;
    deliver_recording(&srv, "h1").await;

    // 410: disabled, visible; enabled again, delivered.
    wait_for("the 410", 10, || !gone.received().is_empty()).await;
    let state = |name: &'static str| {
        let srv = &srv;
        async move {
            let (_, d) = srv.get("/v1/destinations").await;
            d["destinations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == name)
                .unwrap()
                .clone()
        }
    };
    wait_for_async(|| async { state("gone").await["state"] == "disabled" }).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(gone.received().len(), 1, "nothing is sent while disabled");
    let res = srv
        .client
        .post(format!("{}/v1/destinations/gone/enable", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    wait_for("a delivery after enable", 10, || gone.received().len() == 2).await;

    // 429 + Retry-After 1: the second try about a second later (not the 30 s schedule).
    wait_for("the retry after 429", 10, || busy.received().len() == 2).await;
    let b = busy.received();
    let gap = b[1].at - b[0].at;
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_secs(5),
        "{gap:?}"
    );

    // 5xx: three tries (one and two retries), then failed; retry-failed delivers it.
    wait_for_async(|| async { state("broken").await["failed"] == 1 }).await;
    assert_eq!(broken.received().len(), 3);
    let (_, failed) = srv
        .get("/v1/destinations/broken/messages?state=failed")
        .await;
    let m = &failed["messages"][0];
    assert_eq!(m["attempt_log"].as_array().unwrap().len(), 3);
    assert_eq!(m["attempt_log"][2]["status"], 503);
    let res = srv
        .client
        .post(format!("{}/v1/destinations/broken/retry-failed", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    wait_for("the retried message", 10, || broken.received().len() == 4).await;
    wait_for_async(|| async { state("broken").await["failed"] == 0 }).await;

    // Timeout: the first try is cut off and counted as failed; a later try gets through.
    wait_for("a try after the timeout", 10, || slow.received().len() >= 2).await;
    *slow.delay.lock().unwrap() = Duration::ZERO;
    wait_for_async(|| async { state("slow").await["last_success_ms"].is_i64() }).await;
    let (_, sm) = srv.get("/v1/destinations/slow/messages").await;
    let log = sm["messages"][0]["attempt_log"].as_array().unwrap().clone();
    assert!(
        log[0]["error"].as_str().unwrap().contains("timed out"),
        "{log:?}"
    );
    srv.stop().await;
}

async fn wait_for_async<F, Fut>(mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_destination_does_not_hold_back_another() {
    let (slow, slow_url, _t1) = Receiver::default().start().await;
    *slow.delay.lock().unwrap() = Duration::from_secs(5);
    let (fast, fast_url, _t2) = Receiver::default().start().await;
    let (srv, _dir) = with_destinations(
        &[
            webhook("slow", &slow_url, "events = [\"ncs.*\"]\ntimeout = \"10s\""),
            webhook("fast", &fast_url, "events = [\"ncs.*\"]"),
        ],
        &[],
    )
    .await;
    let sent = Instant::now();
    deliver_recording(&srv, "iso").await;
    wait_for("the fast destination", 5, || fast.received().len() == 3).await;
    let took = fast.received().last().unwrap().at - sent;
    assert!(
        took < Duration::from_secs(1),
        "the fast one waited {took:?}"
    );
    let (_, d) = srv.get("/v1/destinations").await;
    let slow_row = d["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "slow")
        .unwrap()
        .clone();
    assert!(
        slow_row["pending"].as_i64().unwrap() > 0,
        "the slow one is still answering: {slow_row}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_keeps_each_recordings_order() {
    let (rx, url, _t) = Receiver::default().start().await;
    // Every first try fails, so without ordering retries would overtake later messages.
    rx.plan
        .lock()
        .unwrap()
        .extend((0..4).map(|_| (500u16, None)));
    let (srv, _dir) = with_destinations(
        &[webhook(
            "ordered",
            &url,
            "events = [\"ncs.*\"]\nordered = true\nconcurrency = 4\nretry = [\"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\", \"300ms\"]",
        )],
        &[],
    )
    .await;
    for sid in ["o1", "o2"] {
        for i in 0..6 {
            srv.post(&cr_body(
                &format!("{sid}-{i}"),
                sid,
                33,
                i,
                json!({"progress": i}),
            ))
            .await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while rx
        .received()
        .iter()
        .map(|g| &g.id)
        .collect::<BTreeSet<_>>()
        .len()
        < 12
    {
        if Instant::now() > deadline {
            let (_, m) = srv.get("/v1/destinations/ordered/messages?limit=50").await;
            panic!(
                "not all delivered: got {:?}\n{m}",
                rx.received()
                    .iter()
                    .map(|g| g.id.clone())
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Per sid, the accepted deliveries (first occurrence after the planned failures) in order.
    let mut per_sid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, g) in rx.received().iter().enumerate() {
        if n < 4 {
            continue; // answered 500
        }
        let b = body_json(&g.body);
        let sid = b["data"]["sid"].as_str().unwrap().to_string();
        let list = per_sid.entry(sid).or_default();
        if !list.contains(&g.id) {
            list.push(g.id.clone());
        }
    }
    for (sid, ids) in per_sid {
        let want: Vec<String> = (0..6).map(|i| format!("{sid}-{i}")).collect();
        assert_eq!(ids, want, "{sid}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_address_is_refused_unless_allowed() {
    let (rx, url, _t) = Receiver::default().start().await;
    let mut dest = webhook("private", &url, "events = [\"ncs.*\"]\nretry = []");
    dest = dest.replace("allow_private = true", "allow_private = false");
    let (srv, _dir) = with_destinations(&[dest], &[]).await;
    srv.post(&cr_body("p1", "sp", 40, 0, json!({"status": 0})))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        let (_, m) = srv
            .get("/v1/destinations/private/messages?state=failed")
            .await;
        if let Some(e) = m["messages"][0]["last_error"].as_str() {
            break e.to_string();
        }
        assert!(Instant::now() < deadline, "not failed: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        error.contains("refused") && error.contains("127.0.0.1"),
        "{error}"
    );
    assert!(
        rx.received().is_empty(),
        "nothing reached the private address"
    );
    srv.stop().await;
}
