//! Stories about lifecycle events in the store: one per (sid, kind) however often recorded, the
//! deriver's cursor that only moves forward, placement and listing, what the deriver reads, and
//! the deriver itself resuming where it stopped.

use std::time::Duration;

use ncsd::store::{DynStore, LifecycleQuery, NewDelivery, NewLifecycle};
use ncsd::summary::{EXIT_OK, RECORDING, UPLOADING};

use crate::records::{put, recording};

fn record(sid: &str, kind: &str, cname: Option<&str>) -> NewLifecycle {
    NewLifecycle {
        id: format!("lc-{sid}-{kind}"),
        sid: sid.into(),
        kind: kind.into(),
        cname: cname.map(str::to_string),
        recorded_at_ms: 5,
        message: format!(r#"{{"id":"lc-{sid}-{kind}","type":"{kind}"}}"#),
    }
}

fn all() -> LifecycleQuery {
    LifecycleQuery {
        limit: 100,
        ..Default::default()
    }
}

pub async fn story_lifecycle_records(store: DynStore) {
    assert_eq!(store.lifecycle_cursor().await.unwrap(), 0);
    assert_eq!(store.latest_lifecycle().await.unwrap(), 0);
    let e1 = put(&store, recording("n1", "s1", 1_000)).await;
    let added = store
        .record_lifecycle(
            vec![
                record("s1", "recording.started", Some("room")),
                record("s1", "recording.started", Some("room")),
                record("s2", "recording.started", None),
            ],
            Some(e1.seq),
        )
        .await
        .unwrap();
    assert_eq!(added, 2, "one per (sid, kind), even within one call");
    assert_eq!(store.lifecycle_cursor().await.unwrap(), e1.seq);
    // Again, from another instance or after a restart: nothing new; the cursor never goes back.
    let again = store
        .record_lifecycle(vec![record("s1", "recording.started", None)], Some(0))
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(store.lifecycle_cursor().await.unwrap(), e1.seq);
    let e2 = put(&store, recording("n2", "s1", 2_000)).await;
    store
        .record_lifecycle(
            vec![record("s1", "recording.completed", Some("room"))],
            None,
        )
        .await
        .unwrap();
    let rows = store.lifecycle(&all()).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.windows(2).all(|w| w[0].seq < w[1].seq),
        "in the order recorded"
    );
    assert_eq!(
        rows.iter().map(|r| r.placement).collect::<Vec<_>>(),
        [e1.seq, e1.seq, e2.seq],
        "placed after the newest event at the time"
    );
    assert_eq!(store.latest_lifecycle().await.unwrap(), rows[2].seq);
    let of = |q: LifecycleQuery| {
        let store = store.clone();
        async move {
            store
                .lifecycle(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.sid, r.kind))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        of(LifecycleQuery {
            kind: Some("recording.completed".into()),
            ..all()
        })
        .await,
        [("s1".to_string(), "recording.completed".to_string())]
    );
    assert_eq!(
        of(LifecycleQuery {
            sid: Some("s2".into()),
            ..all()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        of(LifecycleQuery {
            cname: Some("room".into()),
            ..all()
        })
        .await
        .len(),
        2
    );
    // Resuming the stream: after lifecycle k among those placed at e1 or later, up to e1.
    let resumed = store
        .lifecycle(&LifecycleQuery {
            after_seq: rows[0].seq,
            after_placement: e1.seq,
            up_to_placement: Some(e1.seq),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].seq, rows[1].seq);
    assert_eq!(
        rows[1].message,
        r#"{"id":"lc-s2-recording.started","type":"recording.started"}"#
    );
}

pub async fn story_lifecycle_evidence_and_quiet_sessions(store: DynStore) {
    let ev = |id: &str, sid: &str, at: i64, flags: i64, sequence: i64| NewDelivery {
        session_flags: flags,
        sequence: Some(sequence),
        ..recording(id, sid, at)
    };
    let a2 = put(&store, ev("a2", "sa", 1_000, UPLOADING, 2)).await;
    let b0 = put(&store, ev("b0", "sb", 5_000, RECORDING, 0)).await;
    let a0 = put(&store, ev("a0", "sa", 1_100, RECORDING, 0)).await;
    let a1 = put(&store, ev("a1", "sa", 1_200, EXIT_OK, 1)).await;
    let seen = store.evidence_after(0, 100).await.unwrap();
    assert_eq!(
        seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [a2.seq, b0.seq, a0.seq, a1.seq],
        "commit order"
    );
    assert_eq!(
        store.evidence_after(b0.seq, 1).await.unwrap()[0].notice_id,
        "a0"
    );
    let history = store.session_evidence("sa", a0.seq).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.notice_id.as_str(), e.session_flags))
            .collect::<Vec<_>>(),
        [("a2", UPLOADING), ("a0", RECORDING)],
        "commit order, not sequence order, up to the cursor"
    );
    let quiet = store.quiet_sessions(0, 2_000, 10).await.unwrap();
    assert_eq!(
        quiet.iter().map(|s| s.sid.as_str()).collect::<Vec<_>>(),
        ["sa"]
    );
    assert!(store
        .quiet_sessions(2_000, 5_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.quiet_sessions(0, 6_000, 10).await.unwrap().len(), 2);
}

