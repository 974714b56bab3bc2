//! The forwarding benchmark (`bench/forward.sh`), in one run on this machine:
//! 1. ingest without a destination, then with one webhook destination taking every event
//!    (goal: ≥ 0.8× the first);
//! 2. the delivery rate to a local receiver that answers at once (goal: ≥ 5,000 messages/s):
//!    the rate at which the backlog left when the ingest load stops is drained (forwarding
//!    yields the CPUs to ingest while both want them, `--forward-nice`); the rate over the
//!    whole span from the first message to the last is printed beside it;
//! 3. the end-to-end lag, from ncsd's receipt of an event to its arrival at the receiver, at
//!    1,000 events/s (goal: p99 ≤ 1 s).
//!
//! The load generator, the receiver and ncsd share the machine's cores; only the ratios of one
//! run compare anything.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_ncs::{sign, Algorithm, Secret};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// The ncsd binary to measure.
    #[arg(long, default_value = "target/release/ncsd")]
    ncsd: String,
    /// Seconds of load per measurement.
    #[arg(long, default_value_t = 8)]
    duration: u64,
    /// Concurrent connections of the ingest load.
    #[arg(long, default_value_t = 64)]
    conns: usize,
    /// Working directory for the stores.
    #[arg(long, default_value = "bench/out")]
    out: String,
}

const SECRET: &str = "bench-secret";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The receiver: counts messages, and keeps each one's lag (arrival - ncsd's receive time).
#[derive(Clone, Default)]
struct Receiver {
    count: Arc<AtomicU64>,
    lags: Arc<Mutex<Vec<i64>>>,
    first_last: Arc<Mutex<Option<(Instant, Instant)>>>,
}

async fn take(State(r): State<Receiver>, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(t) = v["data"]["received_at_ms"].as_i64() {
        r.lags.lock().unwrap().push(now_ms() - t);
    }
    r.count.fetch_add(1, Ordering::Relaxed);
    let mut fl = r.first_last.lock().unwrap();
    *fl = Some(fl.map_or((now, now), |(f, _)| (f, now)));
    StatusCode::OK
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_ncsd(args: &Args, name: &str, config: Option<&str>) -> (Child, String) {
    let port = free_port();
    let db = format!("{}/{name}.db", args.out);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
    let mut cmd = Command::new(&args.ncsd);
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--database",
        &format!("sqlite://{db}"),
        "--secret",
        SECRET,
    ]);
    if let Some(c) = config {
        cmd.args(["--config", c]);
    }
    let child = cmd
        .env("NCSD_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start ncsd");
    (child, format!("http://127.0.0.1:{port}"))
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ncsd did not start");
}

fn body(run: &str, n: u64) -> Vec<u8> {
    json!({"noticeId": format!("{run}-{n}"), "productId": 3, "eventType": 33,
        "notifyMs": now_ms(), "payload": {"cname": "bench", "uid": "1",
        "sid": format!("{run}-s{}", n % 1000), "sequence": n / 1000, "sendts": now_ms(),
        "details": {"progress": n % 10000}}})
    .to_string()
    .into_bytes()
}

