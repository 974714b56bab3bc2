//! Stories about bulk maintenance: importing records exported from another store (`ncsd copy`),
//! idempotently, and purging old data by the same rule on every backend, chunk after chunk.

use ncsd::store::{
    DeliveryRecord, DynStore, EventRecord, ImportBatch, ImportCounts, NewDelivery, NewQuarantine,
    QuarantineRecord, SessionRow,
};
use ncsd::summary::{EXIT_FAILED, RECORDING, UPLOADING};

use crate::records::{
    all_events, all_sessions, delivery, exported_event, ids, put, recording, session, sids,
};

pub async fn story_import(store: DynStore) {
    let e1 = EventRecord {
        deliveries: 3,
        last_received_at_ms: 5_000,
        content_key: Some("K".into()),
        session_flags: RECORDING,
        ..exported_event("e1", 900)
    };
    let e2 = EventRecord {
        copy_of: Some("e1".into()),
        content_key: Some("K".into()),
        session_flags: UPLOADING,
        ..exported_event("e2", 901)
    };
    let e3 = EventRecord {
        product_id: 1,
        sid: None,
        ..exported_event("e3", 902)
    };
    let batch = ImportBatch {
        events: vec![e1.clone(), e2.clone(), e3.clone(), e1.clone()],
        deliveries: vec![
            DeliveryRecord {
                id: 7,
                notice_id: "e1".into(),
                received_at_ms: 2_000,
                notify_ms: Some(1),
            },
            DeliveryRecord {
                id: 8,
                notice_id: "e1".into(),
                received_at_ms: 5_000,
                notify_ms: Some(2),
            },
        ],
        quarantine: vec![
            QuarantineRecord {
                id: 3,
                received_at_ms: 100,
                reason: "r".into(),
                body: b"x".to_vec(),
                headers: "{}".into(),
                deliveries: 4,
                last_received_at_ms: Some(900),
            },
            QuarantineRecord {
                id: 4,
                received_at_ms: 200,
                reason: "r".into(),
                body: b"y".to_vec(),
                headers: "{}".into(),
                deliveries: 1,
                last_received_at_ms: None,
            },
        ],
    };
    let counts = store.import(batch.clone()).await.unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            events: 3,
            deliveries: 2,
            quarantine: 2
        }
    );
    let again = store.import(batch).await.unwrap();
    assert_eq!(
        again,
        ImportCounts::default(),
        "a second import changes nothing"
    );

    let stored = all_events(&store).await;
    assert_eq!(ids(&stored), ["e1", "e2", "e3"], "stored in batch order");
    assert_eq!(store.latest_seq().await.unwrap(), stored[2].seq);
    for (got, sent) in stored.iter().zip([&e1, &e2, &e3]) {
        assert_eq!(
            *got,
            EventRecord {
                seq: got.seq,
                ..sent.clone()
            },
            "everything but seq survives"
        );
    }
    let s = session(&store, "s1").await;
    assert_eq!(
        (s.event_count, s.flags, s.last_seq),
        (1, RECORDING | UPLOADING, stored[1].seq)
    );
    assert_eq!(store.repeat_deliveries(0, 10).await.unwrap().len(), 2);
    let q = store.quarantined(0, 10).await.unwrap();
    assert_eq!(
        q.iter().map(|r| r.body.as_slice()).collect::<Vec<_>>(),
        [b"x", b"y"]
    );
    assert_eq!(
        q.iter()
            .map(|r| (r.deliveries, r.last_received_at_ms))
            .collect::<Vec<_>>(),
        [(4, Some(900)), (1, None)],
        "replay counts survive a copy"
    );

    // The import claimed the copy key and the noticeIds for later live deliveries too.
    let live = put(
        &store,
        NewDelivery {
            sequence: Some(900),
            content_key: Some("K".into()),
            ..recording("e9", "s1", 6_000)
        },
    )
    .await;
    assert_eq!(live.copy_of.as_deref(), Some("e1"));
    let repeat = put(&store, recording("e1", "s1", 7_000)).await;
    assert_eq!((repeat.duplicate, repeat.deliveries), (true, 4));

    // Several events of one session in one batch merge as if they had arrived one by one.
    let f = |id: &str, cname: Option<&str>, sendts: Option<i64>, at: i64, flags: i64| EventRecord {
        sid: Some("s2".into()),
        cname: cname.map(str::to_string),
        sendts,
        received_at_ms: at,
        last_received_at_ms: at,
        session_flags: flags,
        ..exported_event(id, 0)
    };
    let batch = ImportBatch {
        events: vec![
            f("f1", None, Some(700), 1_000, RECORDING),
            f("f2", Some("first"), None, 3_000, 0),
            f("f3", Some("second"), Some(2_500), 1_100, UPLOADING),
            EventRecord {
                copy_of: Some("f1".into()),
                ..f("f4", Some("third"), Some(100), 900, EXIT_FAILED)
            },
        ],
        ..Default::default()
    };
    assert_eq!(store.import(batch).await.unwrap().events, 4);
    let f4 = store.event("f4").await.unwrap().unwrap();
    let expected = SessionRow {
        sid: "s2".into(),
        cname: Some("first".into()),
        flags: RECORDING | UPLOADING | EXIT_FAILED,
        event_count: 3,
        first_event_ms: Some(100),
        last_event_ms: Some(2_500),
        last_activity_ms: 3_000,
        last_seq: f4.seq,
        exit_key: -1,
        project: "default".into(),
    };
    assert_eq!(session(&store, "s2").await, expected);
}

