//! `ncsd simulate` against a running server with shuffling, resends, redundant copies and loss;
//! every session's reconstructed state must match what was generated and delivered.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{start, SECRET};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_matches_what_was_delivered() {
    let srv = start(&[]).await;
    let url = format!("{}/ncs", srv.base);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ncsd"))
            .args([
                "simulate",
                "--url",
                &url,
                "--secret",
                SECRET,
                "--sessions",
                "30",
                "--concurrency",
                "8",
                "--shuffle",
                "--duplicates",
                "0.3",
                "--copies",
                "0.2",
                "--drop",
                "0.05",
                "--fail-rate",
                "0.1",
                "--seed",
                "7",
                "--json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0);
    assert!(summary["duplicates_acknowledged"].as_u64().unwrap() > 0);
    assert!(summary["copies_recognised"].as_u64().unwrap() > 0);
    assert!(summary["lost_on_purpose"].as_u64().unwrap() > 0);

    let sessions = report["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 30);
    let mut phases = BTreeSet::new();
    for sim in sessions {
        let sid = sim["sid"].as_str().unwrap();
        let got: BTreeSet<i64> = sim["delivered_sequences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let (status, state) = srv.get(&format!("/v1/sessions/{sid}")).await;
        if got.is_empty() {
            assert_eq!(status, 404, "{sid}: nothing delivered, no session");
            continue;
        }
        assert_eq!(status, 200, "{sid}");
        assert_eq!(state["cname"], sim["cname"], "{sid}");
        assert_eq!(state["event_count"], got.len(), "{sid}: distinct events");
        let max = *got.iter().max().unwrap();
        assert_eq!(state["max_sequence"], max, "{sid}");
        let missing: Vec<i64> = (0..max).filter(|q| !got.contains(q)).collect();
        assert_eq!(
            state["missing_sequences"],
            serde_json::json!(missing),
            "{sid}"
        );
        assert_eq!(state["phase"], sim["expected_phase"], "{sid}");
        phases.insert(state["phase"].as_str().unwrap().to_string());
        if state["phase"] == "completed" {
            assert_eq!(
                state["files"].as_array().unwrap().len() as u64,
                sim["files"].as_u64().unwrap(),
                "{sid}: files"
            );
        }
        // The list endpoint agrees with the fold.
        let (_, list) = srv
            .get(&format!(
                "/v1/sessions?cname={}&limit=1000",
                sim["cname"].as_str().unwrap()
            ))
            .await;
        let item = list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["sid"] == sid)
            .unwrap()
            .clone();
        assert_eq!(item["phase"], state["phase"], "{sid}: list phase");
        assert_eq!(
            item["event_count"], state["event_count"],
            "{sid}: list count"
        );
        // The per-session event list has no copies and is in sequence order.
        let (_, events) = srv.get(&format!("/v1/sessions/{sid}/events")).await;
        let seqs: Vec<i64> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            got.iter().copied().collect::<Vec<_>>(),
            "{sid}: events"
        );
    }
    assert!(
        phases.contains("completed") && phases.contains("failed"),
        "{phases:?}"
    );
    srv.stop().await;
}
