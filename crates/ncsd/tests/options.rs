//! Ingest options that harden it: allow-list, notifyMs window, retention, `ncsd purge`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{cr_body, start};
use serde_json::json;

fn body_with_notify(id: &str, notify_ms: Option<i64>) -> Vec<u8> {
    let mut v = json!({"noticeId": id, "productId": 3, "eventType": 40, "payload": {"sid": "s", "sequence": 0}});
    if let Some(t) = notify_ms {
        v["notifyMs"] = json!(t);
    }
    v.to_string().into_bytes()
}

#[tokio::test]
async fn allow_list_refuses_other_networks() {
    let srv = start(&["--allow-from", "10.0.0.0/8,192.0.2.1"]).await;
    let (status, err) = srv.post(&cr_body("a1", "s", 40, 0, json!({}))).await;
    assert_eq!(status, 403);
    assert!(err["error"].as_str().unwrap().contains("--allow-from"));
    assert_eq!(srv.get("/v1/events/a1").await.0, 404);
    srv.stop().await;
    let srv = start(&["--allow-from", "127.0.0.0/8"]).await;
    assert_eq!(srv.post(&cr_body("a2", "s", 40, 0, json!({}))).await.0, 200);
    srv.stop().await;
}

#[tokio::test]
async fn notify_window_refuses_stale_and_missing_notify_ms() {
    let srv = start(&["--max-notify-skew", "10m"]).await;
    let now = ncsd::ingest::now_ms();
    assert_eq!(
        srv.post(&body_with_notify("fresh", Some(now - 1000)))
            .await
            .0,
        200
    );
    let (status, err) = srv
        .post(&body_with_notify("stale", Some(now - 3_600_000)))
        .await;
    assert_eq!(status, 403);
    assert!(err["error"].as_str().unwrap().contains("--max-notify-skew"));
    assert_eq!(srv.post(&body_with_notify("none", None)).await.0, 403);
    assert_eq!(srv.get("/v1/events/stale").await.0, 404);
    srv.stop().await;
    // Off by default: an old notifyMs (a captured body) is accepted.
    let srv = start(&[]).await;
    assert_eq!(srv.post(&body_with_notify("old", Some(1))).await.0, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_old_sessions_in_the_background() {
    let srv = start(&["--retain", "1s"]).await;
    assert_eq!(
        srv.post(&cr_body("r1", "old-session", 40, 0, json!({})))
            .await
            .0,
        200
    );
    assert_eq!(
        srv.post(br#"{"noticeId":"r2","productId":1,"eventType":101,"payload":{}}"#)
            .await
            .0,
        200
    );
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if srv.get("/v1/events/r1").await.0 == 404 && srv.get("/v1/events/r2").await.0 == 404 {
            gone = true;
            break;
        }
    }
    assert!(gone, "events older than --retain are purged");
    assert_eq!(srv.get("/v1/sessions/old-session").await.0, 404);
    // New deliveries are still taken while the purger runs.
    assert_eq!(
        srv.post(&cr_body("r3", "new", 40, 0, json!({}))).await.0,
        200
    );
    assert_eq!(srv.get("/v1/events/r3").await.0, 200);
    srv.stop().await;
}

#[tokio::test]
async fn purge_command_deletes_before_a_date() {
    let srv = start(&[]).await;
    for i in 0..3 {
        srv.post(&cr_body(
            &format!("p{i}"),
            &format!("s{i}"),
            40,
            0,
            json!({}),
        ))
        .await;
    }
    let (_dir, db) = srv.stop_keep_db().await; // _dir keeps the file until the end
    let run = |before: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_ncsd"))
            .args(["purge", "--database", &db, "--before", before])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(run("2000-01-01").contains("purged 0 events"));
    assert!(run("0s").contains("purged 3 events"));
    let bad = Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["purge", "--database", &db, "--before", "someday"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--before"));
}

async fn post_from(srv: &common::TestServer, id: &str, xff: &str) -> u16 {
    let body = cr_body(id, "s", 40, 0, json!({}));
    let mut headers = common::signed(common::SECRET, &body);
    headers.push(("X-Forwarded-For", xff.to_string()));
    srv.post_raw(&body, &headers).await.0
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    // The test client is 127.0.0.1; the allow-list takes only 10.0.0.0/8.
    let srv = start(&[
        "--allow-from",
        "10.0.0.0/8",
        "--trusted-proxies",
        "127.0.0.1",
    ])
    .await;
    assert_eq!(
        post_from(&srv, "t1", "10.1.2.3").await,
        200,
        "a client behind the proxy"
    );
    assert_eq!(
        post_from(&srv, "t2", "10.1.2.3, 203.0.113.7").await,
        403,
        "the right-most untrusted hop is the client, not what it wrote on the left"
    );
    srv.stop().await;
    // Not a trusted proxy: the header is ignored and the peer (127.0.0.1) is refused.
    let srv = start(&["--allow-from", "10.0.0.0/8"]).await;
    assert_eq!(
        post_from(&srv, "t3", "10.1.2.3").await,
        403,
        "a spoofed header"
    );
    srv.stop().await;
}

#[tokio::test]
async fn readyz_says_whether_this_instance_can_store() {
    let srv = start(&[]).await;
    let (s, b) = srv.get("/readyz").await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ready")));
    srv.stop().await;
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            &format!("sqlite://{}", dir.path().join("x.db").display()),
            "--secret",
            "s",
            "--log-format",
            "json",
        ])
        .env("NCSD_LOG", "info,ncsd::access=debug")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    common::wait_healthy(&client, &base).await;
    let res = client
        .get(format!("{base}/v1/events"))
        .header("x-request-id", "json-log-check")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A delivery's line carries what it was and what became of it.
    let body = cr_body("span-1", "sid-span", 40, 0, json!({}));
    let mut req = client.post(format!("{base}/ncs")).body(body.clone());
    for (k, v) in common::signed("s", &body) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .any(|v| v["span"]["request_id"] == "json-log-check" && v["fields"]["status"] == 200),
        "{text}"
    );
    assert!(
        lines.iter().any(|v| v["span"]["notice_id"] == "span-1"
            && v["span"]["sid"] == "sid-span"
            && v["span"]["event_type"] == 40
            && v["span"]["outcome"] == "stored"),
        "{text}"
    );
}
