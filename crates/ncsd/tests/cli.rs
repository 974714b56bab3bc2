//! The CLI against a running server: `explain`, `sessions`, `session` (timeline with gaps),
//! `events`, and `send` exit codes.

mod common;

use std::process::{Command, Output};

use common::{cr_body, start, SECRET};
use serde_json::{json, Value};

fn ncsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(args)
        .output()
        .expect("run ncsd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn explain_decodes_codes() {
    let o = ncsd(&["explain", "leave-code", "6"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(
        text.contains("LEAVE_CODE_SIG") && text.contains("LEAVE_CODE_NO_USERS"),
        "{text}"
    );
    let o = ncsd(&["explain", "status", "20", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["value"], 20);
    assert!(v["description"].as_str().unwrap().contains("abnormal"));
    let o = ncsd(&["explain", "upload-error", "47"]);
    assert!(
        stdout(&o).to_lowercase().contains("upload"),
        "{}",
        stdout(&o)
    );
    let o = ncsd(&["explain", "status", "999"]);
    assert!(!o.status.success(), "an undocumented code is not a success");
    let o = ncsd(&["explain", "colour", "1"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("leave-code"),
        "lists the kinds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_session_and_events_read_the_api() {
    let srv = start(&["--api-token", "t0k-0123456789abcdef"]).await;
    for (seq, t) in [(0, 40), (1, 30), (4, 41)] {
        assert_eq!(
            srv.post(&cr_body(
                &format!("n{seq}"),
                "sid-cli",
                t,
                seq,
                json!({"leaveCode": 2})
            ))
            .await
            .0,
            200
        );
    }
    let base = srv.base.clone();
    let run = move |args: Vec<String>| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let mut all = args.clone();
            all.extend([
                "--url".to_string(),
                base,
                "--api-token".into(),
                "t0k-0123456789abcdef".into(),
            ]);
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            ncsd(&refs)
        })
    };
    let o = run(vec!["sessions".into()]).await.unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout(&o).contains("sid-cli") && stdout(&o).contains("uploading"),
        "{}",
        stdout(&o)
    );
    let o = run(vec![
        "sessions".into(),
        "--json".into(),
        "--phase".into(),
        "completed".into(),
    ])
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sessions"], json!([]));
    let o = run(vec!["session".into(), "sid-cli".into()]).await.unwrap();
    let text = stdout(&o);
    assert!(text.contains("gap: sequence 2-3 never arrived"), "{text}");
    assert!(text.contains("recorder_leave"), "{text}");
    let o = run(vec![
        "events".into(),
        "--json".into(),
        "--event-type".into(),
        "30".into(),
    ])
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["events"][0]["notice_id"], "n1");
    let o = run(vec!["session".into(), "nope".into()]).await.unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("404"));
    // `send` prints each answer and fails when one is not 200.
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(&good, cr_body("sent-1", "sid-cli", 42, 2, json!({}))).unwrap();
    std::fs::write(&bad, b"{oops").unwrap();
    let url = format!("{}/ncs", srv.base);
    let (g, b) = (good.display().to_string(), bad.display().to_string());
    let o = tokio::task::spawn_blocking(move || {
        ncsd(&["send", "--url", &url, "--secret", SECRET, &g, &b])
    })
    .await
    .unwrap();
    assert!(!o.status.success());
    let text = stdout(&o);
    assert!(
        text.contains("good.json: 200")
            && text.contains("bad.json: 200")
            && text.contains("\"quarantined\":true"),
        "{text}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn quarantine_reprocess_moves_bodies_that_now_read_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("q.db").display());
    {
        let store = ncsd::store::open(&url).await.unwrap();
        // One body an older parser could not read (it reads now), and one that never reads.
        let readable = common::cr_body("late-reader", "sq", 40, 0, serde_json::json!({}));
        for (body, at) in [(readable, 1_000), (b"{not json".to_vec(), 2_000)] {
            store
                .quarantine(ncsd::store::NewQuarantine {
                    body,
                    headers: "{}".into(),
                    reason: "unreadable then".into(),
                    received_at_ms: at,
                })
                .await
                .unwrap();
        }
    }
    let run = || {
        let out = ncsd(&["quarantine", "reprocess", "--database", &url]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    assert!(
        run().contains("2 quarantined bodies: 1 now read"),
        "first run"
    );
    assert!(
        run().contains("1 quarantined bodies: 0 now read"),
        "second run"
    );
    let store = ncsd::store::open(&url).await.unwrap();
    let ev = store.event("late-reader").await.unwrap().expect("moved");
    assert_eq!((ev.received_at_ms, ev.sid.as_deref()), (1_000, Some("sq")));
    let left = store.quarantined(0, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].body, b"{not json");
    assert_eq!(store.session("sq").await.unwrap().unwrap().event_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_lists_what_was_recorded() {
    let srv = start(&[]).await;
    for (i, (t, d)) in [(40, json!({"status": 0})), (11, json!({"exitStatus": 0}))]
        .into_iter()
        .enumerate()
    {
        srv.post(&cr_body(&format!("lc-{i}"), "sid-lc", t, i as i64, d))
            .await;
    }
    let url = srv.base.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let u = url.clone();
        let o = tokio::task::spawn_blocking(move || {
            ncsd(&["lifecycle", "--url", &u, "--sid", "sid-lc"])
        })
        .await
        .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = stdout(&o);
        if text.contains("recording.completed") {
            assert!(text.contains("recording.started"), "{text}");
            assert!(text.contains("recording -> completed"), "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_show_times_as_people_read_them_or_in_utc() {
    let srv = start(&[]).await;
    srv.post(&cr_body("t-1", "sid-t", 40, 0, json!({}))).await;
    let url = srv.base.clone();
    let run = move |extra: &'static [&'static str]| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut args = vec!["sessions", "--url", &url];
                args.extend_from_slice(extra);
                stdout(&ncsd(&args))
            })
            .await
            .unwrap()
        }
    };
    let human = run(&[]).await;
    assert!(
        human.contains("sid-t") && (human.contains("just now") || human.contains(" ago")),
        "{human}"
    );
    let utc = run(&["--utc"]).await;
    let year = "20";
    assert!(
        utc.contains(year) && utc.contains('T') && utc.contains('Z'),
        "{utc}"
    );
    let json_out = run(&["--json"]).await;
    let v: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v["sessions"][0]["sid"], "sid-t");
    srv.stop().await;
}
