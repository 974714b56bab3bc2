//! SQLite only: upgrading an older file, and the write-ahead log, which must not grow without
//! end under steady ingest. SQLite only
//! starts its WAL over when everything in it was copied into the database; a checkpoint racing
//! a busy writer never gets there, and the file then grows by gigabytes (see `store::sqlite::wal`).

use std::time::Duration;

use tokio::task::JoinSet;

use ncsd::store::NewDelivery;

use crate::records::recording;
use crate::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_stays_bounded_under_steady_ingest() {
    let db = TestDb::sqlite().await;
    let dir = db._dir.as_ref().expect("a temp dir").path().to_path_buf();
    let wal = dir.join("ncsd.db-wal");
    const EVENTS: usize = 120_000;
    const WRITERS: usize = 64;
    let mut tasks = JoinSet::new();
    for w in 0..WRITERS {
        let store = db.store.clone();
        tasks.spawn(async move {
            for i in (w..EVENTS).step_by(WRITERS) {
                // Random-looking ids and many sessions, so each commit dirties pages all over
                // the indexes; a body the size of a real notification.
                let id = format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let d = NewDelivery {
                    sequence: Some(i as i64),
                    content_key: Some(format!("k{id}")),
                    body: vec![b' '; 700],
                    ..recording(&id, &format!("s{}", i % 997), i as i64)
                };
                store.ingest(d).await.expect("ingest");
            }
        });
    }
    // Sample the WAL size while the writers run.
    let mut largest = 0u64;
    while !tasks.is_empty() {
        if let Ok(m) = std::fs::metadata(&wal) {
            largest = largest.max(m.len());
        }
        tokio::select! {
            _ = tasks.join_next() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    assert_eq!(
        db.store.latest_seq().await.expect("latest seq"),
        EVENTS as i64
    );
    // Unbounded, this run writes over 1 GB of WAL (several frames per event); the restart mark
    // is 256 MiB, asked for regardless at twice that when the background copy lags.
    let limit = 700 << 20;
    assert!(
        largest < limit,
        "the WAL reached {largest} bytes during the run (limit {limit})"
    );
}

/// What ncsd does when it stops: the WAL is copied into the database file and emptied, and
/// everything is still there when the file is opened again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_close_empties_the_wal_and_keeps_every_event() {
    let db = TestDb::sqlite().await;
    let dir = db._dir.as_ref().expect("a temp dir").path().to_path_buf();
    let wal = dir.join("ncsd.db-wal");
    for i in 0..200 {
        let id = format!("close-{i:04}");
        db.store
            .ingest(recording(&id, &format!("s{}", i % 7), i))
            .await
            .expect("ingest");
    }
    let wal_len = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(wal_len() > 0, "the events are in the WAL before the stop");
    db.store.close().await.expect("close");
    assert_eq!(wal_len(), 0, "the WAL is empty after the stop");
    let url = format!("sqlite://{}", dir.join("ncsd.db").display());
    let reopened = ncsd::store::open(&url).await.expect("reopen");
    assert_eq!(reopened.latest_seq().await.expect("latest seq"), 200);
}

/// A version-2 file (which kept copy keys in a table of their own) opens as the current version:
/// that table goes, the kept-answers table comes, and a copy of an event stored before the
/// upgrade is still recognised as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_version_2_file_is_upgraded_and_keeps_recognising_copies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ncsd.db");
    let url = format!("sqlite://{}", file.display());
    let copy = |id: &str| NewDelivery {
        sequence: Some(1),
        content_key: Some("key-1".into()),
        ..recording(id, "s1", 1_000)
    };
    {
        let store = ncsd::store::open(&url).await.expect("open");
        store.ingest(copy("original")).await.expect("ingest");
    }
    // Wait for the writer thread to let go of the file, then make it look like version 2.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let old = rusqlite::Connection::open(&file).expect("open the file");
    old.execute_batch(
        "CREATE TABLE content_keys (content_key TEXT PRIMARY KEY, notice_id TEXT NOT NULL) \
         WITHOUT ROWID; INSERT INTO content_keys VALUES ('key-1', 'original'); \
         PRAGMA user_version = 2;",
    )
    .expect("downgrade");
    drop(old);

    let store = ncsd::store::open(&url).await.expect("reopen");
    let outcome = store.ingest(copy("second-path")).await.expect("ingest");
    assert_eq!(outcome.copy_of.as_deref(), Some("original"));
    let check = rusqlite::Connection::open(&file).expect("open the file");
    let version: i64 = check
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    let table = |name: &str| -> i64 {
        check
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .expect("tables")
    };
    // Version 3 dropped the content-key table; version 4 added the kept answers; version 5
    // counts quarantine replays and indexes every list filter; 6 keeps exits; 7 adds lifecycle;
    // 8 forwarding; 9 projects.
    assert_eq!(
        (
            version,
            table("content_keys"),
            table("session_states"),
            table("quarantine_body"),
            table("events_cname"),
            table("lifecycle")
        ),
        (9, 0, 1, 1, 1, 1)
    );
}

