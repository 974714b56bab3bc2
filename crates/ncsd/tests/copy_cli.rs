//! `ncsd copy`: SQLite to PostgreSQL (the move to a cluster), idempotent when rerun, and the API
//! reads the same afterwards.

mod common;

use std::process::Command;

use common::pg::PgDatabase;
use common::{cr_body, start};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_sqlite_to_postgres_is_complete_and_idempotent() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let src = start(&[]).await;
    for i in 0..40 {
        let body = cr_body(
            &format!("c{i}"),
            &format!("sid-{}", i % 4),
            43,
            i / 4,
            json!({"state": i % 2}),
        );
        assert_eq!(src.post(&body).await.0, 200);
        if i % 5 == 0 {
            src.post(&body).await; // a resend: a repeat delivery
        }
    }
    src.post(b"not json at all").await;
    let (_, sessions_before) = src.get("/v1/sessions").await;
    let (_, session_before) = src.get("/v1/sessions/sid-1").await;
    let (_, event_before) = src.get("/v1/events/c5").await;
    let (_dir, from) = src.stop_keep_db().await;

    let copy = || {
        let out = Command::new(env!("CARGO_BIN_EXE_ncsd"))
            .args(["copy", "--from", &from, "--to", &pg.url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let first = copy();
    assert!(
        first.contains("copied 40 of 40 events, 8 of 8 repeat deliveries, 1 of 1 quarantined"),
        "{first}"
    );
    let again = copy();
    assert!(
        again.contains("copied 0 of 40 events, 0 of 8 repeat deliveries, 0 of 1 quarantined"),
        "{again}"
    );

    let dst = start(&["--database", &pg.url]).await;
    assert_eq!(
        dst.get("/v1/sessions").await.1["sessions"],
        sessions_before["sessions"]
    );
    // Lifecycle events are not copied: the destination derives them again from the copied
    // events (same ids, its own times), in the background.
    let without_lifecycle = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("lifecycle");
        v
    };
    assert_eq!(
        without_lifecycle(dst.get("/v1/sessions/sid-1").await.1),
        without_lifecycle(session_before.clone())
    );
    let (_, event_after) = dst.get("/v1/events/c5").await;
    for field in [
        "notice_id",
        "body",
        "deliveries",
        "received_at_ms",
        "sid",
        "sequence",
        "headers",
    ] {
        assert_eq!(event_after[field], event_before[field], "{field}");
    }
    assert_eq!(
        dst.get("/v1/quarantine").await.1["quarantine"][0]["body"],
        "not json at all"
    );
    dst.stop().await;
}