async fn post(client: &reqwest::Client, url: &str, b: Vec<u8>) -> bool {
    let secret = Secret::new(SECRET);
    let v2 = sign(Algorithm::Sha256, &secret, &b);
    client
        .post(url)
        .header("Agora-Signature-V2", v2)
        .body(b)
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// `conns` clients as fast as they go for `duration`: acknowledged deliveries per second.
async fn saturate(base: &str, run: &str, conns: usize, duration: Duration) -> (f64, u64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .build()
        .unwrap();
    let url = format!("{base}/ncs");
    let acked = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (client, url, acked, next, run) = (
            client.clone(),
            url.clone(),
            acked.clone(),
            next.clone(),
            run.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            while started.elapsed() < duration {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if post(&client, &url, body(&run, n)).await {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = acked.load(Ordering::Relaxed);
    (n as f64 / started.elapsed().as_secs_f64(), n)
}

/// `rate` deliveries a second for `duration`.
async fn paced(base: &str, run: &str, rate: u64, duration: Duration) -> u64 {
    let client = reqwest::Client::new();
    let url = format!("{base}/ncs");
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let started = Instant::now();
    let mut n = 0;
    let mut tasks = Vec::new();
    while started.elapsed() < duration {
        tick.tick().await;
        let (client, url, b) = (client.clone(), url.clone(), body(run, n));
        tasks.push(tokio::spawn(async move { post(&client, &url, b).await }));
        n += 1;
    }
    let mut acked = 0;
    for t in tasks {
        acked += u64::from(t.await.unwrap());
    }
    acked
}

fn p99(v: &mut [i64]) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out).unwrap();
    let duration = Duration::from_secs(args.duration);
    let client = reqwest::Client::new();

    let rx = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(axum::routing::post(take))
        .with_state(rx.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = format!("{}/forward.toml", args.out);
    std::fs::write(
        &config,
        format!(
            "[[destination]]\nname = \"bench\"\nkind = \"webhook\"\nurl = \"{hook}\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nallow_private = true\n\
             events = [\"ncs.*\"]\nconcurrency = 32\n"
        ),
    )
    .unwrap();

    // 1. Ingest without, then with, the destination.
    let (mut a, base) = start_ncsd(&args, "fwd-none", None);
    wait_healthy(&client, &base).await;
    let (without, _) = saturate(&base, "a", args.conns, duration).await;
    a.kill().unwrap();
    a.wait().unwrap();
    let (mut b, base) = start_ncsd(&args, "fwd-one", Some(&config));
    wait_healthy(&client, &base).await;
    let (with, acked) = saturate(&base, "b", args.conns, duration).await;

    // 2. Delivery rate: every acknowledged event reaches the receiver. The rate is that of
    //    draining what was left when the load stopped (over the whole span when nothing was).
    let load_end = Instant::now();
    let at_load_end = rx.count.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(300);
    while rx.count.load(Ordering::Relaxed) < acked && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = rx.count.load(Ordering::Relaxed);
    let (first, last) = rx.first_last.lock().unwrap().unwrap();
    let span_rate = delivered as f64 / (last - first).as_secs_f64().max(0.001);
    let backlog = delivered.saturating_sub(at_load_end);
    let delivery_rate = if backlog >= 1_000 && last > load_end {
        backlog as f64 / (last - load_end).as_secs_f64()
    } else {
        span_rate
    };

    // 3. Lag at 1,000 events/s.
    rx.lags.lock().unwrap().clear();
    let before = rx.count.load(Ordering::Relaxed);
    let sent = paced(&base, "c", 1000, duration).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while rx.count.load(Ordering::Relaxed) < before + sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lag_p99 = p99(&mut rx.lags.lock().unwrap());
    b.kill().unwrap();
    b.wait().unwrap();

    let ratio = with / without;
    println!(
        "forwarding benchmark ({} s per measurement, {} connections)",
        args.duration, args.conns
    );
    println!("| measure | figure | goal | met |");
    println!("| --- | --- | --- | --- |");
    println!("| ingest without a destination | {without:.0} req/s | | |");
    println!("| ingest with one webhook destination | {with:.0} req/s | | |");
    println!(
        "| ratio with / without | {ratio:.2} | ≥ 0.8 | {} |",
        ratio >= 0.8
    );
    println!(
        "| delivery rate to a receiver answering at once | {delivery_rate:.0} msg/s (backlog of {backlog} drained; {delivered} of {acked} delivered) | ≥ 5000 | {} |",
        delivery_rate >= 5000.0
    );
    println!(
        "| delivery rate from the first message to the last, during and after the load | {span_rate:.0} msg/s | | |"
    );
    println!(
        "| end-to-end lag p99 at 1,000 events/s | {lag_p99} ms | ≤ 1000 ms | {} |",
        lag_p99 <= 1000
    );
}