/// A store from before projects (version 8, no `project` columns) is migrated in place: what it
/// holds belongs to `default`, and new deliveries keep their own project.
#[tokio::test]
async fn sqlite_store_without_projects_is_migrated_to_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("old.db");
    let url = format!("sqlite://{}", file.display());
    {
        let store = ncsd::store::open(&url).await.expect("open");
        store
            .ingest(recording("before", "s-old", 1_000))
            .await
            .expect("ingest");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let old = rusqlite::Connection::open(&file).expect("open the file");
    old.execute_batch(
        "DROP INDEX sessions_project; DROP INDEX lifecycle_project; \
         ALTER TABLE events DROP COLUMN project; ALTER TABLE sessions DROP COLUMN project; \
         ALTER TABLE lifecycle DROP COLUMN project; PRAGMA user_version = 8;",
    )
    .expect("make it a version 8 file");
    drop(old);

    let store = ncsd::store::open(&url).await.expect("reopen");
    assert_eq!(
        store.event("before").await.unwrap().unwrap().project,
        "default"
    );
    assert_eq!(
        store.session("s-old").await.unwrap().unwrap().project,
        "default"
    );
    store
        .ingest(NewDelivery {
            project: "prod".into(),
            ..recording("after", "s-new", 2_000)
        })
        .await
        .expect("ingest");
    assert_eq!(
        store.session("s-new").await.unwrap().unwrap().project,
        "prod"
    );
}

/// `--writer-nice`: the writer thread, and only it, runs at the nice value asked for. (A
/// positive value, which needs no privilege, so the test runs as any user.)
#[cfg(target_os = "linux")]
#[tokio::test]
async fn sqlite_writer_thread_runs_at_the_nice_value_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("nice.db").display());
    let opts = ncsd::store::Options {
        writer_nice: 7,
        ..Default::default()
    };
    let store = ncsd::store::open_with(&url, &opts).await.expect("open");
    store
        .ingest(recording("nice-1", "s-nice", 1_000))
        .await
        .expect("ingest");
    // Field 19 of /proc/<pid>/task/<tid>/stat is the nice value; comm is field 2, in
    // parentheses, and has no spaces here.
    let nice = |stat: &str| -> i64 {
        let after = &stat[stat.rfind(')').expect("comm") + 2..];
        after
            .split(' ')
            .nth(16)
            .expect("nice field")
            .parse()
            .expect("a number")
    };
    let writers: Vec<i64> = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
        .filter(|stat| stat.contains("(ncsd-sqlite-wri)"))
        .map(|stat| nice(&stat))
        .collect();
    // Other tests of this binary run their own stores (nice 0) at the same time.
    assert_eq!(
        writers.iter().filter(|n| **n == 7).count(),
        1,
        "one writer thread, this store's, at 7: {writers:?}"
    );
    assert!(writers.iter().all(|n| *n == 7 || *n == 0), "{writers:?}");
    let me = std::fs::read_to_string("/proc/thread-self/stat").expect("own stat");
    assert_eq!(
        nice(&me),
        0,
        "the thread that opened the store keeps its priority"
    );
}

/// A store written under the earlier phase rules (a recording that exited normally was
/// "uploading" until its 31 arrived, and a fatal error made it "failed") answers by the current
/// rules once reopened: the stored bits are derived again from the bodies, and answers kept
/// under the old rules are dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_made_by_older_rules_is_derived_again_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ncsd.db");
    let url = format!("sqlite://{}", file.display());
    let body = |id: &str, t: u32, seq: i64, details: serde_json::Value| {
        serde_json::json!({"noticeId": id, "productId": 3, "eventType": t, "payload":
            {"sid": "old", "cname": "c", "uid": "1", "sequence": seq, "sendts": 1000 + seq,
             "details": details}})
        .to_string()
        .into_bytes()
    };
    {
        let store = ncsd::store::open(&url).await.expect("open");
        for (id, t, seq, d) in [
            ("o0", 40, 0, serde_json::json!({"status": 0})),
            ("o1", 1, 1, serde_json::json!({"errorLevel": 5})),
            ("o2", 11, 2, serde_json::json!({"exitStatus": 0})),
        ] {
            let raw = body(id, t, seq, d);
            let env = agora_ncs::Envelope::from_slice(&raw).unwrap();
            store
                .ingest(ncsd::ingest::to_delivery(&env, raw, "{}".into(), 1))
                .await
                .expect("ingest");
        }
        store
            .keep_states(
                vec![ncsd::store::KeptState {
                    sid: "old".into(),
                    last_seq: 3,
                    format: "made by the old rules".into(),
                    json: b"{}".to_vec(),
                }],
                None,
            )
            .await
            .expect("keep");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // What the earlier rules stored: the fatal error as FAILED (bit 1), no exit key.
    let old = rusqlite::Connection::open(&file).expect("open the file");
    old.execute_batch(
        "UPDATE events SET session_flags = 1 WHERE notice_id = 'o1'; \
         UPDATE sessions SET flags = 1 | 2 | 16 | 32, exit_key = -1; \
         UPDATE meta SET v = '1' WHERE k = 'rules_version';",
    )
    .expect("make it old");
    drop(old);

    let store = ncsd::store::open(&url).await.expect("reopen");
    let row = store.session("old").await.unwrap().unwrap();
    assert_eq!(
        ncsd::summary::phase(row.flags, row.exit_key).as_str(),
        "completed"
    );
    assert_eq!(row.exit_key, 4, "the exit at sequence 2, status 0");
    assert!(store.kept_state("old").await.unwrap().is_none());
    let listed = store
        .sessions(&ncsd::store::SessionQuery {
            phase: Some("completed".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}
