//! NCS's own address list from a fake Agora API on loopback: deliveries only from the listed
//! addresses; the list kept in the store across a restart while the API is down; a failed
//! refresh keeping the list in use and counting the failure.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use common::{cr_body, TestServer};
use serde_json::{json, Value};

/// The fake API: answers with `hosts`, or 500 when `hosts` is None; checks Basic auth.
#[derive(Clone, Default)]
struct FakeAgora {
    hosts: Arc<Mutex<Option<Vec<&'static str>>>>,
    calls: Arc<Mutex<u32>>,
}

async fn answer(
    axum::extract::State(f): axum::extract::State<FakeAgora>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    *f.calls.lock().unwrap() += 1;
    // "cid:csecret" in Base64.
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Basic Y2lkOmNzZWNyZXQ=")
    {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
    }
    match f.hosts.lock().unwrap().clone() {
        Some(hosts) => (
            StatusCode::OK,
            axum::Json(json!({"data": {"service": {"hosts":
                hosts.iter().map(|h| json!({"primaryIP": h})).collect::<Vec<_>>()}}})),
        ),
        None => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({}))),
    }
}

async fn fake(f: FakeAgora) -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/v2/ncs/ip", axum::routing::get(answer))
        .with_state(f);
    (
        base,
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }),
    )
}

fn config(dir: &std::path::Path, api: &str, refresh: &str) -> String {
    let p = dir.join("ncsd.toml");
    std::fs::write(
        &p,
        format!(
            "[agora]\ncustomer_id = \"cid\"\ncustomer_secret = \"csecret\"\nallow_ncs_ips = true\n\
             api_base = \"{api}\"\nrefresh = \"{refresh}\"\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

async fn delivery(srv: &TestServer, id: &str) -> u16 {
    srv.post(&cr_body(id, "s", 40, 0, json!({}))).await.0
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_only_from_the_listed_addresses_kept_across_a_restart() {
    let f = FakeAgora::default();
    *f.hosts.lock().unwrap() = Some(vec!["192.0.2.10"]);
    let (api, task) = fake(f.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &api, "1h");
    let db = format!("sqlite://{}", dir.path().join("n.db").display());

    // The test client (127.0.0.1) is not an NCS address.
    let srv = common::start(&["--config", &cfg, "--database", &db]).await;
    eventually("the list fetched", || *f.calls.lock().unwrap() >= 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(delivery(&srv, "n1").await, 403);
    srv.stop().await;

    // Now 127.0.0.1 is listed.
    *f.hosts.lock().unwrap() = Some(vec!["192.0.2.10", "127.0.0.1"]);
    let srv = common::start(&["--config", &cfg, "--database", &db]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivery(&srv, "n2").await != 200 {
        assert!(Instant::now() < deadline, "still refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    srv.stop().await;

    // The API goes away; a restart still has the last good list, from the store.
    task.abort();
    let _ = task.await;
    let srv = common::start(&["--config", &cfg, "--database", &db]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivery(&srv, "n3").await != 200 {
        assert!(Instant::now() < deadline, "the stored list was not used");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_the_list_in_use() {
    let f = FakeAgora::default();
    *f.hosts.lock().unwrap() = Some(vec!["127.0.0.1"]);
    let (api, _task) = fake(f.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &api, "1s");
    let srv = common::start(&["--config", &cfg]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivery(&srv, "r1").await != 200 {
        assert!(Instant::now() < deadline, "not allowed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Refreshes now fail (500): the list in use stays.
    *f.hosts.lock().unwrap() = None;
    let before = *f.calls.lock().unwrap();
    eventually("two failed refreshes", || {
        *f.calls.lock().unwrap() >= before + 2
    })
    .await;
    assert_eq!(delivery(&srv, "r2").await, 200);
    // And the failures are counted.
    let text = srv
        .client
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ncsd_ncs_ip_refresh_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(failures >= 2.0, "{text}");
    srv.stop().await;
}
