//! A full disk: ingest answers 503 (never 200 for what it could not store), reports it on
//! /healthz, and recovers by itself once space is freed, losing nothing it acknowledged.
//! Uses a small tmpfs mounted for the test (needs root, as in CI).

mod common;

use std::process::Command;

use common::{cr_body, start};
use serde_json::json;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_gives_503_then_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&mnt)
        .status();
    if !matches!(ok, Ok(s) if s.success()) {
        if std::env::var("NCSD_SKIP_MOUNT_TESTS").as_deref() == Ok("1") {
            eprintln!("skipping: cannot mount a tmpfs (NCSD_SKIP_MOUNT_TESTS=1)");
            return;
        }
        panic!("this test mounts a tmpfs and needs root; set NCSD_SKIP_MOUNT_TESTS=1 to skip it");
    }
    let _mount = Mount(mnt.clone());
    let db = format!("sqlite://{}", mnt.join("ncsd.db").display());
    let srv = start(&["--database", &db]).await;
    let mut acked = Vec::new();
    let mut i = 0;
    for _ in 0..5 {
        let (id, (status, _)) = post(&srv, &mut i).await;
        assert_eq!(status, 200);
        acked.push(id);
    }
    // Fill the filesystem.
    let filler = mnt.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    let mut refused = 0;
    for _ in 0..100 {
        let (id, (status, body)) = post(&srv, &mut i).await;
        match status {
            200 => acked.push(id),
            503 => {
                refused += 1;
                assert!(
                    body["error"].as_str().unwrap().contains("storage"),
                    "{body}"
                );
            }
            other => panic!("unexpected {other}: {body}"),
        }
        if refused >= 3 {
            break;
        }
    }
    assert!(refused >= 3, "a full disk must refuse deliveries with 503");
    let (health, h) = srv.get("/healthz").await;
    assert_eq!(health, 503, "health reports the failing writes: {h}");
    // Free the space: the next deliveries are stored again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let (id, (status, body)) = post(&srv, &mut i).await;
    assert_eq!(status, 200, "{body}");
    acked.push(id);
    assert_eq!(srv.get("/healthz").await.0, 200);
    for id in &acked {
        assert_eq!(
            srv.get(&format!("/v1/events/{id}")).await.0,
            200,
            "{id} was acknowledged"
        );
    }
    srv.stop().await;
}

async fn post(srv: &common::TestServer, i: &mut i64) -> (String, (u16, serde_json::Value)) {
    *i += 1;
    let id = format!("fill-{i}");
    let body = cr_body(
        &id,
        "s",
        43,
        *i,
        json!({"state": 0, "pad": "p".repeat(8 * 1024)}),
    );
    let res = srv.post(&body).await;
    (id, res)
}
