//! `/v1/openapi.json` declares what the server enforces: schemathesis (from PyPI; `scripts/test`
//! installs it) generates requests from the document against a filled store and checks every
//! answer (`--checks all`): no schema-valid request rejected, no schema-violating one accepted,
//! no 5xx, no answer outside the schema. `NCSD_SKIP_SCHEMATHESIS=1` skips it on purpose.

mod common;

use common::cr_body;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_driven_fuzzer_finds_nothing() {
    if std::env::var("NCSD_SKIP_SCHEMATHESIS").is_ok_and(|v| v == "1") {
        eprintln!("NCSD_SKIP_SCHEMATHESIS=1: skipping the schemathesis run");
        return;
    }
    let srv = common::start(&[]).await;
    // A filled store: sessions in every phase, a quarantined body, a Console check.
    for s in 0..5 {
        let sid = format!("fz{s}");
        let mut events = vec![(40, json!({"status": 0})), (42, json!({"streamUid": "0"}))];
        if s % 2 == 0 {
            events.push((41, json!({"leaveCode": 2})));
            events.push((11, json!({"exitStatus": s % 4 / 2})));
        }
        for (i, (t, d)) in events.into_iter().enumerate() {
            srv.post(&cr_body(&format!("{sid}-{i}"), &sid, t, i as i64, d))
                .await;
        }
    }
    srv.post(b"{not json").await;
    let base = srv.base.clone();
    // schemathesis keeps a cache in its working directory: a temporary one, not the source tree.
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("schemathesis")
            .current_dir(&cwd)
            .args([
                "run",
                &format!("{base}/v1/openapi.json"),
                "--checks",
                "all",
                "--max-examples",
                "25",
                "--no-color",
            ])
            .env("PYTHONIOENCODING", "utf-8")
            .output()
    })
    .await
    .unwrap()
    .expect("schemathesis is installed (scripts/test installs it; NCSD_SKIP_SCHEMATHESIS=1 skips)");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}"
    );
    srv.stop().await;
}
