//! Loads a store with SESSIONS realistic recording sessions of EVENTS events each, in bulk
//! (through the store's import path, not HTTP), and prints the sids to stdout. Sessions are
//! recorded `CONCURRENT` at a time with their events interleaved, as live recordings are, so
//! one session's events are spread over the file rather than side by side.
//! Each event's `details` has the fields its type documents (spec §6.1), as Agora sends them: a
//! stream-state change carries four fields, not a file list.
//! Usage: bench-bulkload DATABASE_URL SESSIONS EVENTS

use ncsd::ingest::to_delivery;
use ncsd::store::{EventRecord, ImportBatch};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, sessions, events] = args.as_slice() else {
        anyhow::bail!("usage: bench-bulkload DATABASE_URL SESSIONS EVENTS");
    };
    let (sessions, per): (u64, u64) = (sessions.parse()?, events.parse()?);
    let store = ncsd::store::open(url).await?;
    let mut batch = Vec::with_capacity(2000);
    let mut seq = 0i64;
    let mut out = String::new();
    const CONCURRENT: u64 = 100;
    for s in 0..sessions {
        out.push_str(&format!("bulk-{s:08}\n"));
    }
    let groups = (0..sessions).step_by(CONCURRENT as usize);
    let order = groups.flat_map(|g| {
        (0..per).flat_map(move |q| (g..(g + CONCURRENT).min(sessions)).map(move |s| (s, q)))
    });
    for (s, q) in order {
        let sid = format!("bulk-{s:08}");
        {
            let event_type = match q {
                0 => 40,
                1 => 30,
                2 => 42,
                _ if q == per - 1 => 31,
                _ if q == per - 2 => 11,
                _ if q == per - 3 => 41,
                _ => [43, 44, 33][(q % 3) as usize],
            };
            let body = serde_json::json!({
                "noticeId": format!("bulk-{s:08}-{q:06}"), "productId": 3, "eventType": event_type,
                "notifyMs": 1_780_000_000_000u64 + q, "sid": sid,
                "payload": {"cname": format!("room-{}", s % 500), "uid": "527", "sid": sid, "sequence": q,
                    "sendts": 1_780_000_000_000u64 + q * 1000, "serviceType": 1,
                    "details": details(event_type, &sid, q, 1_780_000_000_000u64 + q * 1000)}
            })
            .to_string()
            .into_bytes();
            let env = agora_ncs::Envelope::from_slice(&body)?;
            let d = to_delivery(&env, body, "{}".into(), 1_780_000_000_000 + q as i64);
            seq += 1;
            batch.push(EventRecord {
                seq,
                notice_id: d.notice_id,
                product_id: d.product_id,
                event_type: d.event_type,
                notify_ms: d.notify_ms,
                sid: d.sid,
                cname: d.cname,
                uid: d.uid,
                sequence: d.sequence,
                sendts: d.sendts,
                body: d.body,
                headers: d.headers,
                received_at_ms: d.received_at_ms,
                last_received_at_ms: d.received_at_ms,
                deliveries: 1,
                copy_of: None,
                content_key: d.content_key,
                session_flags: d.session_flags,
                project: d.project,
            });
            if batch.len() == 2000 {
                store
                    .import(ImportBatch {
                        events: std::mem::take(&mut batch),
                        ..Default::default()
                    })
                    .await?;
            }
        }
    }
    if !batch.is_empty() {
        store
            .import(ImportBatch {
                events: batch,
                ..Default::default()
            })
            .await?;
    }
    // Left as ncsd leaves a store when it stops: the WAL copied into the file and emptied.
    store.close().await?;
    print!("{out}");
    Ok(())
}

/// The documented `details` of `event_type` (spec §6.1) for event `q` of session `sid`.
fn details(event_type: i64, sid: &str, q: u64, utc_ms: u64) -> serde_json::Value {
    use serde_json::json;
    let name = agora_ncs::events::event_name(event_type as u32).unwrap_or("unknown");
    match event_type {
        40 | 30 => json!({"msgName": name, "status": 0}),
        42 => json!({"msgName": name, "startUtcMs": utc_ms, "discontinueUtcMs": utc_ms,
                     "mixedAllUser": true, "streamUid": "0", "trackType": "audio_and_video"}),
        43 | 44 => json!({"msgName": name, "streamUid": "1001", "state": q % 2, "UtcMs": utc_ms}),
        33 => json!({"msgName": name, "progress": (q * 100).min(10_000)}),
        41 => json!({"msgName": name, "leaveCode": 2}),
        11 => json!({"msgName": name, "exitStatus": 0}),
        31 => json!({"msgName": name, "status": 0, "fileList": [{"fileName": format!("{sid}.m3u8"),
                     "trackType": "audio_and_video", "uid": "0", "mixedAllUser": true,
                     "isPlayable": true, "sliceStartTime": utc_ms}]}),
        _ => json!({"msgName": name}),
    }
}
