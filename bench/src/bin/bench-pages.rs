//! The dashboard's page-render benchmark (`bench/dashboard.sh`): starts the release `ncsd` on a
//! store already loaded (by `bench-bulkload`), then requests each dashboard page REQUESTS times,
//! CONCURRENCY at a time, and prints p50 and p99 per page beside `/healthz` (the cost of the
//! HTTP exchange alone, measured in the same run). Goal: every page under 100 ms at p99.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::stream::{self, StreamExt};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "target/release/ncsd")]
    ncsd: String,
    /// The loaded store.
    #[arg(long)]
    database: String,
    /// Requests per page.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

/// The URL of a page's `i`-th request.
type UrlOf = Box<dyn Fn(usize) -> String>;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let port = free_port();
    let mut child = Command::new(&args.ncsd)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database", &args.database, "--secret", "bench-secret"])
        .env("NCSD_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start ncsd");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "ncsd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sessions: serde_json::Value = client
        .get(format!("{base}/v1/sessions?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sids: Vec<String> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sid"].as_str().unwrap().to_string())
        .collect();
    let cname = sessions["sessions"][0]["cname"]
        .as_str()
        .unwrap_or("room")
        .to_string();
    let pages: Vec<(&str, UrlOf)> = vec![
        ("/healthz (baseline)", Box::new(|_| "/healthz".to_string())),
        ("/", Box::new(|_| "/".to_string())),
        ("/sessions", Box::new(|_| "/sessions".to_string())),
        (
            "/sessions?phase=completed",
            Box::new(|_| "/sessions?phase=completed".to_string()),
        ),
        (
            "/sessions?attention=stalled",
            Box::new(|_| "/sessions?attention=stalled".to_string()),
        ),
        (
            "/sessions?cname=…",
            Box::new(move |_| format!("/sessions?cname={cname}")),
        ),
        ("/sessions/{sid} (a different sid each time)", {
            let sids = sids.clone();
            Box::new(move |i| format!("/sessions/{}", sids[(i * 7919) % sids.len()]))
        }),
        ("/events", Box::new(|_| "/events".to_string())),
        (
            "/events?type=31",
            Box::new(|_| "/events?type=31".to_string()),
        ),
        ("/events?sid=…", {
            let sids = sids.clone();
            Box::new(move |i| format!("/events?sid={}", sids[(i * 104_729) % sids.len()]))
        }),
        ("/quarantine", Box::new(|_| "/quarantine".to_string())),
        ("/destinations", Box::new(|_| "/destinations".to_string())),
    ];
    println!(
        "dashboard pages ({} requests each, {} at a time)",
        args.requests, args.concurrency
    );
    println!("| page | p50 ms | p99 ms | under 100 ms at p99 |");
    println!("| --- | --- | --- | --- |");
    let mut all_met = true;
    for (name, url) in &pages {
        // Warm up once (the first request of a page type compiles its statements).
        let _ = client.get(format!("{base}{}", url(0))).send().await;
        let mut lat: Vec<f64> = stream::iter(0..args.requests)
            .map(|i| {
                let (client, u) = (client.clone(), format!("{base}{}", url(i)));
                async move {
                    let t = Instant::now();
                    let r = client.get(&u).send().await.expect("request");
                    assert!(r.status().is_success(), "{u}: {}", r.status());
                    let _ = r.bytes().await;
                    t.elapsed().as_secs_f64() * 1000.0
                }
            })
            .buffer_unordered(args.concurrency)
            .collect()
            .await;
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p99 = pct(&lat, 0.99);
        let met = p99 < 100.0;
        if !name.starts_with("/healthz") {
            all_met &= met;
        }
        println!("| {name} | {:.1} | {p99:.1} | {met} |", pct(&lat, 0.5));
    }
    println!("every page under 100 ms at p99: {all_met}");
    let _ = child.kill();
    let _ = child.wait();
}
