//! End-to-end ingest over a real socket: signatures, rotation, rejections, quarantine, limits,
//! duplicates, unknown events, HTTPS.

mod common;

use common::{cr_body, signed, start, SECRET};
use serde_json::json;

#[tokio::test]
async fn either_signature_header_is_accepted_and_v2_decides() {
    let srv = start(&[]).await;
    let body = cr_body("n-v2", "s1", 40, 0, json!({"status": 0}));
    let v2_only = vec![signed(SECRET, &body)[0].clone()];
    assert_eq!(srv.post_raw(&body, &v2_only).await.0, 200);

    let body = cr_body("n-v1", "s1", 30, 1, json!({"status": 0}));
    let v1_only = vec![signed(SECRET, &body)[1].clone()];
    assert_eq!(srv.post_raw(&body, &v1_only).await.0, 200);

    // A correct V1 does not rescue a wrong V2: V2 decides when present.
    let body = cr_body("n-bad", "s1", 42, 2, json!({}));
    let mixed = vec![
        ("Agora-Signature-V2", "00".repeat(32)),
        signed(SECRET, &body)[1].clone(),
    ];
    let (status, err) = srv.post_raw(&body, &mixed).await;
    assert_eq!(status, 401);
    assert!(err["error"]
        .as_str()
        .unwrap()
        .contains("Agora-Signature-V2"));
    assert_eq!(srv.get("/v1/events/n-bad").await.0, 404);
    srv.stop().await;
}

#[tokio::test]
async fn any_configured_secret_matches_during_rotation() {
    let srv = start(&["--secret", "old-secret", "--secret", "new-secret"]).await;
    for (i, secret) in ["old-secret", "new-secret"].iter().enumerate() {
        let body = cr_body(&format!("rot-{i}"), "s", 40, i as i64, json!({}));
        assert_eq!(
            srv.post_raw(&body, &signed(secret, &body)).await.0,
            200,
            "{secret}"
        );
    }
    let body = cr_body("rot-x", "s", 40, 9, json!({}));
    assert_eq!(srv.post_raw(&body, &signed("third", &body)).await.0, 401);
    srv.stop().await;
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_is_401_and_not_stored() {
    let srv = start(&[]).await;
    let body = cr_body("unsigned", "s", 40, 0, json!({}));
    let (status, err) = srv.post_raw(&body, &[]).await;
    assert_eq!(status, 401);
    assert!(err["error"].as_str().unwrap().contains("missing signature"));
    let (status, _) = srv.post_raw(&body, &signed("not-the-secret", &body)).await;
    assert_eq!(status, 401);
    let (_, list) = srv.get("/v1/events").await;
    assert_eq!(list["events"].as_array().unwrap().len(), 0);
    let (_, q) = srv.get("/v1/quarantine").await;
    assert_eq!(
        q["quarantine"].as_array().unwrap().len(),
        0,
        "unsigned junk is not kept"
    );
    srv.stop().await;
}

#[tokio::test]
async fn signed_but_unreadable_bodies_are_acknowledged_and_quarantined() {
    // 200, not 4xx: NCS would resend, and the Console's Check would fail (spec §4).
    let srv = start(&[]).await;
    let cases: [(&[u8], &str); 4] = [
        (b"{not json", "not valid JSON"),
        (b"[{\"noticeId\":\"a\"}]", "not an object"),
        (
            b"{\"productId\":3,\"eventType\":40,\"payload\":{}}",
            "noticeId",
        ),
        (
            b"{\"noticeId\":\"x\",\"productId\":3,\"eventType\":40,\"payload\":[]}",
            "payload",
        ),
    ];
    for (body, words) in cases {
        let (status, ack) = srv.post(body).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(body));
        assert_eq!(
            (&ack["ok"], &ack["quarantined"]),
            (&json!(true), &json!(true))
        );
        assert!(ack["reason"].as_str().unwrap().contains(words), "{ack}");
        assert!(ack["quarantine_id"].as_i64().is_some());
    }
    // A wrong signature on the same junk is still refused, and not kept.
    let (status, _) = srv
        .post_raw(
            b"{not json either",
            &signed("another-secret", b"{not json either"),
        )
        .await;
    assert_eq!(status, 401);
    let (_, q) = srv.get("/v1/quarantine").await;
    let items = q["quarantine"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["body"], "{not json");
    assert!(items[1]["reason"]
        .as_str()
        .unwrap()
        .contains("not an object"));
    srv.stop().await;
}

