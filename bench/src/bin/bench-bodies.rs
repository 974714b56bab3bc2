//! Writes N distinct signed NCS bodies for wrk, one per line: `<V2 signature>\t<body>`.
//! Usage: bench-bodies SECRET COUNT OUT [SIDS]
//! Bodies are Cloud Recording stream-state events spread over SIDS sessions (default 1000),
//! each with its own noticeId, so no delivery is a duplicate.

use std::io::Write;

use agora_ncs::{sign, Algorithm, Secret};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, secret, count, out, ..] = args.as_slice() else {
        anyhow::bail!("usage: bench-bodies SECRET COUNT OUT [SIDS]");
    };
    let sids: u64 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let count: u64 = count.parse()?;
    let secret = Secret::new(secret.as_str());
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let run: u64 = rand::random::<u32>().into();
    for i in 0..count {
        let sid = format!("bench-{run:08x}-{:06}", i % sids);
        let seq = i / sids;
        let body = serde_json::json!({
            "noticeId": format!("{run:08x}{i:024x}"),
            "productId": 3,
            "eventType": 43 + (i % 2),
            "notifyMs": 1_790_000_000_000u64 + i,
            "sid": sid,
            "payload": {
                "cname": format!("room-{}", i % 97), "uid": "527", "sid": sid, "sequence": seq,
                "sendts": 1_790_000_000_000u64 + i, "serviceType": 1,
                "details": {"msgName": "recorder_audio_stream_state_changed", "streamUid": "1001", "state": i % 2, "UtcMs": 1_790_000_000_000u64 + i}
            }
        })
        .to_string();
        writeln!(
            w,
            "{}\t{}",
            sign(Algorithm::Sha256, &secret, body.as_bytes()),
            body
        )?;
    }
    w.flush()?;
    Ok(())
}
