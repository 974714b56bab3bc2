//! Stories about more than one thing at once: subscribers woken by commits, and many writers
//! racing on the same noticeId or the same content key, where the database must decide.

use std::collections::BTreeSet;

use ncsd::store::{DynStore, IngestOutcome, NewDelivery};
use tokio::task::JoinSet;

use crate::records::{all_events, put, recording, session, wait_for_seq};

pub async fn story_subscribe_wakes(store: DynStore) {
    let mut wake = store.subscribe();
    let first = put(&store, recording("n1", "s1", 1_000)).await;
    assert!(
        wait_for_seq(&mut wake, first.seq).await,
        "woken after the first commit"
    );
    let second = put(&store, recording("n2", "s1", 2_000)).await;
    assert!(
        wait_for_seq(&mut wake, second.seq).await,
        "woken after the second commit"
    );
}

pub async fn story_concurrent_same_notice(store: DynStore) {
    let mut tasks = JoinSet::new();
    for i in 0..64 {
        let store = store.clone();
        let d = NewDelivery {
            notify_ms: Some(i),
            ..recording("same", "s1", 1_000 + i)
        };
        tasks.spawn(async move { store.ingest(d).await });
    }
    let outcomes: Vec<IngestOutcome> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("ingest"))
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| !o.duplicate).count(),
        1,
        "exactly one original"
    );
    assert!(outcomes.iter().all(|o| o.seq == outcomes[0].seq));
    let counts: BTreeSet<i64> = outcomes.iter().map(|o| o.deliveries).collect();
    assert_eq!(
        counts,
        (1..=64).collect(),
        "each delivery got its own number"
    );
    let stored = store.event("same").await.unwrap().unwrap();
    assert_eq!(stored.deliveries, 64);
    assert_eq!(store.repeat_deliveries(0, 1_000).await.unwrap().len(), 63);
    assert_eq!(all_events(&store).await.len(), 1);
    assert_eq!(session(&store, "s1").await.event_count, 1);
}

pub async fn story_concurrent_copies(store: DynStore) {
    let mut tasks = JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        let d = NewDelivery {
            sequence: Some(1),
            content_key: Some("K".into()),
            ..recording(&format!("n{i}"), "s1", 1_000 + i)
        };
        tasks.spawn(async move { (d.notice_id.clone(), store.ingest(d).await) });
    }
    let outcomes: Vec<(String, IngestOutcome)> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|(id, r)| (id, r.expect("ingest")))
        .collect();
    let originals: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| o.copy_of.is_none())
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(originals.len(), 1, "one original among {outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|(id, o)| id == originals[0] || o.copy_of.as_deref() == Some(originals[0])));
    assert_eq!(session(&store, "s1").await.event_count, 1);
    assert_eq!(all_events(&store).await.len(), 32);
}
