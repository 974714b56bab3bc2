//! Forwarding survives what ingest survives: the real binary SIGKILLed three times while it
//! forwards, and two instances on one PostgreSQL database sharing a destination. Every message
//! due is received at least once.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use common::pg::PgDatabase;
use common::{cr_body, free_port, signed, start, wait_healthy, SECRET};
use serde_json::{json, Value};

type Seen = Arc<Mutex<Vec<String>>>;

/// A receiver that records each message id and answers 200 after `delay`.
async fn receiver(delay: Duration) -> (Seen, String) {
    async fn take(State((seen, delay)): State<(Seen, Duration)>, body: Bytes) -> StatusCode {
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        seen.lock()
            .unwrap()
            .push(v["id"].as_str().unwrap_or("").to_string());
        tokio::time::sleep(delay).await;
        StatusCode::OK
    }
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(axum::routing::post(take))
        .with_state((seen.clone(), delay));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (seen, url)
}

fn config(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("ncsd.toml");
    std::fs::write(
        &path,
        format!(
            "[[destination]]\nname = \"app\"\nkind = \"webhook\"\nurl = \"{url}\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nallow_private = true\n\
             start = \"beginning\"\nevents = [\"ncs.*\"]\nretry = [\"200ms\", \"200ms\", \"500ms\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\"]\n\
             timeout = \"2s\"\n"
        ),
    )
    .unwrap();
    path
}

fn spawn(port: u16, db: &str, config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            db,
            "--secret",
            SECRET,
            "--config",
            config.to_str().unwrap(),
        ])
        .env("NCSD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(config.with_file_name("ncsd.log"))
                .unwrap(),
        )
        .spawn()
        .expect("spawn ncsd")
}

async fn post(client: &reqwest::Client, base: &str, id: &str, sid: &str, seq: i64) -> bool {
    let body = cr_body(id, sid, 33, seq, json!({"progress": seq}));
    let mut req = client.post(format!("{base}/ncs")).body(body.clone());
    for (k, v) in signed(SECRET, &body) {
        req = req.header(k, v);
    }
    matches!(req.send().await, Ok(r) if r.status() == 200)
}

async fn wait_all(seen: &Seen, want: &BTreeSet<String>, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got: BTreeSet<String> = seen.lock().unwrap().iter().cloned().collect();
        let missing: Vec<&String> = want.difference(&got).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} messages never arrived, e.g. {:?}",
            missing.len(),
            want.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_due_is_lost_across_three_sigkills() {
    // A receiver slow enough that messages are in flight when ncsd dies.
    let (seen, url) = receiver(Duration::from_millis(30)).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &url);
    let db = format!("sqlite://{}", dir.path().join("f.db").display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut acked = BTreeSet::new();
    for round in 0..3 {
        let mut child = spawn(port, &db, &cfg);
        wait_healthy(&client, &base).await;
        for i in 0..120 {
            let id = format!("k{round}-{i}");
            // A sid per round: the same content under a new noticeId would be a redundant-path
            // copy, which is never forwarded.
            if post(&client, &base, &id, &format!("r{round}-s{}", i % 4), i).await {
                acked.insert(id);
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
    }
    let mut child = spawn(port, &db, &cfg);
    wait_healthy(&client, &base).await;
    assert!(acked.len() >= 300, "{}", acked.len());
    wait_all(&seen, &acked, 60).await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_share_one_destination() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let (seen, url) = receiver(Duration::from_millis(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &url);
    let cfg = cfg.to_str().unwrap();
    let a = start(&["--database", &pg.url, "--config", cfg]).await;
    let b = start(&["--database", &pg.url, "--config", cfg]).await;
    let mut want = BTreeSet::new();
    for i in 0..200 {
        let id = format!("pg-{i}");
        let srv = if i % 2 == 0 { &a } else { &b };
        let (s, _) = srv
            .post(&cr_body(
                &id,
                &format!("s{}", i % 5),
                33,
                i,
                json!({"progress": i}),
            ))
            .await;
        assert_eq!(s, 200);
        want.insert(id);
    }
    wait_all(&seen, &want, 30).await;
    // Shared progress: both instances report the same destination, with nothing left.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for srv in [&a, &b] {
        let (_, d) = srv.get("/v1/destinations").await;
        assert_eq!(d["destinations"][0]["lag"], 0, "{d}");
    }
    // At least once, and not much more: leases keep the instances from sending each message
    // twice in the normal course.
    let received = seen.lock().unwrap().len();
    assert!(
        received < want.len() + want.len() / 10,
        "{received} deliveries for {}",
        want.len()
    );
    a.stop().await;
    b.stop().await;
}