#[tokio::test]
async fn oversized_body_is_413_and_wrong_method_405() {
    let srv = start(&["--max-body", "1000"]).await;
    let big = cr_body("big", "s", 40, 0, json!({"pad": "x".repeat(2000)}));
    let (status, err) = srv.post(&big).await;
    assert_eq!(status, 413);
    assert!(err["error"].as_str().unwrap().contains("1000"));
    let res = srv
        .client
        .get(format!("{}/ncs", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let err: serde_json::Value = res.json().await.unwrap();
    assert!(err["error"].as_str().unwrap().contains("POST"));
    srv.stop().await;
}

#[tokio::test]
async fn duplicates_are_stored_once_and_counted() {
    let srv = start(&[]).await;
    let first = cr_body("dup-1", "s", 40, 0, json!({"status": 0}));
    // NCS resends with a new notifyMs: different bytes, same noticeId.
    let resend = String::from_utf8(first.clone())
        .unwrap()
        .replace("1700000000000", "1700000009999");
    let (s1, a1) = srv.post(&first).await;
    let (s2, a2) = srv.post(resend.as_bytes()).await;
    let (s3, _) = srv.post(resend.as_bytes()).await;
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(a1["duplicate"], false);
    assert_eq!(a2["duplicate"], true);
    let (status, ev) = srv.get("/v1/events/dup-1").await;
    assert_eq!(status, 200);
    assert_eq!(ev["deliveries"], 3);
    assert_eq!(
        ev["body"]["notifyMs"], 1_700_000_000_000i64,
        "the first body is the one kept"
    );
    let (_, list) = srv.get("/v1/events").await;
    assert_eq!(list["events"].as_array().unwrap().len(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn unknown_products_events_and_fields_are_stored_verbatim() {
    let srv = start(&[]).await;
    let bodies = [
        r#"{"noticeId":"u1","productId":99,"eventType":7,"notifyMs":1,"payload":{"z":1,"a":[1,2]}}"#,
        r#"{"noticeId":"u2","productId":3,"eventType":13,"notifyMs":1,"payload":{"sid":"s","sequence":3,"details":{"msgName":"ha_register"}}}"#,
        r#"{"noticeId":"u3","productId":3,"eventType":40,"notifyMs":1,"payload":{"sid":"s","sequence":0,"details":{"status":0,"brandNew":{"x":true}}},"extraTop":"kept"}"#,
    ];
    for b in bodies {
        assert_eq!(srv.post(b.as_bytes()).await.0, 200, "{b}");
    }
    let (_, ev) = srv.get("/v1/events/u3").await;
    assert_eq!(ev["body"]["payload"]["details"]["brandNew"]["x"], true);
    assert_eq!(ev["body"]["extraTop"], "kept");
    assert_eq!(ev["sid"], "s");
    assert_eq!(ev["sequence"], 0);
    assert_eq!(ev["product_id"], 3);
    assert_eq!(ev["event_type"], 40);
    let u1 = srv.get("/v1/events/u1").await.1;
    let keys: Vec<&String> = u1["body"]["payload"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a"], "key order as received");
    srv.stop().await;
}

#[tokio::test]
async fn legacy_envelope_is_accepted() {
    let srv = start(&[]).await;
    let body = br#"{"notificationId":"legacy-1","eventType":40,"eventMs":1,"notifyMs":2,"payload":{"sid":"old","sequence":"0","noticeLevel":2,"details":{"msgName":"recorder_started","status":0}}}"#;
    let (status, _) = srv.post(body).await;
    assert_eq!(status, 200);
    let (_, ev) = srv.get("/v1/events/legacy-1").await;
    assert_eq!(ev["product_id"], 3);
    assert_eq!(ev["sequence"], 0);
    srv.stop().await;
}

#[tokio::test]
async fn event_listing_pages_with_a_cursor_and_unknown_ids_404() {
    let srv = start(&[]).await;
    for i in 0..5 {
        srv.post(&cr_body(&format!("p{i}"), "s", 43, i, json!({"state": 0})))
            .await;
    }
    let (_, page1) = srv.get("/v1/events?limit=2").await;
    let ids: Vec<_> = page1["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["notice_id"].clone())
        .collect();
    assert_eq!(ids, [json!("p0"), json!("p1")]);
    let next = page1["next"].as_i64().unwrap();
    let (_, page2) = srv.get(&format!("/v1/events?limit=2&after={next}")).await;
    assert_eq!(page2["events"][0]["notice_id"], "p2");
    let (_, rest) = srv
        .get(&format!("/v1/events?after={}", page2["next"]))
        .await;
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    assert!(rest["next"].is_null());
    let (status, err) = srv.get("/v1/events/nope").await;
    assert_eq!(status, 404);
    assert!(err["error"].as_str().unwrap().contains("nope"));
    let (status, err) = srv.get("/v1/events?limit=0").await;
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("limit"));
    assert_eq!(srv.get("/healthz").await.0, 200);
    srv.stop().await;
}

#[tokio::test]
async fn https_with_a_generated_certificate() {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    let srv = start(&[
        "--tls-cert",
        c.to_str().unwrap(),
        "--tls-key",
        k.to_str().unwrap(),
    ])
    .await;
    assert!(srv.base.starts_with("https://"));
    let (status, ack) = srv.post(&cr_body("tls-1", "s", 40, 0, json!({}))).await;
    assert_eq!(status, 200);
    assert_eq!(ack["ok"], true);
    // Plain HTTP on the TLS port does not get through.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", srv.addr))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    srv.stop().await;
}

#[tokio::test]
async fn console_check_deliveries_are_stored_but_form_no_session() {
    let srv = start(&[]).await;
    let body = json!({"noticeId": "check-40", "productId": 3, "eventType": 40,
        "notifyMs": 1, "payload": {"cname": "test_webhook", "uid": "12121212",
        "sid": "check-sid", "sequence": 0, "sendts": 1, "details": {"status": 0}}});
    let (status, ack) = srv.post(body.to_string().as_bytes()).await;
    assert_eq!((status, &ack["ok"]), (200, &json!(true)));
    let (_, ev) = srv.get("/v1/events/check-40").await;
    assert_eq!(ev["health_check"], true);
    assert_eq!(ev["sid"], json!(null));
    assert_eq!(srv.get("/v1/sessions/check-sid").await.0, 404);
    let (_, list) = srv.get("/v1/sessions").await;
    assert!(list["sessions"].as_array().unwrap().is_empty());
    srv.post(&cr_body("real-1", "s", 40, 0, json!({}))).await;
    let (_, all) = srv.get("/v1/events").await;
    assert_eq!(all["events"][1]["notice_id"], "real-1");
    assert_eq!(all["events"][1]["health_check"], false);
    srv.stop().await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_noted_and_the_event_keeps_its_type() {
    let srv = start(&[]).await;
    let body = cr_body(
        "odd-11",
        "odd",
        11,
        0,
        json!({"exitStatus": {"not": "a number"}}),
    );
    assert_eq!(srv.post(&body).await.0, 200);
    let (_, ev) = srv.get("/v1/events/odd-11").await;
    assert_eq!(ev["event_name"], "session_exit");
    assert_eq!(ev["anomalies"], json!(["exitStatus"]));
    // Both spellings of a field: read, not rejected.
    let both = cr_body(
        "both-43",
        "odd",
        43,
        1,
        json!({"streamUid": "7", "state": 0, "UtcMs": 100, "utcMs": 100}),
    );
    assert_eq!(srv.post(&both).await.0, 200);
    let (_, state) = srv.get("/v1/sessions/odd").await;
    assert_eq!(state["streams"][0]["since_ms"], 100);
    assert_eq!(state["phase"], "recording");
    srv.stop().await;
}

/// The same answers on PostgreSQL: a signed body that cannot be read is acknowledged and kept
/// once, however often it is sent again.
#[tokio::test]
async fn unreadable_bodies_are_acknowledged_and_counted_on_postgres_too() {
    let Some(db) = common::pg::PgDatabase::create().await else {
        return;
    };
    let srv = start(&["--database", &db.url]).await;
    for _ in 0..3 {
        let (status, ack) = srv.post(b"{not json at all").await;
        assert_eq!((status, &ack["quarantined"]), (200, &json!(true)));
    }
    let (_, q) = srv.get("/v1/quarantine").await;
    let items = q["quarantine"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["deliveries"], 3);
    srv.stop().await;
}
