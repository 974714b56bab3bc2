//! Copying between backends (`ncsd copy`) gives identical reads: fill one store, import its
//! export into the other, and compare everything both answer.

use std::collections::HashMap;

use ncsd::store::{
    DynStore, EventRecord, ImportBatch, ImportCounts, NewDelivery, NewQuarantine, SessionRow,
};
use ncsd::summary::{EXIT_FAILED, EXIT_OK, RECORDING, UPLOADED, UPLOADING};

use crate::records::{all_events, all_sessions, delivery, put, recording};
use crate::TestDb;

/// A bit of everything: sessions, repeats, copies, loose events, quarantine.
async fn populate(store: &DynStore) {
    for i in 0..30i64 {
        let sid = format!("s{}", i % 4);
        let d = NewDelivery {
            cname: (i % 3 != 0).then(|| format!("room{}", i % 2)),
            // Every sixth event is a redundant copy of the others in its session: same
            // sequence, same key (a key always names one (sid, sequence)).
            sequence: Some(if i % 6 == 0 { 100 } else { i / 4 }),
            sendts: (i % 5 != 0).then_some(10_000 + i * 7 % 11),
            content_key: (i % 6 == 0).then(|| format!("key-{sid}")),
            session_flags: [RECORDING, UPLOADING, EXIT_OK, UPLOADED, EXIT_FAILED, 0]
                [i as usize % 6],
            ..recording(&format!("n{i}"), &sid, 10_000 + i)
        };
        put(store, d.clone()).await;
        if i % 7 == 0 {
            put(
                store,
                NewDelivery {
                    received_at_ms: d.received_at_ms + 5,
                    notify_ms: Some(i),
                    ..d
                },
            )
            .await;
        }
    }
    put(
        store,
        NewDelivery {
            product_id: 1,
            received_at_ms: 20_000,
            ..delivery("loose")
        },
    )
    .await;
    let q = NewQuarantine {
        body: b"junk".to_vec(),
        headers: "{}".into(),
        reason: "not JSON".into(),
        received_at_ms: 1,
    };
    store.quarantine(q).await.unwrap();
}

async fn copy_and_compare(from: &DynStore, to: &DynStore) {
    populate(from).await;
    let batch = ImportBatch {
        events: all_events(from).await,
        deliveries: from.repeat_deliveries(0, 10_000).await.unwrap(),
        quarantine: from.quarantined(0, 10_000).await.unwrap(),
    };
    let counts = to.import(batch.clone()).await.unwrap();
    assert_eq!(counts.events as usize, batch.events.len());
    assert_eq!(to.import(batch).await.unwrap(), ImportCounts::default());
    assert_eq!(snapshot(to).await, snapshot(from).await);
}

/// Everything a store answers, with its own numbering (seqs, row ids, which each store hands
/// out itself and may leave gaps in) replaced by what the numbers point at.
#[derive(Debug, PartialEq)]
struct Snapshot {
    events: Vec<EventRecord>,
    sessions: Vec<(SessionRow, String)>,
    session_events: Vec<Vec<String>>,
    latest: String,
    repeats: Vec<(String, i64, Option<i64>)>,
    quarantine: Vec<(i64, String, Vec<u8>, String)>,
}

async fn snapshot(store: &DynStore) -> Snapshot {
    let events = all_events(store).await;
    let by_seq: HashMap<i64, String> = events
        .iter()
        .map(|e| (e.seq, e.notice_id.clone()))
        .collect();
    let sessions = all_sessions(store).await;
    let mut session_events = Vec::new();
    for s in &sessions {
        session_events.push(
            store
                .session_events(&s.sid)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.notice_id)
                .collect(),
        );
    }
    let repeats = store.repeat_deliveries(0, 10_000).await.unwrap();
    let quarantine = store.quarantined(0, 10_000).await.unwrap();
    Snapshot {
        latest: by_seq[&store.latest_seq().await.unwrap()].clone(),
        events: events
            .into_iter()
            .map(|e| EventRecord { seq: 0, ..e })
            .collect(),
        sessions: sessions
            .into_iter()
            .map(|s| {
                (
                    SessionRow {
                        last_seq: 0,
                        ..s.clone()
                    },
                    by_seq[&s.last_seq].clone(),
                )
            })
            .collect(),
        session_events,
        repeats: repeats
            .into_iter()
            .map(|d| (d.notice_id, d.received_at_ms, d.notify_ms))
            .collect(),
        quarantine: quarantine
            .into_iter()
            .map(|q| (q.received_at_ms, q.reason, q.body, q.headers))
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_sqlite_to_postgres_reads_the_same() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite().await;
    copy_and_compare(&lite.store, &pg.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_postgres_to_sqlite_reads_the_same() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite().await;
    copy_and_compare(&pg.store, &lite.store).await;
}
