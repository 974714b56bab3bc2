//! CPU of each step ingest does per request besides HTTP and storage, measured in a loop over
//! the benchmark's signed bodies, in one thread with nothing else in the way: the signature
//! check, the headers kept for audit, the envelope parse, and the columns plus redundant-copy
//! key the store indexes on. Backs the README's "hot path" with figures.
//!
//!   bench-hotpath bench/out/bodies-random-ids.tsv [N]

/// The allocator `ncsd` runs with, so this binary's costs are ncsd's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Instant;

use agora_ncs::{Envelope, Secret, HEADER_V2};
use axum::http::{HeaderMap, HeaderValue};
use ncsd::ingest::{signature, to_delivery};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .map_or("bench/out/bodies-random-ids.tsv", String::as_str);
    let n: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let text = std::fs::read_to_string(path)?;
    let mut requests = Vec::with_capacity(n);
    for line in text.lines().take(n) {
        let (sig, body) = line
            .split_once('\t')
            .ok_or_else(|| anyhow::anyhow!("{path}: a line without a tab"))?;
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_V2, HeaderValue::from_str(sig)?);
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("user-agent", HeaderValue::from_static("wrk"));
        requests.push((headers, bytes_of(body)));
    }
    let secrets = vec![Secret::new("bench-secret")];
    let count = requests.len() as f64;
    let timed = |name: &str, f: &mut dyn FnMut(&HeaderMap, &[u8])| {
        let started = Instant::now();
        for (h, b) in &requests {
            f(h, b);
        }
        println!(
            "{name:<34} {:>7.2} us",
            started.elapsed().as_secs_f64() * 1e6 / count
        );
    };
    timed("signature check (HMAC-SHA256)", &mut |h, b| {
        black_box(signature::check(h, &secrets, false, b));
    });
    timed("headers kept for audit", &mut |h, _| {
        black_box(signature::headers_json(h));
    });
    timed("envelope parse", &mut |_, b| {
        black_box(Envelope::from_slice(b).ok());
    });
    timed("parse + columns + copy key", &mut |h, b| {
        if let Ok(env) = Envelope::from_slice(b) {
            black_box(to_delivery(&env, b.to_vec(), signature::headers_json(h), 0));
        }
    });
    Ok(())
}

fn bytes_of(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}
