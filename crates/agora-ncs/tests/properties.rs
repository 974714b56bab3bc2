//! Properties: parsing never panics, and nothing is lost on a round trip.

use agora_ncs::{Envelope, RecordingEvent};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names the details types know, so generated details exercise the typed fields.
fn documented_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "msgName",
        "status",
        "fileList",
        "fileName",
        "filename",
        "trackType",
        "uid",
        "mixedAllUser",
        "isPlayable",
        "sliceStartTime",
        "leaveCode",
        "state",
        "streamUid",
        "UtcMs",
        "utcMs",
        "progress",
        "exitStatus",
        "leaveStatus",
        "module",
        "errorLevel",
        "errorCode",
        "errorMsg",
        "stat",
        "warnCode",
        "startUtcMs",
        "discontinueUtcMs",
        "code",
        "message",
        "details",
        "rtmpUrl",
        "reason",
        "result",
    ])
    .prop_map(str::to_string)
}

/// Top-level keys that do not collide with the envelope's own.
fn extra_key() -> impl Strategy<Value = String> {
    "[a-z][a-zA-Z0-9_]{0,10}".prop_filter("not an envelope field", |k| {
        ![
            "noticeId",
            "notificationId",
            "productId",
            "eventType",
            "notifyMs",
            "sid",
            "payload",
        ]
        .contains(&k.as_str())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn from_slice_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::from_slice(&bytes);
    }

    #[test]
    fn from_slice_never_panics_on_json(v in json_value()) {
        let _ = Envelope::from_slice(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn round_trip_keeps_every_field(
        extra in prop::collection::btree_map(extra_key(), json_value(), 0..6),
        payload_extra in prop::collection::btree_map("[a-zA-Z]{1,10}", json_value(), 0..6),
        details in json_value(),
        event_type in prop_oneof![Just(31u32), Just(43), Just(13), 0u32..2000],
        legacy in any::<bool>(),
        sid in prop::option::of("[a-f0-9]{1,32}"),
    ) {
        let mut m = Map::new();
        m.insert(if legacy { "notificationId" } else { "noticeId" }.into(), json!("n-1"));
        if !legacy {
            m.insert("productId".into(), json!(3));
        }
        m.insert("eventType".into(), json!(event_type));
        m.insert("notifyMs".into(), json!(1_700_000_000_000i64));
        if let Some(sid) = sid {
            m.insert("sid".into(), json!(sid));
        }
        let mut payload: Map<String, Value> = payload_extra.into_iter().collect();
        payload.insert("details".into(), details);
        m.insert("payload".into(), Value::Object(payload));
        m.extend(extra);
        let original = Value::Object(m);

        let env = Envelope::from_slice(&serde_json::to_vec(&original).unwrap()).unwrap();
        prop_assert_eq!(env.legacy, legacy);
        prop_assert_eq!(env.to_value(), original.clone());
        // Classifying must not fail either, whatever the payload holds.
        let _ = env.notice();
        // And a second pass is stable.
        prop_assert_eq!(Envelope::from_value(env.to_value()).unwrap(), env);
    }

    #[test]
    fn details_parse_never_panics_and_unknown_stays_raw(t in 0u32..1100, details in json_value()) {
        let e = RecordingEvent::parse(t, &details);
        prop_assert_eq!(e.event_type(), t);
        if let RecordingEvent::Unknown { details: raw, .. } = &e {
            prop_assert_eq!(raw, &details);
        }
    }

    #[test]
    fn parse_str_types_details_as_parse_does(
        t in prop_oneof![Just(1u32), Just(4), Just(11), Just(31), Just(33), Just(41), Just(42), Just(43), Just(71), Just(100), Just(1001), 0u32..1100],
        fields in prop::collection::vec((documented_key(), json_value()), 0..6),
        raw in json_value(),
        object in any::<bool>(),
    ) {
        // Documented names with values of any type (so some fit and some do not), or any JSON.
        let details = if object {
            Value::Object(fields.into_iter().collect())
        } else {
            raw
        };
        let text = serde_json::to_string(&details).unwrap();
        prop_assert_eq!(RecordingEvent::parse_str(t, &text), RecordingEvent::parse(t, &details));
    }

    #[test]
    fn unknown_detail_fields_survive(extra in prop::collection::btree_map("[a-z]{1,8}Z", json_value(), 0..5)) {
        // Suffix `Z` keeps the random keys clear of every documented name.
        let mut details = json!({"msgName": "recorder_leave", "leaveCode": 6});
        details.as_object_mut().unwrap().extend(extra);
        let e = RecordingEvent::parse(41, &details);
        prop_assert_eq!(e.name(), "recorder_leave");
        prop_assert_eq!(e.to_details(), details);
    }
}
