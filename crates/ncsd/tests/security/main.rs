//! What ncsd promises about security, checked against the real binary where the promise is about
//! the process (start-up refusals, logs, files, memory, signals) and through the router where it
//! is about answers.

#[path = "../common/mod.rs"]
mod common;
mod process;
mod tls;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{cr_body, signed, SECRET};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use process::{serve_output, Proc};

const TOKEN: &str = "a-token-of-24-characters";

// 1. A secret is never weakened.

#[test]
fn allow_unsigned_with_a_secret_or_off_loopback_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let base = ["--listen", "127.0.0.1:0", "--database", &db];
    let refused = |args: &[&str], env: &[(&str, &str)], why: &str| {
        let out = serve_output(&[&base[..], args].concat(), env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
        assert!(err.contains(why), "{args:?} {env:?}: {err}");
    };
    refused(
        &["--allow-unsigned", "--secret", SECRET],
        &[],
        "--allow-unsigned",
    );
    // A variable left over from testing counts the same.
    refused(
        &["--secret", SECRET],
        &[("NCSD_ALLOW_UNSIGNED", "true")],
        "NCSD_ALLOW_UNSIGNED",
    );
    let out = serve_output(
        &[
            "--listen",
            "0.0.0.0:0",
            "--database",
            &db,
            "--allow-unsigned",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("loopback"), "{err}");
    assert!(
        !dir.path().join("x.db").exists(),
        "refused before opening the store"
    );
}

#[tokio::test]
async fn allow_unsigned_logs_a_warning_at_start() {
    let p = Proc::start(&["--allow-unsigned"], &[]);
    p.wait_ready("http").await;
    let logs = p.logs();
    assert!(
        logs.contains("WARN") && logs.contains("UNSIGNED"),
        "no warning at start:\n{logs}"
    );
}

// 3. Bounded memory per connection.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_headers_on_300_connections_stay_under_64_mib() {
    // A header timeout long enough that every connection is still open at the peak.
    let p = Proc::start(&["--secret", SECRET, "--header-timeout-ms", "30000"], &[]);
    p.wait_ready("http").await;
    let before = p.rss_kib();
    let addr = format!("127.0.0.1:{}", p.port);
    let mut conns = Vec::new();
    for _ in 0..300 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /ncs HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            .await
            .unwrap();
        conns.push(s);
    }
    // Each connection sends ~1.5 MiB of one header value, more than the old 1 MiB buffer, or
    // until the server closes it.
    let chunk = vec![b'a'; 64 * 1024];
    let mut peak = before;
    for _ in 0..24 {
        for s in conns.iter_mut() {
            let _ = tokio::time::timeout(Duration::from_millis(20), s.write_all(&chunk)).await;
        }
        peak = peak.max(p.rss_kib());
    }
    let grew_mib = (peak.saturating_sub(before)) as f64 / 1024.0;
    assert!(
        grew_mib < 64.0,
        "300 endless headers grew resident memory by {grew_mib:.1} MiB"
    );
    drop(conns);
    // And it still serves.
    let (status, _) = {
        let body = cr_body("after-flood", "s", 40, 0, json!({}));
        let mut req = reqwest::Client::new()
            .post(format!("{}/ncs", p.base("http")))
            .body(body.clone());
        for (k, v) in signed(SECRET, &body) {
            req = req.header(k, v);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 200);
}

