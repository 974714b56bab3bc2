//! `GET /v1/stream` over a real socket: live events and session states, ids increasing in
//! storage order, and a resume with `Last-Event-ID` that has no gap and no repeat.

mod common;

use std::time::Duration;

use common::{cr_body, start, SseReader};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn live_feed_then_gap_free_resume() {
    let srv = start(&[]).await;
    let url = format!("{}/v1/stream", srv.base);
    // Stored before anyone listens: not part of a fresh live feed.
    srv.post(&cr_body("before", "s", 40, 0, json!({"status": 0})))
        .await;
    let mut live = SseReader::connect(&srv.client, &url, None).await;
    srv.post(&cr_body("n1", "s", 42, 1, json!({"streamUid": "0"})))
        .await;
    srv.post(br#"{"noticeId":"rtc-1","productId":1,"eventType":101,"payload":{}}"#)
        .await;
    srv.post(&cr_body("n2", "s", 41, 2, json!({"leaveCode": 2})))
        .await;

    let mut got = Vec::new();
    while got.len() < 5 {
        got.extend(settled(live.next(WAIT).await.expect("a message")));
    }
    let kinds: Vec<(&str, &str)> = got
        .iter()
        .map(|m| {
            (
                m.event.as_str(),
                m.data
                    .get("notice_id")
                    .or(m.data.get("sid"))
                    .and_then(|v| v.as_str())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("event", "n1"),
            ("session", "s"),
            ("event", "rtc-1"),
            ("event", "n2"),
            ("session", "s")
        ]
    );
    assert!(
        got.windows(2).all(|w| w[0].id < w[1].id),
        "ids increase: {:?}",
        got.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    assert_eq!(got[4].data["phase"], "uploading");
    assert_eq!(got[0].data["deliveries"], 1);

    // Resume from the middle: exactly what came after, then the live feed.
    let mut resumed = SseReader::connect(&srv.client, &url, Some(got[1].id)).await;
    for want in &got[2..] {
        let m = loop {
            if let Some(m) = settled(resumed.next(WAIT).await.unwrap()) {
                break m;
            }
        };
        assert_eq!(&m, want);
    }
    srv.post(&cr_body("n3", "s", 11, 3, json!({"exitStatus": 0})))
        .await;
    let m = loop {
        if let Some(m) = settled(resumed.next(WAIT).await.unwrap()) {
            break m;
        }
    };
    assert_eq!(
        (m.event.as_str(), m.data["notice_id"].as_str()),
        ("event", Some("n3"))
    );
    // Resuming from an event's id yields that event's session message first.
    let mut from_event = SseReader::connect(&srv.client, &url, Some(got[3].id)).await;
    assert_eq!(from_event.next(WAIT).await.unwrap().event, "session");
    srv.stop().await;
}

#[tokio::test]
async fn duplicates_do_not_repeat_on_the_stream() {
    let srv = start(&[]).await;
    let url = format!("{}/v1/stream", srv.base);
    let mut live = SseReader::connect(&srv.client, &url, None).await;
    let body = cr_body("d", "s", 40, 0, json!({}));
    srv.post(&body).await;
    srv.post(&body).await;
    srv.post(&cr_body("e", "s", 30, 1, json!({}))).await;
    let ids: Vec<String> = {
        let mut v = Vec::new();
        while let Some(m) = live.next(Duration::from_millis(1500)).await {
            if m.event == "event" {
                v.push(m.data["notice_id"].as_str().unwrap().to_string());
            }
        }
        v
    };
    assert_eq!(ids, ["d", "e"]);
    srv.stop().await;
}

/// An event or session message as the comparisons here need it: lifecycle messages (derived in
/// the background, at their own pace: tests/lifecycle.rs) are left out, and so is a session's
/// `lifecycle` list, which grows as they are recorded.
fn settled(mut m: common::SseMessage) -> Option<common::SseMessage> {
    if m.event == "lifecycle" {
        return None;
    }
    if let Some(o) = m.data.as_object_mut() {
        o.remove("lifecycle");
    }
    Some(m)
}
