//! Envelope parsing (spec §2): fixtures, the error table, legacy form,
//! lossless round trip, session id, and classification into `Notice`.

mod common;

use agora_ncs::{Envelope, EnvelopeError, Notice, RecordingEvent};
use common::fixture;
use serde_json::{json, Value};

fn parse(v: Value) -> Result<Envelope, EnvelopeError> {
    Envelope::from_slice(&serde_json::to_vec(&v).unwrap())
}

fn cr(event_type: u32, details: Value) -> Value {
    json!({
        "noticeId": "n-1", "productId": 3, "eventType": event_type, "notifyMs": 1,
        "payload": {"cname": "c", "uid": "1", "sid": "s-1", "sequence": 0, "sendts": 2, "details": details}
    })
}

#[test]
fn envelope_fixtures_parse_as_what_they_are() {
    let a = Envelope::from_slice(&fixture("04-sigvector-A-legacy-eventMs.json")).unwrap();
    assert_eq!(
        (a.product_id, a.event_type, a.notify_ms),
        (1, 10, Some(1560408533119))
    );
    assert_eq!(a.notice_id, "4eb720f0-8da7-11e9-a43e-53f411c2761f");
    // eventMs alone does not make it legacy: the id key is `noticeId`.
    assert!(!a.legacy);
    assert_eq!(a.extra.get("eventMs"), Some(&json!(1560408533119i64)));
    assert_eq!(
        a.payload,
        json!({"a": "1", "b": 2}).as_object().unwrap().clone()
    );

    let b = Envelope::from_slice(&fixture("05-sigvector-B.json")).unwrap();
    assert!(b.extra.is_empty());
    assert_eq!(
        b.notice(),
        Notice::Other {
            product_id: 1,
            event_type: 10
        }
    );

    let rtc = Envelope::from_slice(&fixture("06-rtc-envelope-example-with-sid.json")).unwrap();
    assert_eq!(rtc.sid.as_deref(), Some("C866467GVJJ54687"));
    assert_eq!(rtc.notice_id, "2000001428:4330:107");
    assert_eq!(rtc.session_id(), Some("C866467GVJJ54687"));
    assert_eq!(
        rtc.notice(),
        Notice::Other {
            product_id: 1,
            event_type: 101
        }
    );

    let stt = Envelope::from_slice(&fixture("18-stt-envelope-productId20.json")).unwrap();
    assert_eq!((stt.product_id, stt.sid.as_deref()), (20, Some("agent_id")));
    assert_eq!(
        stt.notice(),
        Notice::Other {
            product_id: 20,
            event_type: 101
        }
    );

    let gw = Envelope::from_slice(&fixture("25-media-gateway-doc-example.json")).unwrap();
    assert_eq!((gw.product_id, gw.event_type), (12345, 1));
    assert_eq!(gw.payload["clientSeq"], json!(67890));
    assert_eq!(
        gw.notice(),
        Notice::Other {
            product_id: 12345,
            event_type: 1
        }
    );
}

#[test]
fn spec_vector_c_is_a_cloud_recording_recorder_started() {
    let body = br#"{"noticeId":"31aeb35a9245cbd977cfe18b438b75ed","notifyMs":1596555306283,"eventType":40,"sid":"d12fdce9024d37862a8f3a88e387c817","payload":{"serviceType":1,"uid":"1001","sequence":1,"sendts":1596555306257,"cname":"Testing2","details":{"status":0,"msgName":"recorder_started"},"sid":"d12fdce9024d37862a8f3a88e387c817"},"productId":3}"#;
    let env = Envelope::from_slice(body).unwrap();
    assert_eq!(env.session_id(), Some("d12fdce9024d37862a8f3a88e387c817"));
    let Notice::CloudRecording(n) = env.notice() else {
        panic!("not CR: {:?}", env.notice())
    };
    assert_eq!(n.payload.cname.as_deref(), Some("Testing2"));
    assert_eq!(n.payload.uid.as_deref(), Some("1001"));
    assert_eq!(
        (n.payload.sequence, n.payload.sendts, n.payload.service_type),
        (Some(1), Some(1596555306257), Some(1))
    );
    let RecordingEvent::RecorderStarted(d) = &n.event else {
        panic!("{:?}", n.event)
    };
    assert_eq!(
        (d.status, d.msg_name.as_deref()),
        (Some(0), Some("recorder_started"))
    );
    assert_eq!(n.event.name(), "recorder_started");
    // Round trip: same JSON value as the body (key order aside).
    assert_eq!(
        env.to_value(),
        serde_json::from_slice::<Value>(body).unwrap()
    );
}

