//! One storage story, told to every backend. Each `story_*` function takes a fresh store and
//! asserts what the `Store` port promises; the `stories!` macro runs each against SQLite (a temp
//! file) and PostgreSQL (a database created for the test and dropped after it). A few tests at
//! the end need PostgreSQL itself: two instances sharing one database, and an outage.
//!
//! PostgreSQL comes from `NCSD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). If it cannot be reached the PostgreSQL tests
//! fail; set `NCSD_SKIP_POSTGRES=1` to skip them on purpose.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ncsd::store::{
    self, DeliveryRecord, DynStore, EventQuery, EventRecord, ImportBatch, ImportCounts,
    IngestOutcome, NewDelivery, NewQuarantine, QuarantineRecord, SessionQuery, SessionRow,
    StoreError,
};
use ncsd::summary::{self, EXIT_OK, FAILED, RECORDING, UPLOADED, UPLOADING};
use common::pg::{url_parts, PgDatabase, Relay};
use tokio::task::JoinSet;

mod common;

// ---------------------------------------------------------------------------------------------
// Backends

macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let db = super::TestDb::sqlite().await;
                    super::$story(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$story(db.store.clone()).await;
                }
            )*
        }
    };
}

stories!(
    story_ingest_and_read_back,
    story_duplicates,
    story_redundant_copies,
    story_quarantine,
    story_session_summary,
    story_session_events,
    story_import,
    story_purge_before,
    story_purge_in_chunks,
    story_subscribe_wakes,
    story_concurrent_same_notice,
    story_concurrent_copies,
);

/// A store and what keeps its database alive (a temp dir or a test database); the store is
/// dropped first.
struct TestDb {
    store: DynStore,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDb {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ncsd.db").display());
        let store = store::open(&url).await.expect("open SQLite");
        assert_eq!(store.backend(), "sqlite");
        Self {
            store,
            _dir: Some(dir),
            _pg: None,
        }
    }