/// The deriver holding sessions' merged evidence between rounds records what one replaying
/// every history records, also when another instance moved the cursor in between.
pub async fn story_lifecycle_deriver_holds_evidence(store: DynStore) {
    let ev = |id: &str, sid: &str, flags: i64, sequence: i64, event_type: i64| NewDelivery {
        session_flags: flags,
        sequence: Some(sequence),
        event_type,
        ..recording(id, sid, 1_000 + sequence)
    };
    let mut held = ncsd::lifecycle::Held::default();
    put(&store, ev("h0", "sh", RECORDING, 0, 40)).await;
    put(&store, ev("g0", "sg", RECORDING, 0, 40)).await;
    ncsd::lifecycle::derive_with(&store, &mut held)
        .await
        .unwrap();
    put(&store, ev("h1", "sh", UPLOADING, 1, 41)).await;
    ncsd::lifecycle::derive_with(&store, &mut held)
        .await
        .unwrap();
    // Another instance derives the next events: what this one holds is out of date.
    put(&store, ev("g1", "sg", UPLOADING, 1, 41)).await;
    ncsd::lifecycle::derive_round(&store).await.unwrap();
    put(&store, ev("g2", "sg", EXIT_OK, 2, 11)).await;
    put(&store, ev("h2", "sh", EXIT_OK, 2, 11)).await;
    ncsd::lifecycle::derive_with(&store, &mut held)
        .await
        .unwrap();
    let rows = store.lifecycle(&all()).await.unwrap();
    for sid in ["sh", "sg"] {
        let mine: Vec<(String, String)> = rows
            .iter()
            .filter(|r| r.sid == sid)
            .map(|r| {
                let m: serde_json::Value = serde_json::from_str(&r.message).unwrap();
                let before = m["data"]["previous_phase"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                (r.kind.clone(), before)
            })
            .collect();
        assert_eq!(
            mine,
            [
                ("recording.started".into(), "starting".into()),
                ("recording.stopped".into(), "recording".into()),
                ("recording.completed".into(), "uploading".into()),
            ],
            "{sid}"
        );
    }
}

/// The deriver records what the events say, resumes from its cursor, and records nothing twice.
pub async fn story_lifecycle_deriver_resumes(store: DynStore) {
    let ev = |id: &str, at: i64, flags: i64, sequence: i64, event_type: i64| NewDelivery {
        session_flags: flags,
        sequence: Some(sequence),
        event_type,
        ..recording(id, "sd", at)
    };
    put(&store, ev("d0", 1_000, RECORDING, 0, 40)).await;
    put(&store, ev("d1", 1_100, UPLOADING, 1, 41)).await;
    assert!(!ncsd::lifecycle::derive_round(&store).await.unwrap());
    let kinds = |rows: Vec<ncsd::store::LifecycleRecord>| {
        rows.into_iter().map(|r| r.kind).collect::<Vec<_>>()
    };
    assert_eq!(
        kinds(store.lifecycle(&all()).await.unwrap()),
        ["recording.started", "recording.stopped"]
    );
    // Stopped here (a crash); more events; the next round takes only what is new.
    put(&store, ev("d2", 1_200, EXIT_OK, 2, 11)).await;
    ncsd::lifecycle::derive_round(&store).await.unwrap();
    ncsd::lifecycle::derive_round(&store).await.unwrap();
    let rows = store.lifecycle(&all()).await.unwrap();
    assert_eq!(
        kinds(rows.clone()),
        [
            "recording.started",
            "recording.stopped",
            "recording.completed"
        ]
    );
    let done: serde_json::Value = serde_json::from_str(&rows[2].message).unwrap();
    assert_eq!(done["data"]["cause"]["notice_id"], "d2");
    assert_eq!(done["data"]["previous_phase"], "uploading");
    // A stall sweep over a finished session records nothing; over an unfinished one, once.
    put(&store, ev("q0", 1_000, RECORDING, 0, 40)).await;
    let quiet = NewDelivery {
        sid: Some("sq".into()),
        ..ev("q1", 1_000, RECORDING, 0, 40)
    };
    put(&store, quiet).await;
    for _ in 0..2 {
        ncsd::lifecycle::sweep(&store, Duration::from_secs(1), 0)
            .await
            .unwrap();
    }
    let stalled = store
        .lifecycle(&LifecycleQuery {
            kind: Some("recording.stalled".into()),
            ..all()
        })
        .await
        .unwrap();
    assert_eq!(
        stalled.iter().map(|r| r.sid.as_str()).collect::<Vec<_>>(),
        ["sq"]
    );
}