/// The error a body should produce, by variant (and field where there is one).
#[derive(Debug)]
enum Want {
    NotJson,
    NotObject(&'static str),
    Missing(&'static str),
    Wrong(&'static str),
}

impl Want {
    fn matches(&self, e: &EnvelopeError) -> bool {
        match (self, e) {
            (Want::NotJson, EnvelopeError::NotJson(_)) => true,
            (Want::NotObject(k), EnvelopeError::NotObject(got)) => k == got,
            (Want::Missing(f), EnvelopeError::Missing(got)) => f == got,
            (Want::Wrong(f), EnvelopeError::WrongType { field, .. }) => f == field,
            _ => false,
        }
    }
}

#[test]
fn error_table() {
    use Want::*;
    let deep = [vec![b'['; 10_000], vec![b']'; 10_000]].concat();
    let cases: &[(&str, &[u8], Want)] = &[
        ("empty", b"", NotJson),
        ("whitespace", b"  \n", NotJson),
        ("not json", b"noticeId=1", NotJson),
        ("truncated", br#"{"noticeId":"a""#, NotJson),
        ("bom", b"\xEF\xBB\xBF{}", NotJson),
        ("invalid utf-8", b"{\"noticeId\":\"\xff\"}", NotJson),
        // Past serde_json's recursion limit: an error, not a stack overflow.
        ("deep nesting", &deep, NotJson),
        ("array", b"[{}]", NotObject("an array")),
        ("string", b"\"x\"", NotObject("a string")),
        ("null", b"null", NotObject("null")),
        ("number", b"3", NotObject("a number")),
        (
            "no noticeId",
            br#"{"productId":3,"eventType":1,"payload":{}}"#,
            Missing("noticeId"),
        ),
        (
            "empty noticeId",
            br#"{"noticeId":"","productId":3,"eventType":1,"payload":{}}"#,
            Wrong("noticeId"),
        ),
        (
            "numeric noticeId",
            br#"{"noticeId":7,"productId":3,"eventType":1,"payload":{}}"#,
            Wrong("noticeId"),
        ),
        (
            "no productId",
            br#"{"noticeId":"n","eventType":1,"payload":{}}"#,
            Missing("productId"),
        ),
        (
            "productId abc",
            br#"{"noticeId":"n","productId":"abc","eventType":1,"payload":{}}"#,
            Wrong("productId"),
        ),
        (
            "productId true",
            br#"{"noticeId":"n","productId":true,"eventType":1,"payload":{}}"#,
            Wrong("productId"),
        ),
        (
            "productId 1.5",
            br#"{"noticeId":"n","productId":1.5,"eventType":1,"payload":{}}"#,
            Wrong("productId"),
        ),
        (
            "productId -3",
            br#"{"noticeId":"n","productId":-3,"eventType":1,"payload":{}}"#,
            Wrong("productId"),
        ),
        (
            "productId \"-3\"",
            br#"{"noticeId":"n","productId":"-3","eventType":1,"payload":{}}"#,
            Wrong("productId"),
        ),
        (
            "productId 2^32",
            br#"{"noticeId":"n","productId":4294967296,"eventType":1,"payload":{}}"#,
            Wrong("productId"),
        ),
        (
            "no eventType",
            br#"{"noticeId":"n","productId":3,"payload":{}}"#,
            Missing("eventType"),
        ),
        (
            "eventType null",
            br#"{"noticeId":"n","productId":3,"eventType":null,"payload":{}}"#,
            Wrong("eventType"),
        ),
        (
            "no payload",
            br#"{"noticeId":"n","productId":3,"eventType":1}"#,
            Missing("payload"),
        ),
        (
            "payload array",
            br#"{"noticeId":"n","productId":3,"eventType":1,"payload":[]}"#,
            Wrong("payload"),
        ),
        (
            "payload string",
            br#"{"noticeId":"n","productId":3,"eventType":1,"payload":"{}"}"#,
            Wrong("payload"),
        ),
        (
            "notifyMs object",
            br#"{"noticeId":"n","productId":3,"eventType":1,"payload":{},"notifyMs":{}}"#,
            Wrong("notifyMs"),
        ),
        (
            "notifyMs text",
            br#"{"noticeId":"n","productId":3,"eventType":1,"payload":{},"notifyMs":"soon"}"#,
            Wrong("notifyMs"),
        ),
        (
            "sid number",
            br#"{"noticeId":"n","productId":3,"eventType":1,"payload":{},"sid":5}"#,
            Wrong("sid"),
        ),
    ];
    for (name, body, want) in cases {
        let err = Envelope::from_slice(body).expect_err(name);
        assert!(want.matches(&err), "{name}: want {want:?}, got {err:?}");
    }
}

#[test]
fn error_messages_say_what_was_found() {
    let err = parse(json!({"noticeId": "n", "productId": "abc", "eventType": 1, "payload": {}}))
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("field `productId` must be"), "{msg}");
    assert!(msg.ends_with("found the string \"abc\""), "{msg}");
    assert_eq!(
        Envelope::from_slice(b"[]").unwrap_err().to_string(),
        "body is JSON but not an object (found an array); NCS sends one JSON object per request"
    );
    assert_eq!(
        parse(json!({"noticeId": "n", "eventType": 1, "payload": {}}))
            .unwrap_err()
            .to_string(),
        "missing required field `productId`"
    );
}

#[test]
fn numbers_as_strings_are_accepted() {
    let e = parse(json!({"noticeId": "n", "productId": "3", "eventType": "031", "notifyMs": "1700000000000", "payload": {}})).unwrap();
    assert_eq!(
        (e.product_id, e.event_type, e.notify_ms),
        (3, 31, Some(1700000000000))
    );
    let max =
        parse(json!({"noticeId": "n", "productId": 4294967295u32, "eventType": 0, "payload": {}}))
            .unwrap();
    assert_eq!(max.product_id, u32::MAX);
}

#[test]
fn null_optional_fields_are_absent_but_kept() {
    let v = json!({"noticeId": "n", "productId": 3, "eventType": 1, "payload": {}, "notifyMs": null, "sid": null});
    let e = parse(v.clone()).unwrap();
    assert_eq!((e.notify_ms, e.sid.as_deref()), (None, None));
    assert_eq!(e.to_value(), v);
}

#[test]
fn legacy_envelope_is_recognised_and_round_trips() {
    let v = json!({
        "notificationId": "4eb720f0-8da7-11e9-a43e-53f411c2761f",
        "eventType": 40, "eventMs": 1560408533119i64, "notifyMs": 1560408533119i64,
        "payload": {"cname": "c", "uid": "7", "sid": "legacy-sid", "sequence": "3", "sendts": 1560408533000i64,
                    "serviceType": 0, "noticeLevel": 2, "details": {"msgName": "recorder_started", "status": 0}}
    });
    let e = parse(v.clone()).unwrap();
    assert!(e.legacy);
    assert_eq!(
        (e.notice_id.as_str(), e.product_id, e.event_type),
        ("4eb720f0-8da7-11e9-a43e-53f411c2761f", 3, 40)
    );
    assert_eq!(e.extra.get("eventMs"), Some(&json!(1560408533119i64)));
    let Notice::CloudRecording(n) = e.notice() else {
        panic!("{:?}", e.notice())
    };
    assert_eq!(
        n.payload.sequence,
        Some(3),
        "string sequence of the legacy form"
    );
    assert_eq!(n.payload.extra.get("noticeLevel"), Some(&json!(2)));
    assert!(matches!(n.event, RecordingEvent::RecorderStarted(_)));
    assert_eq!(e.to_value(), v, "legacy names kept, no productId invented");

    // noticeId wins over notificationId; the other id is kept, not lost.
    let both = json!({"noticeId": "a", "notificationId": "b", "productId": 3, "eventType": 1, "payload": {}});
    let e = parse(both.clone()).unwrap();
    assert_eq!((e.notice_id.as_str(), e.legacy), ("a", false));
    assert_eq!(e.to_value(), both);
}

#[test]
fn duplicate_keys_do_not_panic() {
    let e = Envelope::from_slice(
        br#"{"noticeId":"a","noticeId":"b","productId":3,"eventType":1,"payload":{}}"#,
    )
    .unwrap();
    assert_eq!(e.notice_id, "b");
}

#[test]
fn session_id_prefers_payload_sid() {
    let mut v = cr(40, json!({}));
    v["sid"] = json!("top");
    assert_eq!(parse(v.clone()).unwrap().session_id(), Some("s-1"));
    v["payload"]["sid"] = json!("");
    assert_eq!(parse(v.clone()).unwrap().session_id(), Some("top"));
    v["payload"]["sid"] = json!(12);
    assert_eq!(parse(v.clone()).unwrap().session_id(), Some("top"));
    v.as_object_mut().unwrap().remove("sid");
    assert_eq!(parse(v).unwrap().session_id(), None);
}

#[test]
fn classification() {
    // Cloud Recording with an undocumented event: typed payload, raw details.
    let n = parse(cr(13, json!({"msgName": "ha_register"})))
        .unwrap()
        .notice();
    let Notice::CloudRecording(n) = n else {
        panic!("{n:?}")
    };
    assert_eq!(
        n.event,
        RecordingEvent::Unknown {
            event_type: 13,
            details: json!({"msgName": "ha_register"})
        }
    );

    // A payload whose documented field has an impossible type is not CR.
    let mut bad = cr(40, json!({}));
    bad["payload"]["cname"] = json!({"x": 1});
    assert_eq!(
        parse(bad).unwrap().notice(),
        Notice::Other {
            product_id: 3,
            event_type: 40
        }
    );

    // Transcoder payloads on product 3, or on any product with their scene.
    let ct = json!({"taskId": "t", "sequence": 1, "serviceScene": "rtsc/cloud-transcoder", "details": {"event": "cloud_transcoder_status", "state": "running"}});
    for (product, event) in [(3, 112), (9, 111), (3, 114)] {
        let e = parse(
            json!({"noticeId": "n", "productId": product, "eventType": event, "payload": ct}),
        )
        .unwrap();
        let Notice::CloudTranscoder(p) = e.notice() else {
            panic!("{product}/{event}: {:?}", e.notice())
        };
        assert_eq!(p.task_id.as_deref(), Some("t"));
        assert_eq!(p.details.state.as_deref(), Some("running"));
    }
    // RTC also has 111/112: without the transcoder scene they stay Other.
    let rtc = parse(json!({"noticeId": "n", "productId": 1, "eventType": 111, "payload": {"channelName": "c", "uid": 1}})).unwrap();
    assert_eq!(
        rtc.notice(),
        Notice::Other {
            product_id: 1,
            event_type: 111
        }
    );
}

#[test]
fn health_check_events_are_recognised() {
    let mut v = cr(40, json!({"msgName": "recorder_started", "status": 0}));
    assert!(!parse(v.clone()).unwrap().is_health_check());
    v["payload"]["cname"] = json!("test_webhook");
    assert!(parse(v).unwrap().is_health_check());
    let rtc = json!({"noticeId": "n", "productId": 1, "eventType": 101, "payload": common::fixture_json("19-rtc-101-channel_create-payload.json")});
    assert!(parse(rtc).unwrap().is_health_check());
}
