//! The state keeper on each backend: what it keeps is the fold of every stored event, in any
//! arrival order, round after round, and a new keeper resumes from the kept progress.

use ncsd::states::format::format;
use ncsd::states::keeper::Keeper;
use ncsd::store::{DynStore, NewDelivery};
use serde_json::{json, Value};

/// A Cloud Recording event of `sid` as ingest would store it (content key and flags included).
fn event(id: &str, sid: &str, event_type: u32, sequence: i64, details: Value) -> NewDelivery {
    let raw = json!({"noticeId": id, "productId": 3, "eventType": event_type, "payload":
        {"sid": sid, "cname": "room", "uid": "1", "sequence": sequence,
         "sendts": 1_000 + sequence, "details": details}})
    .to_string()
    .into_bytes();
    let env = agora_ncs::Envelope::from_slice(&raw).expect("an envelope");
    ncsd::ingest::to_delivery(&env, raw, "{}".into(), 1_000 + sequence)
}

/// Asserts the kept state of `sid` is current, of this build, and the fold of every event.
async fn kept_is_the_fold(store: &DynStore, sid: &str) -> Value {
    let (row, kept) = store
        .session_with_kept(sid)
        .await
        .expect("read")
        .expect("the session");
    let kept = kept.unwrap_or_else(|| panic!("{sid}: no state kept at seq {}", row.last_seq));
    assert_eq!(kept.format, format());
    let (_, folding) = ncsd::states::fold_all(store, sid)
        .await
        .expect("fold")
        .expect("events");
    let kept: Value = serde_json::from_slice(&kept.json).expect("JSON");
    assert_eq!(
        kept,
        serde_json::to_value(folding.state()).unwrap(),
        "{sid}"
    );
    kept
}

pub async fn story_state_keeper(store: DynStore) {
    let put = |d: NewDelivery| {
        let store = store.clone();
        async move { store.ingest(d).await.expect("ingest") }
    };
    let mut keeper = Keeper::new(store.clone());
    put(event("k0", "sk", 40, 0, json!({"status": 0}))).await;
    put(event("k3", "sk", 41, 3, json!({"leaveCode": 0}))).await;
    put(event("j0", "sj", 40, 0, json!({"status": 0}))).await;
    assert!(!keeper.round().await.expect("round"));
    assert_eq!(
        kept_is_the_fold(&store, "sk").await["missing_sequences"],
        json!([1, 2])
    );
    kept_is_the_fold(&store, "sj").await;
    // Late and older: folded again. Newer, in order: carried forward. A redundant-path copy of
    // the newest event: counted once.
    put(event("k1", "sk", 30, 1, json!({"status": 0}))).await;
    keeper.round().await.expect("round");
    assert_eq!(
        kept_is_the_fold(&store, "sk").await["missing_sequences"],
        json!([2])
    );
    let audio = |state: i64| json!({"streamUid": "7", "state": state, "UtcMs": 2_000 + state});
    put(event("k4", "sk", 43, 4, audio(0))).await;
    put(event("k5", "sk", 43, 5, audio(1))).await;
    keeper.round().await.expect("round");
    assert_eq!(
        kept_is_the_fold(&store, "sk").await["event_count"],
        json!(5)
    );
    put(event("k5-copy", "sk", 43, 5, audio(1))).await;
    keeper.round().await.expect("round");
    assert_eq!(
        kept_is_the_fold(&store, "sk").await["event_count"],
        json!(5)
    );
    // The progress is kept with the states; a new keeper resumes there, with nothing to do.
    let progress = store
        .states_progress()
        .await
        .expect("progress")
        .expect("kept");
    assert_eq!(progress.cursor, store.latest_seq().await.expect("latest"));
    assert!(!Keeper::new(store.clone()).round().await.expect("round"));
    assert_eq!(store.states_progress().await.unwrap(), Some(progress));
}
