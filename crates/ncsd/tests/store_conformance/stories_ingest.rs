//! Stories about writing and reading events: every field kept, every filter and cursor, a
//! repeated noticeId counted rather than stored again, redundant copies linked to their original,
//! and quarantine.

use ncsd::store::{
    DynStore, EventQuery, EventRecord, IngestOutcome, NewDelivery, NewQuarantine, QuarantineRecord,
};
use ncsd::summary::{RECORDING, UPLOADING};

use crate::records::{all_events, delivery, find, ids, put, recording, session};

pub async fn story_ingest_and_read_back(store: DynStore) {
    assert_eq!(store.latest_seq().await.unwrap(), 0);
    assert!(all_events(&store).await.is_empty());
    store.health().await.expect("healthy");

    let first = NewDelivery {
        cname: Some("c1".into()),
        uid: Some("u1".into()),
        sequence: Some(1),
        sendts: Some(990),
        notify_ms: Some(995),
        // Not UTF-8, with a NUL: the body is bytes, kept exactly.
        body: vec![0xff, 0x00, b'{', 0x80],
        content_key: Some("k1".into()),
        session_flags: RECORDING,
        ..recording("n1", "s1", 1_000)
    };
    let all = [
        first.clone(),
        NewDelivery {
            event_type: 41,
            cname: Some("c1".into()),
            sequence: Some(2),
            ..recording("n2", "s1", 2_000)
        },
        NewDelivery {
            product_id: 1,
            event_type: 7,
            notify_ms: None,
            received_at_ms: 3_000,
            ..delivery("n3")
        },
        NewDelivery {
            cname: Some("c2".into()),
            ..recording("n4", "s2", 4_000)
        },
        NewDelivery {
            cname: Some("c1".into()),
            ..recording("n5", "s1", 5_000)
        },
    ];
    let mut seqs = Vec::new();
    for d in all {
        let out = put(&store, d).await;
        assert!(!out.duplicate);
        assert_eq!((out.deliveries, out.copy_of), (1, None));
        seqs.push(out.seq);
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs grow in commit order: {seqs:?}"
    );
    assert_eq!(store.latest_seq().await.unwrap(), seqs[4]);

    let stored = store.event("n1").await.unwrap().expect("n1 stored");
    let expected = EventRecord {
        seq: seqs[0],
        notice_id: "n1".into(),
        product_id: 3,
        event_type: 40,
        notify_ms: Some(995),
        sid: Some("s1".into()),
        cname: Some("c1".into()),
        uid: Some("u1".into()),
        sequence: Some(1),
        sendts: Some(990),
        body: first.body.clone(),
        headers: first.headers.clone(),
        received_at_ms: 1_000,
        last_received_at_ms: 1_000,
        deliveries: 1,
        copy_of: None,
        content_key: Some("k1".into()),
        session_flags: RECORDING,
        project: "default".into(),
    };
    assert_eq!(stored, expected);
    let bare = store.event("n3").await.unwrap().expect("n3 stored");
    assert_eq!(
        (
            bare.notify_ms,
            bare.sid,
            bare.cname,
            bare.sequence,
            bare.content_key
        ),
        (None, None, None, None, None)
    );
    assert_eq!(store.event("missing").await.unwrap(), None);

    let q = EventQuery::default;
    assert_eq!(find(&store, q()).await, ["n1", "n2", "n3", "n4", "n5"]);
    assert_eq!(
        find(
            &store,
            EventQuery {
                event_type: Some(40),
                ..q()
            }
        )
        .await,
        ["n1", "n4", "n5"]
    );
    assert_eq!(
        find(
            &store,
            EventQuery {
                product_id: Some(1),
                ..q()
            }
        )
        .await,
        ["n3"]
    );
    assert_eq!(
        find(
            &store,
            EventQuery {
                sid: Some("s1".into()),
                ..q()
            }
        )
        .await,
        ["n1", "n2", "n5"]
    );
    assert_eq!(
        find(
            &store,
            EventQuery {
                cname: Some("c2".into()),
                ..q()
            }
        )
        .await,
        ["n4"]
    );
    assert_eq!(
        find(
            &store,
            EventQuery {
                since: Some(3_000),
                ..q()
            }
        )
        .await,
        ["n3", "n4", "n5"]
    );
    let both = EventQuery {
        event_type: Some(40),
        sid: Some("s1".into()),
        ..q()
    };
    assert_eq!(find(&store, both).await, ["n1", "n5"]);
    assert!(find(
        &store,
        EventQuery {
            sid: Some("nope".into()),
            ..q()
        }
    )
    .await
    .is_empty());
    // A negative limit reads everything (SQLite's LIMIT -1), on every backend.
    assert_eq!(find(&store, EventQuery { limit: -1, ..q() }).await.len(), 5);

    // Cursor paging: resume after the last seq of each page.
    let mut after = 0;
    let mut pages = Vec::new();
    loop {
        let page = store
            .events(&EventQuery {
                after,
                limit: 2,
                ..q()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().seq;
        pages.push(ids(&page).join(","));
    }
    assert_eq!(pages, ["n1,n2", "n3,n4", "n5"]);
    assert_eq!(
        find(
            &store,
            EventQuery {
                after: seqs[2],
                ..q()
            }
        )
        .await,
        ["n4", "n5"]
    );
}

pub async fn story_duplicates(store: DynStore) {
    let original = NewDelivery {
        notify_ms: Some(900),
        body: b"first".to_vec(),
        ..recording("n1", "s1", 1_000)
    };
    let a = put(&store, original).await;
    assert!(!a.duplicate);
    let resend = |at: i64, notify: Option<i64>| NewDelivery {
        notify_ms: notify,
        body: b"second".to_vec(),
        ..recording("n1", "s1", at)
    };
    let b = put(&store, resend(2_000, Some(1_900))).await;
    assert_eq!(
        b,
        IngestOutcome {
            seq: a.seq,
            duplicate: true,
            deliveries: 2,
            copy_of: None
        }
    );
    let c = put(&store, resend(3_000, None)).await;
    assert_eq!((c.seq, c.duplicate, c.deliveries), (a.seq, true, 3));
    // The very same resend again: counted, but its delivery row already exists.
    let d = put(&store, resend(2_000, Some(1_900))).await;
    assert_eq!((d.duplicate, d.deliveries), (true, 4));

    let stored = store.event("n1").await.unwrap().unwrap();
    assert_eq!(stored.body, b"first", "the first body is kept");
    assert_eq!(
        (stored.deliveries, stored.received_at_ms, stored.notify_ms),
        (4, 1_000, Some(900))
    );
    assert_eq!(
        stored.last_received_at_ms, 2_000,
        "the latest repeat's receive time"
    );
    assert_eq!(
        store.latest_seq().await.unwrap(),
        a.seq,
        "repeats add no event"
    );
    assert_eq!(all_events(&store).await.len(), 1);
    assert_eq!(
        session(&store, "s1").await.event_count,
        1,
        "repeats are not session events"
    );

    let repeats = store.repeat_deliveries(0, 100).await.unwrap();
    let seen: Vec<_> = repeats
        .iter()
        .map(|r| (r.notice_id.as_str(), r.received_at_ms, r.notify_ms))
        .collect();
    assert_eq!(seen, [("n1", 2_000, Some(1_900)), ("n1", 3_000, None)]);
    assert!(repeats[0].id < repeats[1].id);
    let page = store.repeat_deliveries(0, 1).await.unwrap();
    assert_eq!(page, repeats[..1]);
    assert_eq!(
        store.repeat_deliveries(page[0].id, 10).await.unwrap(),
        repeats[1..]
    );
}

pub async fn story_redundant_copies(store: DynStore) {
    let with_key = |id: &str, key: &str, flags: i64, at: i64| NewDelivery {
        sequence: Some(1),
        content_key: Some(key.into()),
        session_flags: flags,
        ..recording(id, "s1", at)
    };
    let first = put(&store, with_key("n1", "K", RECORDING, 1_000)).await;
    assert_eq!(first.copy_of, None);
    let second = put(&store, with_key("n2", "K", UPLOADING, 1_100)).await;
    assert_eq!(
        (second.duplicate, second.copy_of.as_deref()),
        (false, Some("n1"))
    );
    assert!(
        second.seq > first.seq,
        "a copy is still stored as an event of its own"
    );
    let third = put(&store, with_key("n3", "K", 0, 1_200)).await;
    assert_eq!(third.copy_of.as_deref(), Some("n1"));
    let other = put(&store, with_key("n4", "K2", 0, 1_300)).await;
    assert_eq!(other.copy_of, None);

    let stored = store.event("n2").await.unwrap().unwrap();
    assert_eq!(
        (stored.copy_of.as_deref(), stored.content_key.as_deref()),
        (Some("n1"), Some("K"))
    );
    assert_eq!(store.event("n1").await.unwrap().unwrap().copy_of, None);

    let again = put(&store, with_key("n2", "K", UPLOADING, 1_400)).await;
    assert_eq!(
        (again.duplicate, again.deliveries, again.copy_of.as_deref()),
        (true, 2, Some("n1"))
    );

    let s = session(&store, "s1").await;
    assert_eq!(s.event_count, 2, "copies are not counted: n1 and n4");
    assert_eq!(s.flags, RECORDING | UPLOADING, "a copy's bits still merge");
    assert_eq!(s.last_seq, other.seq);
    let listed = store.session_events("s1").await.unwrap();
    assert_eq!(ids(&listed).len(), 4, "copies are listed, flagged");
    assert_eq!(listed.iter().filter(|e| e.copy_of.is_some()).count(), 2);
}

pub async fn story_quarantine(store: DynStore) {
    let item = |body: &[u8], at: i64, reason: &str| NewQuarantine {
        body: body.to_vec(),
        headers: r#"{"agora-signature-v2":"aa"}"#.into(),
        reason: reason.into(),
        received_at_ms: at,
    };
    let first = store
        .quarantine(item(b"not json", 1_000, "not JSON"))
        .await
        .unwrap();
    let again = store
        .quarantine(item(b"not json", 1_000, "said differently"))
        .await
        .unwrap();
    assert_eq!(again, first, "the same body again is the same row");
    let other_body = store
        .quarantine(item(b"{}", 1_000, "no noticeId"))
        .await
        .unwrap();
    let replay = store
        .quarantine(item(b"not json", 2_000, "not JSON"))
        .await
        .unwrap();
    assert_eq!(replay, first, "a replay later is counted, not stored again");
    assert!(first < other_body);

    let all = store.quarantined(0, 10).await.unwrap();
    let expected = [
        QuarantineRecord {
            id: first,
            received_at_ms: 1_000,
            reason: "not JSON".into(),
            body: b"not json".to_vec(),
            headers: item(b"", 0, "").headers,
            deliveries: 3,
            last_received_at_ms: Some(2_000),
        },
        QuarantineRecord {
            id: other_body,
            received_at_ms: 1_000,
            reason: "no noticeId".into(),
            body: b"{}".to_vec(),
            headers: item(b"", 0, "").headers,
            deliveries: 1,
            last_received_at_ms: None,
        },
    ];
    assert_eq!(all, expected);
    assert_eq!(store.quarantined(first, 1).await.unwrap(), expected[1..2]);
    assert!(store.quarantined(other_body, 10).await.unwrap().is_empty());
}