    /// None only when `NCSD_SKIP_POSTGRES=1`; an unreachable server fails the test.
    async fn postgres() -> Option<Self> {
        let db = PgDatabase::create().await?;
        let store = store::open(&db.url).await.expect("open PostgreSQL");
        assert_eq!(store.backend(), "postgres");
        Some(Self {
            store,
            _dir: None,
            _pg: Some(db),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Building records by hand, as `ingest::to_delivery` would

fn delivery(notice_id: &str) -> NewDelivery {
    NewDelivery {
        notice_id: notice_id.into(),
        product_id: 3,
        event_type: 40,
        notify_ms: Some(1_000),
        sid: None,
        cname: None,
        uid: None,
        sequence: None,
        sendts: None,
        body: format!(r#"{{"noticeId":"{notice_id}"}}"#).into_bytes(),
        headers: r#"{"agora-signature-v2":"00"}"#.into(),
        received_at_ms: 1_000,
        content_key: None,
        session_flags: 0,
    }
}

/// A Cloud Recording event of session `sid`, received at `at`.
fn recording(notice_id: &str, sid: &str, at: i64) -> NewDelivery {
    NewDelivery {
        sid: Some(sid.into()),
        received_at_ms: at,
        ..delivery(notice_id)
    }
}

async fn put(store: &DynStore, d: NewDelivery) -> IngestOutcome {
    store.ingest(d).await.expect("ingest")
}

async fn all_events(store: &DynStore) -> Vec<EventRecord> {
    store
        .events(&EventQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("events")
}

async fn all_sessions(store: &DynStore) -> Vec<SessionRow> {
    store
        .sessions(&SessionQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("sessions")
}

async fn session(store: &DynStore, sid: &str) -> SessionRow {
    all_sessions(store)
        .await
        .into_iter()
        .find(|s| s.sid == sid)
        .expect("a session row")
}

fn ids(events: &[EventRecord]) -> Vec<&str> {
    events.iter().map(|e| e.notice_id.as_str()).collect()
}

fn sids(rows: &[SessionRow]) -> Vec<&str> {
    rows.iter().map(|s| s.sid.as_str()).collect()
}

async fn find(store: &DynStore, q: EventQuery) -> Vec<String> {
    let page = store
        .events(&EventQuery {
            limit: if q.limit == 0 { 100 } else { q.limit },
            ..q
        })
        .await;
    page.expect("events")
        .into_iter()
        .map(|e| e.notice_id)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Stories

async fn story_ingest_and_read_back(store: DynStore) {
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

async fn story_duplicates(store: DynStore) {
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

async fn story_redundant_copies(store: DynStore) {
    let with_key = |id: &str, key: &str, flags: i64, at: i64| NewDelivery {
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

async fn story_quarantine(store: DynStore) {
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
    assert_eq!(again, first, "same body at the same moment is one row");
    let other_body = store
        .quarantine(item(b"{}", 1_000, "no noticeId"))
        .await
        .unwrap();
    let other_time = store
        .quarantine(item(b"not json", 2_000, "not JSON"))
        .await
        .unwrap();
    assert!(first < other_body && other_body < other_time);

    let all = store.quarantined(0, 10).await.unwrap();
    let expected = [
        QuarantineRecord {
            id: first,
            received_at_ms: 1_000,
            reason: "not JSON".into(),
            body: b"not json".to_vec(),
            headers: item(b"", 0, "").headers,
        },
        QuarantineRecord {
            id: other_body,
            received_at_ms: 1_000,
            reason: "no noticeId".into(),
            body: b"{}".to_vec(),
            headers: item(b"", 0, "").headers,
        },
        QuarantineRecord {
            id: other_time,
            received_at_ms: 2_000,
            reason: "not JSON".into(),
            body: b"not json".to_vec(),
            headers: item(b"", 0, "").headers,
        },
    ];
    assert_eq!(all, expected);
    assert_eq!(store.quarantined(first, 1).await.unwrap(), expected[1..2]);
    assert!(store.quarantined(other_time, 10).await.unwrap().is_empty());
}

async fn story_session_summary(store: DynStore) {
    let ev =
        |id: &str, sid: &str, at: i64, sendts: Option<i64>, cname: Option<&str>, flags: i64| {
            NewDelivery {
                sendts,
                cname: cname.map(str::to_string),
                session_flags: flags,
                ..recording(id, sid, at)
            }
        };
    // sA arrives out of order: its oldest sendts comes last.
    put(&store, ev("a1", "sA", 1_000, None, None, RECORDING)).await;
    put(&store, ev("a2", "sA", 1_100, Some(900), Some("roomA"), 0)).await;
    put(
        &store,
        ev(
            "a3",
            "sA",
            1_200,
            Some(1_500),
            Some("other"),
            UPLOADING | EXIT_OK,
        ),
    )
    .await;
    let a4 = put(&store, ev("a4", "sA", 1_300, Some(800), None, UPLOADED)).await;
    put(
        &store,
        ev("b1", "sB", 3_000, Some(2_000), Some("roomB"), FAILED),
    )
    .await;
    put(
        &store,
        ev("c1", "sC", 2_000, None, Some("roomA"), RECORDING),
    )
    .await;
    put(&store, ev("d1", "sD", 2_000, None, Some("roomD"), 0)).await;
    put(&store, ev("e1", "sE", 500, None, None, UPLOADING)).await;
    // Not sessions: another product under a sid, and a recording event without one.
    put(
        &store,
        NewDelivery {
            product_id: 1,
            ..recording("x1", "sX", 9_000)
        },
    )
    .await;
    put(
        &store,
        NewDelivery {
            received_at_ms: 9_000,
            ..delivery("x2")
        },
    )
    .await;

    let all = all_sessions(&store).await;
    assert_eq!(
        sids(&all),
        ["sB", "sD", "sC", "sA", "sE"],
        "newest activity first, then sid descending"
    );
    let a = all.iter().find(|s| s.sid == "sA").unwrap();
    let expected = SessionRow {
        sid: "sA".into(),
        cname: Some("roomA".into()),
        flags: RECORDING | UPLOADING | EXIT_OK | UPLOADED,
        event_count: 4,
        first_event_ms: Some(800),
        last_event_ms: Some(1_500),
        last_activity_ms: 1_500,
        last_seq: a4.seq,
    };
    assert_eq!(*a, expected);
    let e = all.iter().find(|s| s.sid == "sE").unwrap();
    assert_eq!(
        (e.first_event_ms, e.last_event_ms, e.last_activity_ms),
        (None, None, 500)
    );

    let q = || SessionQuery {
        limit: 100,
        ..Default::default()
    };
    for (phase, want) in [
        ("failed", "sB"),
        ("completed", "sA"),
        ("uploading", "sE"),
        ("recording", "sC"),
        ("starting", "sD"),
    ] {
        let rows = store
            .sessions(&SessionQuery {
                phase: Some(phase.into()),
                ..q()
            })
            .await
            .unwrap();
        assert_eq!(sids(&rows), [want], "phase {phase}");
        assert_eq!(
            summary::phase(rows[0].flags),
            phase,
            "SQL and Rust agree on {want}"
        );
    }
    let by_cname = store
        .sessions(&SessionQuery {
            cname: Some("roomA".into()),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&by_cname), ["sC", "sA"]);
    let since = store
        .sessions(&SessionQuery {
            since: Some(1_500),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&since), ["sB", "sD", "sC", "sA"]);
    let until = store
        .sessions(&SessionQuery {
            until: Some(2_000),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&until), ["sA", "sE"]);
    let window = store
        .sessions(&SessionQuery {
            since: Some(1_000),
            until: Some(3_000),
            ..q()
        })
        .await
        .unwrap();
    assert_eq!(sids(&window), ["sD", "sC", "sA"]);

    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = store
            .sessions(&SessionQuery {
                limit: 2,
                cursor: cursor.clone(),
                ..q()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some((last.last_activity_ms, last.sid.clone()));
        pages.push(sids(&page).join(","));
    }
    assert_eq!(pages, ["sB,sD", "sC,sA", "sE"]);
}

async fn story_session_events(store: DynStore) {
    let ev = |id: &str, sequence: Option<i64>, key: Option<&str>| NewDelivery {
        sequence,
        content_key: key.map(str::to_string),
        ..recording(id, "s1", 1_000)
    };
    let three = put(&store, ev("three", Some(3), None)).await;
    put(&store, ev("one", Some(1), None)).await;
    put(&store, ev("none", None, None)).await;
    put(&store, ev("two", Some(2), Some("k2"))).await;
    let copy = put(&store, ev("two-copy", Some(2), Some("k2"))).await;
    assert_eq!(copy.copy_of.as_deref(), Some("two"));
    put(
        &store,
        NewDelivery {
            product_id: 1,
            sequence: Some(0),
            ..recording("other-product", "s1", 1_000)
        },
    )
    .await;
    put(
        &store,
        NewDelivery {
            sequence: Some(0),
            ..recording("other-session", "s2", 1_000)
        },
    )
    .await;

    let listed = store.session_events("s1").await.unwrap();
    // No sequence sorts first (SQLite's NULL order), then sequence, then arrival.
    assert_eq!(ids(&listed), ["none", "one", "two", "two-copy", "three"]);
    assert_eq!(listed[4].seq, three.seq);
    assert_eq!(listed[3].copy_of.as_deref(), Some("two"));
    assert!(store.session_events("nope").await.unwrap().is_empty());
}

fn exported_event(id: &str, seq: i64) -> EventRecord {
    EventRecord {
        seq,
        notice_id: id.into(),
        product_id: 3,
        event_type: 40,
        notify_ms: Some(10),
        sid: Some("s1".into()),
        cname: Some("room".into()),
        uid: None,
        sequence: Some(seq),
        sendts: Some(500),
        body: id.as_bytes().to_vec(),
        headers: "{}".into(),
        received_at_ms: 1_000,
        last_received_at_ms: 1_000,
        deliveries: 1,
        copy_of: None,
        content_key: None,
        session_flags: 0,
    }
}

async fn story_import(store: DynStore) {
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
            },
            QuarantineRecord {
                id: 4,
                received_at_ms: 200,
                reason: "r".into(),
                body: b"y".to_vec(),
                headers: "{}".into(),
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

    // The import claimed the copy key and the noticeIds for later live deliveries too.
    let live = put(
        &store,
        NewDelivery {
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
                ..f("f4", Some("third"), Some(100), 900, FAILED)
            },
        ],
        ..Default::default()
    };
    assert_eq!(store.import(batch).await.unwrap().events, 4);
    let f4 = store.event("f4").await.unwrap().unwrap();
    let expected = SessionRow {
        sid: "s2".into(),
        cname: Some("first".into()),
        flags: RECORDING | UPLOADING | FAILED,
        event_count: 3,
        first_event_ms: Some(100),
        last_event_ms: Some(2_500),
        last_activity_ms: 3_000,
        last_seq: f4.seq,
    };
    assert_eq!(session(&store, "s2").await, expected);
}

async fn story_purge_before(store: DynStore) {
    let keyed = NewDelivery {
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
            content_key: Some("K".into()),
            ..recording("fresh", "sNew", 9_900)
        },
    )
    .await;
    assert_eq!(reborn.copy_of, None);
    assert_eq!(store.purge_before(5_000).await.unwrap(), 0);
}

/// More than one chunk of everything: the purge goes on until nothing old is left.
async fn story_purge_in_chunks(store: DynStore) {
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

async fn story_subscribe_wakes(store: DynStore) {
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

/// True once the broadcast carries `seq` or a later one (within 10 s).
async fn wait_for_seq(wake: &mut tokio::sync::broadcast::Receiver<i64>, seq: i64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, wake.recv()).await {
            Ok(Ok(n)) if n >= seq => return true,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) | Err(_) => return false,
        }
    }
}

async fn story_concurrent_same_notice(store: DynStore) {
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

async fn story_concurrent_copies(store: DynStore) {
    let mut tasks = JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        let d = NewDelivery {
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

// ---------------------------------------------------------------------------------------------
// Copying between backends (`ncsd copy`) gives identical reads

/// A bit of everything: sessions, repeats, copies, loose events, quarantine.
async fn populate(store: &DynStore) {
    for i in 0..30i64 {
        let sid = format!("s{}", i % 4);
        let d = NewDelivery {
            cname: (i % 3 != 0).then(|| format!("room{}", i % 2)),
            sequence: Some(i / 4),
            sendts: (i % 5 != 0).then_some(10_000 + i * 7 % 11),
            content_key: (i % 6 == 0).then(|| format!("key{}", i % 12)),
            session_flags: [RECORDING, UPLOADING, EXIT_OK, UPLOADED, FAILED, 0][i as usize % 6],
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

// ---------------------------------------------------------------------------------------------
// PostgreSQL only: several instances on one database, and outages

async fn two_instances() -> Option<(PgDatabase, DynStore, DynStore)> {
    let db = PgDatabase::create().await?;
    // Started together, as a rolling deploy would: migrations must not trip over each other.
    let (a, b) = tokio::join!(store::open(&db.url), store::open(&db.url));
    Some((db, a.expect("instance A"), b.expect("instance B")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_store_each_notice_once() {
    let Some((_db, a, b)) = two_instances().await else {
        return;
    };
    let mut tasks = JoinSet::new();
    for n in 0..16 {
        for i in 0..8i64 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let d = NewDelivery {
                notify_ms: Some(i),
                content_key: Some(format!("key{}", n / 2)),
                ..recording(&format!("n{n}"), "s1", 1_000 + i)
            };
            tasks.spawn(async move { (d.notice_id.clone(), store.ingest(d).await) });
        }
    }
    let mut by_notice: HashMap<String, Vec<IngestOutcome>> = HashMap::new();
    for (id, out) in tasks.join_all().await {
        by_notice.entry(id).or_default().push(out.expect("ingest"));
    }
    assert_eq!(by_notice.len(), 16);
    for (id, outs) in &by_notice {
        assert_eq!(
            outs.iter().filter(|o| !o.duplicate).count(),
            1,
            "{id}: one original"
        );
        let counts: BTreeSet<i64> = outs.iter().map(|o| o.deliveries).collect();
        assert_eq!(counts, (1..=8).collect(), "{id}: delivery numbers");
        for store in [&a, &b] {
            assert_eq!(store.event(id).await.unwrap().unwrap().deliveries, 8);
        }
    }
    let events = all_events(&b).await;
    assert_eq!(events.len(), 16);
    assert_eq!(
        events.iter().filter(|e| e.copy_of.is_some()).count(),
        8,
        "one copy per key pair"
    );
    assert_eq!(session(&a, "s1").await.event_count, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commit_on_one_instance_wakes_the_other() {
    let Some((_db, a, b)) = two_instances().await else {
        return;
    };
    let mut wake = b.subscribe();
    // Give B's listener a moment to be LISTENing (it catches up on connect anyway).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = put(&a, recording("n1", "s1", 1_000)).await;
    assert!(wait_for_seq(&mut wake, out.seq).await, "B heard A's commit");
    let out = put(&a, recording("n2", "s1", 2_000)).await;
    assert!(wait_for_seq(&mut wake, out.seq).await, "and the next one");
}

/// A reader following the cursor (as `GET /v1/stream` does) on one instance while two instances
/// write must see every row: no seq may become visible after a higher one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cursor_reader_never_skips_rows() {
    let Some((_db, a, b)) = two_instances().await else {
        return;
    };
    let mut writers = JoinSet::new();
    for w in 0..8 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        writers.spawn(async move {
            for i in 0..40 {
                store
                    .ingest(recording(&format!("w{w}-{i}"), &format!("s{w}"), 1_000 + i))
                    .await
                    .expect("ingest");
            }
        });
    }
    let mut seen = Vec::new();
    let mut after = 0;
    let mut done = false;
    loop {
        let page = b
            .events(&EventQuery {
                after,
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        if let Some(last) = page.last() {
            after = last.seq;
        }
        seen.extend(page.iter().map(|e| e.seq));
        if done && page.is_empty() {
            break;
        }
        if writers.is_empty() {
            done = true;
        } else if let Ok(Some(r)) =
            tokio::time::timeout(Duration::from_millis(2), writers.join_next()).await
        {
            r.expect("writer task");
        }
    }
    let all: Vec<i64> = all_events(&a).await.iter().map(|e| e.seq).collect();
    assert_eq!(all.len(), 320);
    let missed: Vec<&i64> = all.iter().filter(|s| !seen.contains(s)).collect();
    assert!(
        missed.is_empty(),
        "the cursor reader skipped seqs {missed:?}"
    );
    assert_eq!(seen, all, "the cursor reader saw every row, in order");
}

/// PostgreSQL refuses some data SQLite takes (a NUL character in TEXT). Such a delivery aborts
/// the transaction it shares with others; they must still be stored, and it alone fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bad_delivery_fails_alone() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Several bad ones among many, so some surely share a batch with good ones.
    let bad = |i: i64| i % 16 == 15;
    let mut tasks = JoinSet::new();
    for i in 0..64 {
        let store = db.store.clone();
        let cname = if bad(i) { "bad\0name" } else { "room" };
        let d = NewDelivery {
            cname: Some(cname.into()),
            ..recording(&format!("n{i}"), "s1", 1_000)
        };
        tasks.spawn(async move { (i, store.ingest(d).await) });
    }
    for (i, result) in tasks.join_all().await {
        if bad(i) {
            assert!(
                matches!(result, Err(StoreError::Other(_))),
                "the NUL is refused: {result:?}"
            );
        } else {
            assert!(
                result.is_ok(),
                "n{i} was stored despite its neighbours: {result:?}"
            );
        }
    }
    assert_eq!(all_events(&db.store).await.len(), 60);
    assert_eq!(session(&db.store, "s1").await.event_count, 60);
}

#[tokio::test]
async fn postgres_unreachable_at_start_fails_promptly() {
    let started = Instant::now();
    let result = store::open("postgres://postgres@127.0.0.1:1/ncsd").await;
    assert!(result.is_err(), "nothing listens on port 1");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

fn unavailable<T: std::fmt::Debug>(what: &str, r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "{what} while the database is away: {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_unavailable_then_recovers() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let (scheme, user, host, query) = url_parts(&db.url);
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    };
    let target = tokio::net::lookup_host(&host)
        .await
        .unwrap()
        .next()
        .expect("database address");
    let mut relay = Relay::start(target).await;
    let via_relay = format!("{scheme}{user}127.0.0.1:{}/{}{query}", relay.port, db.name);
    let store = store::open(&via_relay)
        .await
        .expect("open through the relay");
    let direct = store::open(&db.url).await.expect("open directly");
    put(&store, recording("before", "s1", 1_000)).await;

    relay.cut().await;
    let started = Instant::now();
    unavailable(
        "ingest",
        store.ingest(recording("during", "s1", 2_000)).await,
    );
    unavailable(
        "quarantine",
        store
            .quarantine(NewQuarantine {
                body: b"x".to_vec(),
                headers: "{}".into(),
                reason: "r".into(),
                received_at_ms: 1,
            })
            .await,
    );
    unavailable("health", store.health().await);
    unavailable("event", store.event("before").await);
    unavailable(
        "events",
        store
            .events(&EventQuery {
                limit: 10,
                ..Default::default()
            })
            .await,
    );
    unavailable("latest_seq", store.latest_seq().await);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "six failures took {:?}",
        started.elapsed()
    );

    let mut wake = store.subscribe();
    relay.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let after = loop {
        match store.ingest(recording("after", "s1", 3_000)).await {
            Ok(out) => break out,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not back yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the store did not recover: {e}"),
        }
    };
    assert!(!after.duplicate);
    store.health().await.expect("healthy again");
    assert_eq!(
        ids(&all_events(&store).await),
        ["before", "after"],
        "the failed ingest left nothing"
    );
    // The listener reconnected by itself: a commit by another instance wakes this one.
    let other = put(&direct, recording("elsewhere", "s1", 4_000)).await;
    assert!(
        wait_for_seq(&mut wake, other.seq).await,
        "the listener is back"
    );
}