pub async fn story_purge_before(store: DynStore) {
    let keyed = NewDelivery {
        sequence: Some(1),
        content_key: Some("K".into()),
        ..recording("old-1", "sOld", 1_000)
    };
    put(&store, keyed).await;
    put(&store, recording("old-2", "sOld", 1_100)).await;
    put(&store, recording("long-1", "sLong", 1_000)).await;
    put(&store, recording("long-2", "sLong", 9_000)).await;
    put(
        &store,
        NewDelivery {
            product_id: 1,
            received_at_ms: 1_000,
            ..delivery("loose-old")
        },
    )
    .await;
    put(
        &store,
        NewDelivery {
            product_id: 1,
            received_at_ms: 9_000,
            ..delivery("loose-new")
        },
    )
    .await;
    put(
        &store,
        NewDelivery {
            received_at_ms: 1_000,
            ..delivery("no-sid-old")
        },
    )
    .await;
    // Other products under a sid go by their own receive time, not with the session.
    put(
        &store,
        NewDelivery {
            product_id: 1,
            ..recording("other-old", "sLong", 1_000)
        },
    )
    .await;
    put(
        &store,
        NewDelivery {
            product_id: 1,
            ..recording("other-new", "sOld", 9_000)
        },
    )
    .await;
    put(&store, recording("long-1", "sLong", 1_500)).await;
    put(&store, recording("long-1", "sLong", 9_500)).await;
    let at = |body: &[u8], ms: i64| NewQuarantine {
        body: body.to_vec(),
        headers: "{}".into(),
        reason: "r".into(),
        received_at_ms: ms,
    };
    store.quarantine(at(b"old", 1_000)).await.unwrap();
    store.quarantine(at(b"new", 9_000)).await.unwrap();

    let removed = store.purge_before(5_000).await.unwrap();
    assert_eq!(removed, 5, "old-1, old-2, loose-old, no-sid-old, other-old");
    let left = all_events(&store).await;
    assert_eq!(
        ids(&left),
        ["long-1", "long-2", "loose-new", "other-new"],
        "a session still active keeps its start"
    );
    assert_eq!(sids(&all_sessions(&store).await), ["sLong"]);
    let repeats = store.repeat_deliveries(0, 10).await.unwrap();
    assert_eq!(
        repeats.iter().map(|r| r.received_at_ms).collect::<Vec<_>>(),
        [9_500]
    );
    let q = store.quarantined(0, 10).await.unwrap();
    assert_eq!(
        q.iter().map(|r| r.body.as_slice()).collect::<Vec<_>>(),
        [b"new"]
    );
    // The purged original freed its copy key.
    let reborn = put(
        &store,
        NewDelivery {
            sequence: Some(1),
            content_key: Some("K".into()),
            ..recording("fresh", "sOld", 9_900)
        },
    )
    .await;
    assert_eq!(reborn.copy_of, None);
    assert_eq!(store.purge_before(5_000).await.unwrap(), 0);
}

/// More than one chunk of everything: the purge goes on until nothing old is left.
pub async fn story_purge_in_chunks(store: DynStore) {
    let old = |i: usize| EventRecord {
        received_at_ms: 1_000,
        ..exported_event(&format!("n{i}"), 0)
    };
    let mut events: Vec<EventRecord> = (0..2_100)
        .map(|i| EventRecord {
            sid: Some("big".into()),
            ..old(i)
        })
        .collect();
    events.extend((2_100..4_500).map(|i| EventRecord {
        product_id: 1,
        sid: None,
        ..old(i)
    }));
    events.push(EventRecord {
        received_at_ms: 9_000,
        sid: Some("new".into()),
        ..exported_event("fresh", 0)
    });
    let deliveries = (0..2_100)
        .map(|i| DeliveryRecord {
            id: 0,
            notice_id: "n0".into(),
            received_at_ms: 1_000 + i,
            notify_ms: None,
        })
        .collect();
    let counts = store
        .import(ImportBatch {
            events,
            deliveries,
            quarantine: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!((counts.events, counts.deliveries), (4_501, 2_100));

    assert_eq!(store.purge_before(5_000).await.unwrap(), 4_500);
    assert_eq!(ids(&all_events(&store).await), ["fresh"]);
    assert_eq!(sids(&all_sessions(&store).await), ["new"]);
    assert!(store.repeat_deliveries(0, 10).await.unwrap().is_empty());
}
