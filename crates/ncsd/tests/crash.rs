//! Crash safety: the real `ncsd` binary is killed with SIGKILL, repeatedly, while clients keep
//! delivering; after each restart every delivery that was answered 200 must be stored, and a
//! resend of it must be recognised as a duplicate.

mod common;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{cr_body, free_port, signed, wait_healthy, SECRET};
use serde_json::json;

/// A delivery that was answered 200: its noticeId and body.
type Acked = (String, Vec<u8>);

fn spawn(port: u16, db: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            db,
            "--secret",
            SECRET,
        ])
        .env("NCSD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ncsd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_load_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut counter = 0u64;

    for round in 0..3 {
        let mut child = spawn(port, &db);
        wait_healthy(&client, &base).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..8 {
            let (client, base, acked, stop) =
                (client.clone(), base.clone(), acked.clone(), stop.clone());
            let start = counter + w * 1_000_000;
            workers.push(tokio::spawn(async move {
                let mut i = start;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let id = format!("crash-{round}-{i}");
                    let body = cr_body(&id, &format!("sid-{w}"), 43, i as i64, json!({"state": 0}));
                    let mut req = client.post(format!("{base}/ncs")).body(body.clone());
                    for (k, v) in signed(SECRET, &body) {
                        req = req.header(k, v);
                    }
                    match req.send().await {
                        Ok(r) if r.status().as_u16() == 200 => {
                            acked.lock().unwrap().push((id, body))
                        }
                        _ => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            }));
        }
        counter += 10_000_000;
        tokio::time::sleep(Duration::from_millis(700)).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            w.await.unwrap();
        }
    }

    let mut child = spawn(port, &db);
    wait_healthy(&client, &base).await;
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the load produced too few acknowledged deliveries: {}",
        acked.len()
    );
    // Page through everything stored and check every acknowledged id is there.
    let mut stored = HashSet::new();
    let mut after = 0i64;
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/v1/events?limit=1000&after={after}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        for e in events {
            stored.insert(e["notice_id"].as_str().unwrap().to_string());
        }
        match page["next"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|(id, _)| !stored.contains(id))
        .map(|(id, _)| id)
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // Resends after the crashes are still recognised as duplicates.
    for (id, body) in acked.iter().step_by(acked.len() / 20 + 1) {
        let mut req = client.post(format!("{base}/ncs")).body(body.clone());
        for (k, v) in signed(SECRET, body) {
            req = req.header(k, v);
        }
        let ack: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
        assert_eq!(ack["duplicate"], true, "{id}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn sigterm_exits_zero_empties_the_wal_and_logs_never_show_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("term.db").display());
    let port = free_port();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            &db,
            "--secret",
            SECRET,
        ])
        .env("NCSD_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(&client, &base).await;
    let body = cr_body("logged", "s", 40, 0, json!({}));
    for headers in [signed(SECRET, &body), signed("wrong", &body), vec![]] {
        let mut req = client.post(format!("{base}/ncs")).body(body.clone());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let text = req.send().await.unwrap().text().await.unwrap();
        assert!(!text.contains(SECRET), "{text}");
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let logs =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(SECRET), "the secret leaked into the logs");
    // A clean stop leaves the store as one file: its WAL copied in and emptied.
    let wal = dir.path().join("term.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the WAL holds {wal_len} bytes after SIGTERM");
}

#[test]
fn refuses_to_start_without_a_secret() {
    let out = Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite:///nonexistent/x.db",
        ])
        .env_remove("NCSD_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--secret") && err.contains("--allow-unsigned"),
        "{err}"
    );
}
