//! More than a hundred named hostile requests, signed and unsigned. Each must get its documented
//! status with a JSON `error` (never a 5xx, a dropped connection or a panic), nothing valid may
//! be lost, and the service must be healthy afterwards.

mod cases;
#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use cases::{cases, VALID};
use common::raw::exchange;
use common::{signed, start, SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_documented_json_answers() {
    let srv = start(&["--request-timeout-ms", "1500"]).await;
    let cases = cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let res = exchange(srv.addr, &c.parts, c.pause, Duration::from_secs(5)).await;
        let Some(res) = res else {
            failures.push(format!("{}: no HTTP response (connection dropped)", c.name));
            continue;
        };
        let body = res.json();
        // A signed body that cannot be read is acknowledged (200) and quarantined; the cases
        // keep the 400/422 that says why it cannot be read.
        let quarantined = c.status == 400 || c.status == 422;
        if quarantined && c.parts[0].starts_with(b"POST /ncs ") {
            if res.status != 200 || body["quarantined"] != true {
                failures.push(format!(
                    "{}: status {} (want 200, quarantined) {}",
                    c.name,
                    res.status,
                    String::from_utf8_lossy(&res.body)
                ));
            }
            continue;
        }
        if res.status != c.status {
            failures.push(format!(
                "{}: status {} (want {}) {}",
                c.name,
                res.status,
                c.status,
                String::from_utf8_lossy(&res.body)
            ));
        } else if res.status >= 500 {
            failures.push(format!("{}: server error {}", c.name, res.status));
        } else if res.status != 200 && !body["error"].is_string() {
            failures.push(format!(
                "{}: {} without a JSON error: {:?}",
                c.name,
                res.status,
                String::from_utf8_lossy(&res.body)
            ));
        } else if res.status == 200 && body["ok"] != true {
            failures.push(format!("{}: 200 without an ack body", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Still healthy, still storing.
    assert_eq!(srv.get("/healthz").await.0, 200);
    let (status, _) = srv.post(VALID.as_bytes()).await;
    assert_eq!(status, 200);
    let (_, ev) = srv.get("/v1/events/ok-1").await;
    assert_eq!(ev["event_type"], 40);
    // Every signed-but-unreadable body is in the quarantine.
    let (_, q) = srv.get("/v1/quarantine?limit=1000").await;
    // The same body sent by two cases is one row counting both deliveries.
    let quarantined: u64 = q["quarantine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["deliveries"].as_u64().unwrap())
        .sum();
    let signed_bad = cases
        .iter()
        .filter(|c| (c.status == 400 || c.status == 422) && c.parts[0].starts_with(b"POST /ncs "))
        .count() as u64;
    assert_eq!(
        quarantined, signed_bad,
        "every signed 400/422 body is quarantined"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_do_not_delay_a_real_delivery() {
    // A small connection cap, filled by clients that never finish their headers.
    let srv = start(&["--max-connections", "64", "--header-timeout-ms", "20000"]).await;
    let mut stalled = Vec::new();
    for _ in 0..300 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(srv.addr).await {
            use tokio::io::AsyncWriteExt;
            let _ = s.write_all(b"POST /ncs HTTP/1.1\r\nHost: x\r\n").await;
            stalled.push(s);
        }
    }
    // The real delivery must get through long before the stalled clients' header timeout.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let body = VALID.as_bytes().to_vec();
    let mut req = client.post(format!("{}/ncs", srv.base)).body(body.clone());
    for (k, v) in signed(SECRET, &body) {
        req = req.header(k, v);
    }
    let res = req
        .send()
        .await
        .expect("a real delivery gets through while 300 clients stall");
    assert_eq!(res.status().as_u16(), 200);
    drop(stalled);
    srv.stop().await;
}
