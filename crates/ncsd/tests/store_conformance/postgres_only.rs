//! PostgreSQL only: several instances on one database, and outages. SQLite has one writer in one
//! process, so these questions do not arise there.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ncsd::store::{
    self, DynStore, EventQuery, IngestOutcome, NewDelivery, NewQuarantine, StoreError,
};
use tokio::task::JoinSet;

use crate::common::pg::{url_parts, PgDatabase, Relay};
use crate::records::{all_events, ids, put, recording, session, wait_for_seq};
use crate::TestDb;

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
