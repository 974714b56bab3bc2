//! The reads the dashboard adds: sessions by attention (evidence bits, or unfinished and
//! quiet), events newest first, and stored events per minute with the quarantine's size.

use ncsd::store::{DynStore, EventQuery, NewDelivery, NewQuarantine, SessionQuery};
use ncsd::summary::{EXIT_OK, FATAL_ERROR, RECORDING, UPLOADED};

use crate::records::{delivery, ids, put, recording, sids};

pub async fn story_dashboard_reads(store: DynStore) {
    let with = |id: &str, sid: &str, at: i64, flags: i64| NewDelivery {
        session_flags: flags,
        ..recording(id, sid, at)
    };
    put(&store, with("f1", "sFatal", 1_000, FATAL_ERROR)).await;
    put(&store, with("q1", "sQuiet", 2_000, RECORDING)).await;
    put(&store, with("d1", "sDone", 3_000, UPLOADED | EXIT_OK)).await;
    put(
        &store,
        NewDelivery {
            received_at_ms: 61_000,
            ..delivery("other")
        },
    )
    .await;

    let sessions = |q: SessionQuery| {
        let store = store.clone();
        async move {
            let rows = store
                .sessions(&SessionQuery { limit: 10, ..q })
                .await
                .expect("sessions");
            sids(&rows)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        }
    };
    let fatal = sessions(SessionQuery {
        flags_any: Some(FATAL_ERROR),
        ..Default::default()
    })
    .await;
    assert_eq!(fatal, ["sFatal"]);
    // Unfinished and last active before 2,500: the finished session is never stalled.
    let stalled = sessions(SessionQuery {
        unfinished_before: Some(2_500),
        ..Default::default()
    })
    .await;
    assert_eq!(stalled, ["sQuiet", "sFatal"]);

    let newest = store
        .events(&EventQuery {
            limit: 2,
            before: Some(i64::MAX),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&newest), ["other", "d1"]);
    let older = store
        .events(&EventQuery {
            limit: 10,
            before: Some(newest[1].seq),
            sid: Some("sFatal".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&older), ["f1"]);

    let activity = store.activity(0).await.unwrap();
    assert_eq!(activity.per_minute, [(0, 3), (60_000, 1)]);
    assert_eq!(activity.quarantined, 0);
    assert_eq!(
        store.activity(60_000).await.unwrap().per_minute,
        [(60_000, 1)]
    );
    store
        .quarantine(NewQuarantine {
            body: b"{".to_vec(),
            headers: "{}".into(),
            reason: "unreadable".into(),
            received_at_ms: 5_000,
        })
        .await
        .unwrap();
    assert_eq!(store.activity(0).await.unwrap().quarantined, 1);
}
