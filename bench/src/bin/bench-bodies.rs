//! Writes N distinct signed NCS bodies for wrk, one per line: `<V2 signature>\t<body>`.
//! Usage: bench-bodies SECRET COUNT OUT [SIDS]
//! Bodies are Cloud Recording stream-state events spread over SIDS sessions (default 1000),
//! each with its own noticeId, so no delivery is a duplicate. NoticeIds are 32 random-looking
//! hex digits, as Agora's are: ids that only grow would make the unique index's inserts all
//! land on its last page, which real traffic never does.

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
            "noticeId": notice_id(run, i),
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

/// A distinct, random-looking 32-hex-digit id for delivery `i` of run `run` (splitmix64 is a
/// bijection, so distinct inputs give distinct ids).
fn notice_id(run: u64, i: u64) -> String {
    let a = splitmix64((run << 40) ^ i);
    format!("{a:016x}{:016x}", splitmix64(a))
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
