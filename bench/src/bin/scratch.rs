use std::time::Instant;
fn main() {
    let lines: Vec<(String, Vec<u8>)> = std::fs::read_to_string("bench/out/bodies.tsv")
        .unwrap()
        .lines()
        .take(200_000)
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.to_string(), b.as_bytes().to_vec())
        })
        .collect();
    let secret = agora_ncs::Secret::new("bench-secret");
    let n = lines.len() as f64;
    let t = Instant::now();
    for (sig, b) in &lines {
        assert!(agora_ncs::verify(
            agora_ncs::Algorithm::Sha256,
            std::slice::from_ref(&secret),
            b,
            sig
        )
        .is_ok());
    }
    println!("verify {:.2}us", t.elapsed().as_secs_f64() * 1e6 / n);
    let t = Instant::now();
    let mut envs = Vec::new();
    for (_, b) in &lines {
        envs.push(agora_ncs::Envelope::from_slice(b).unwrap());
    }
    println!("envelope {:.2}us", t.elapsed().as_secs_f64() * 1e6 / n);
    let t = Instant::now();
    for (e, (_, b)) in envs.iter().zip(&lines) {
        std::hint::black_box(ncsd::ingest::to_delivery(e, b.clone(), String::new(), 0));
    }
    println!("to_delivery {:.2}us", t.elapsed().as_secs_f64() * 1e6 / n);
    let t = Instant::now();
    for e in envs.iter() {
        std::hint::black_box(e.notice());
    }
    println!("notice() {:.2}us", t.elapsed().as_secs_f64() * 1e6 / n);
    let t = Instant::now();
    for _ in 0..lines.len() {
        std::hint::black_box(ncsd::ingest::now_ms());
    }
    println!("now {:.2}us", t.elapsed().as_secs_f64() * 1e6 / n);
}