#[tokio::test]
async fn idle_http2_connections_time_out_like_http1() {
    let p = Proc::start(&["--secret", SECRET, "--header-timeout-ms", "500"], &[]);
    p.wait_ready("http").await;
    let addr = format!("127.0.0.1:{}", p.port);
    let closes_within = |preface: &'static [u8]| {
        let addr = addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            s.write_all(preface).await.unwrap();
            let started = Instant::now();
            let mut buf = [0u8; 4096];
            loop {
                match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
                    Ok(Ok(_)) => continue,
                    Err(_) => return None,
                }
            }
        }
    };
    // HTTP/2 with prior knowledge: the preface and an empty SETTINGS frame, then nothing.
    let h2 = closes_within(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await;
    assert!(
        h2.is_some_and(|d| d < Duration::from_secs(5)),
        "an idle HTTP/2 connection stayed open: {h2:?}"
    );
    // HTTP/1: a finished request, then an idle keep-alive connection.
    let h1 = closes_within(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(h1.is_some_and(|d| d < Duration::from_secs(5)), "{h1:?}");
}

// 4. Files and help text keep secrets.

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let p = Proc::start(&["--secret", SECRET], &[]);
    p.wait_ready("http").await;
    let body = cr_body("mode", "s", 40, 0, json!({}));
    let mut req = reqwest::Client::new()
        .post(format!("{}/ncs", p.base("http")))
        .body(body.clone());
    for (k, v) in signed(SECRET, &body) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    for name in ["ncsd.db", "ncsd.db-wal", "ncsd.db-shm"] {
        let path = p.dir.path().join(name);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
}

#[test]
fn a_database_password_never_shows_in_help_or_errors() {
    let url = "postgres://ncsd:Pa55w0rd-Secret@127.0.0.1:1/ncsd";
    let help = Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["serve", "--help"])
        .env("NCSD_DATABASE_URL", url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--database"), "{text}");
    assert!(!text.contains("Pa55w0rd"), "the password is in --help");
    for url in [url, "mysql://ncsd:Pa55w0rd-Secret@127.0.0.1/ncsd"] {
        let out = serve_output(
            &["--listen", "127.0.0.1:0", "--secret", SECRET],
            &[("NCSD_DATABASE_URL", url), ("NCSD_LOG", "trace")],
        );
        let all = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{all}");
        assert!(all.contains("error"), "{all}");
        assert!(!all.contains("Pa55w0rd"), "the password leaked: {all}");
    }
}

// 5. The API token.

#[test]
fn a_short_api_token_refuses_to_start() {
    let out = serve_output(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite:///nonexistent/x.db",
            "--secret",
            SECRET,
            "--api-token",
            "fifteen-chars!!",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("16"), "{err}");
}

#[tokio::test]
async fn failed_token_attempts_and_rejected_deliveries_are_logged_once_a_minute_per_address() {
    let p = Proc::start(&["--secret", SECRET, "--api-token", TOKEN], &[]);
    p.wait_ready("http").await;
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let r = client
            .get(format!("{}/v1/events", p.base("http")))
            .bearer_auth("not-the-token-at-all")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = client
            .post(format!("{}/ncs", p.base("http")))
            .body(cr_body("unsigned", "s", 40, 0, json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = p.logs();
    let refused: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("API request refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{logs}");
    assert!(refused[0].contains("127.0.0.1"), "{logs}");
    let rejected: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("delivery refused"))
        .collect();
    assert_eq!(rejected.len(), 1, "{logs}");
    assert!(rejected[0].contains("127.0.0.1"), "{logs}");
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
}

// 6. Responses and logs.

#[tokio::test]
async fn request_ids_are_echoed_or_made_and_appear_in_the_log() {
    let p = Proc::start(&["--secret", SECRET, "--api-token", TOKEN], &[]);
    p.wait_ready("http").await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!("{}/v1/events?limit=5000", p.base("http")))
        .bearer_auth(TOKEN)
        .header("x-request-id", "client-id-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["x-request-id"], "client-id-42");
    let made = client
        .get(format!("{}/v1/events", p.base("http")))
        .bearer_auth(TOKEN)
        .header("x-request-id", "spaces are not kept")
        .send()
        .await
        .unwrap();
    let made = made.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(made.len() >= 16 && !made.contains(' '), "{made}");
    let ingest = client
        .post(format!("{}/ncs", p.base("http")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(ingest.headers().contains_key("x-request-id"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = p.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("client-id-42") && l.contains("status=400")),
        "{logs}"
    );
    assert!(logs.contains(&made), "{logs}");
}

// 7. Replays cost nothing.

#[tokio::test]
async fn a_replayed_unreadable_body_is_counted_not_stored_again() {
    let srv = common::start(&[]).await;
    let body = br#"{"noticeId": 12, "not": "an envelope"}"#;
    let (s1, a) = srv.post(body).await;
    let (s2, b) = srv.post(body).await;
    assert_eq!((s1, s2), (a_status(&a), a_status(&b)));
    assert_eq!(a["quarantine_id"], b["quarantine_id"]);
    let (_, q) = srv.get("/v1/quarantine").await;
    let items = q["quarantine"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{q}");
    assert_eq!(items[0]["deliveries"], 2);
    srv.stop().await;
}

fn a_status(v: &serde_json::Value) -> u16 {
    v["status"].as_u64().map_or(200, |s| s as u16)
}
