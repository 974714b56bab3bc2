//! `GET /metrics`: scrape, act, scrape again, and each metric moves as it should. The recorder is
//! process-wide, so this file holds one test and one server.

mod common;

use std::time::{Duration, Instant};

use common::{cr_body, signed, SECRET};
use serde_json::json;

const TOKEN: &str = "metrics-token-0123456789";

/// The value of the sample `name{labels}` (labels in any order), or 0 when absent.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (metric, rest) = key.split_once('{').unwrap_or((key, "}"));
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_metric_moves_as_it_should() {
    // A destination nobody answers, retried quickly, to see forwarding move.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ncsd.toml");
    let port = common::free_port();
    std::fs::write(
        &cfg,
        format!(
            "[[destination]]\nname = \"app\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nallow_private = true\n\
             start = \"beginning\"\nretry = [\"100ms\"]\n"
        ),
    )
    .unwrap();
    let srv = common::start(&["--api-token", TOKEN, "--config", cfg.to_str().unwrap()]).await;
    let scrape = || {
        let srv = &srv;
        async move {
            let res = srv
                .client
                .get(format!("{}/metrics", srv.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    // Without the token: refused.
    let res = srv
        .client
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let before = scrape().await;
    let stored = |t: &str| {
        sample(
            t,
            "ncsd_deliveries_total",
            &[("outcome", "stored"), ("project", "default")],
        )
    };
    let body = cr_body("m1", "ms", 40, 0, json!({"status": 0}));
    assert_eq!(srv.post(&body).await.0, 200);
    assert_eq!(srv.post(&body).await.0, 200); // a duplicate
    assert_eq!(srv.post_raw(&body, &[]).await.0, 401); // unsigned
    srv.post(b"{junk").await; // quarantined
    let mut copy: serde_json::Value = serde_json::from_slice(&body).unwrap();
    copy["noticeId"] = json!("m1-copy");
    let copy = copy.to_string().into_bytes();
    srv.post_raw(&copy, &signed(SECRET, &copy)).await;
    // A live stream open while scraping.
    let stream = srv
        .client
        .get(format!("{}/v1/stream", srv.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    // Lifecycle and forwarding happen in the background: wait for both to show.
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        let t = scrape().await;
        let forwarded = sample(&t, "ncsd_forward_messages_total", &[("destination", "app")]);
        let started = sample(
            &t,
            "ncsd_lifecycle_events_total",
            &[("type", "recording.started")],
        );
        if forwarded >= 2.0 && started >= 1.0 {
            break t;
        }
        assert!(Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (outcome, n) in [
        ("stored", 1.0),
        ("duplicate", 1.0),
        ("unauthorized", 1.0),
        ("quarantined", 1.0),
        ("copy", 1.0),
    ] {
        let labels = [("outcome", outcome), ("project", "default")];
        assert_eq!(
            sample(&after, "ncsd_deliveries_total", &labels)
                - sample(&before, "ncsd_deliveries_total", &labels),
            n,
            "{outcome}"
        );
    }
    assert!(stored(&after) > stored(&before));
    assert!(
        sample(
            &after,
            "ncsd_ingest_seconds_count",
            &[("outcome", "stored")]
        ) >= 1.0
    );
    assert!(sample(&after, "ncsd_store_commit_seconds_count", &[]) >= 1.0);
    assert!(sample(&after, "ncsd_store_batch_events_count", &[]) >= 1.0);
    assert_eq!(
        sample(&after, "ncsd_sessions", &[("phase", "recording")]),
        1.0
    );
    assert_eq!(
        sample(&after, "ncsd_attention_sessions", &[("reason", "stalled")]),
        0.0
    );
    assert!(
        sample(
            &after,
            "ncsd_forward_messages_total",
            &[("destination", "app"), ("result", "retried")]
        ) >= 1.0
    );
    assert!(
        sample(
            &after,
            "ncsd_forward_lag_messages",
            &[("destination", "app")]
        ) >= 1.0
    );
    assert!(
        sample(
            &after,
            "ncsd_forward_seconds_count",
            &[("destination", "app")]
        ) >= 1.0
    );
    assert_eq!(sample(&after, "ncsd_stream_clients", &[]), 1.0);
    assert!(
        sample(&after, "process_resident_memory_bytes", &[]) > 0.0,
        "{after}"
    );
    drop(stream);
    // The stream's close shows too.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sample(&scrape().await, "ncsd_stream_clients", &[]) != 0.0 {
        assert!(Instant::now() < deadline, "the stream is still counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    srv.stop().await;
}

#[test]
fn metrics_off_loopback_need_the_api_token() {
    use ncsd::config::ServeConfig;
    let cfg =
        ServeConfig::from_args(["--secret", "s", "--metrics-listen", "0.0.0.0:9100"]).unwrap();
    assert!(cfg.validate().unwrap_err().contains("--metrics-listen"));
    let cfg = ServeConfig::from_args([
        "--secret",
        "s",
        "--metrics-listen",
        "0.0.0.0:9100",
        "--api-token",
        TOKEN,
    ])
    .unwrap();
    assert!(cfg.validate().is_ok());
    let cfg =
        ServeConfig::from_args(["--secret", "s", "--metrics-listen", "127.0.0.1:9100"]).unwrap();
    assert!(cfg.validate().is_ok());
}
