//! Building records by hand, as `ingest::to_delivery` would, and reading a store back in the
//! shapes the stories compare: shared by every story so each one reads as what it checks.

use std::time::Duration;

use ncsd::store::{
    DynStore, EventQuery, EventRecord, IngestOutcome, NewDelivery, SessionQuery, SessionRow,
};

pub fn delivery(notice_id: &str) -> NewDelivery {
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
        project: "default".into(),
    }
}

/// A Cloud Recording event of session `sid`, received at `at`.
pub fn recording(notice_id: &str, sid: &str, at: i64) -> NewDelivery {
    NewDelivery {
        sid: Some(sid.into()),
        received_at_ms: at,
        ..delivery(notice_id)
    }
}

pub async fn put(store: &DynStore, d: NewDelivery) -> IngestOutcome {
    store.ingest(d).await.expect("ingest")
}

pub async fn all_events(store: &DynStore) -> Vec<EventRecord> {
    store
        .events(&EventQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("events")
}

pub async fn all_sessions(store: &DynStore) -> Vec<SessionRow> {
    store
        .sessions(&SessionQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("sessions")
}

pub async fn session(store: &DynStore, sid: &str) -> SessionRow {
    all_sessions(store)
        .await
        .into_iter()
        .find(|s| s.sid == sid)
        .expect("a session row")
}

pub fn ids(events: &[EventRecord]) -> Vec<&str> {
    events.iter().map(|e| e.notice_id.as_str()).collect()
}

pub fn sids(rows: &[SessionRow]) -> Vec<&str> {
    rows.iter().map(|s| s.sid.as_str()).collect()
}

pub async fn find(store: &DynStore, q: EventQuery) -> Vec<String> {
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

pub fn exported_event(id: &str, seq: i64) -> EventRecord {
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
        project: "default".into(),
    }
}

/// True once the broadcast carries `seq` or a later one (within 10 s).
pub async fn wait_for_seq(wake: &mut tokio::sync::broadcast::Receiver<i64>, seq: i64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, wake.recv()).await {
            Ok(Ok(n)) if n >= seq => return true,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) | Err(_) => return false,
        }
    }
}
