//! The hostile requests: each a name, the raw bytes to send, and the documented status.

use std::time::Duration;

use serde_json::json;

mod transport;

use crate::common::raw::request;
use crate::common::{signed, SECRET};

pub struct Case {
    pub name: String,
    pub parts: Vec<Vec<u8>>,
    pub pause: Duration,
    pub status: u16,
}

fn hdrs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn signed_headers(body: &[u8]) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = signed(SECRET, body)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    h.push(("Content-Type".into(), "application/json".into()));
    h
}

fn case(name: impl Into<String>, status: u16, parts: Vec<Vec<u8>>) -> Case {
    Case {
        name: name.into(),
        parts,
        pause: Duration::ZERO,
        status,
    }
}

fn signed_post(name: impl Into<String>, status: u16, body: &[u8]) -> Case {
    case(
        name,
        status,
        vec![request("POST", "/ncs", &signed_headers(body), body)],
    )
}

pub const VALID: &str = r#"{"noticeId":"ok-1","productId":3,"eventType":40,"notifyMs":1,"payload":{"sid":"s","uid":"1","cname":"c","sequence":0,"sendts":1,"details":{"msgName":"recorder_started","status":0}}}"#;

fn with_field(field: &str, value: serde_json::Value, id: usize) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
    v["noticeId"] = json!(format!("wt-{id}"));
    if value.is_null() && field == "-" {
        return v.to_string().into_bytes();
    }
    v[field] = value;
    v.to_string().into_bytes()
}

pub fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    // Malformed JSON: signed, so 400 and quarantined.
    for cut in [1, 10, 30, 60, 100, VALID.len() - 1] {
        c.push(signed_post(
            format!("truncated at {cut}"),
            400,
            &VALID.as_bytes()[..cut],
        ));
    }
    for (name, body) in [
        ("lone brace", "{"),
        ("closing brace", "}"),
        ("missing value", r#"{"a":}"#),
        ("trailing comma", r#"{"noticeId":"x","productId":3,}"#),
        ("single quotes", "{'noticeId':'x'}"),
        ("NaN", r#"{"noticeId":"x","productId":NaN}"#),
        ("unquoted key", "{noticeId:\"x\"}"),
        ("comment", "{/*c*/\"noticeId\":\"x\"}"),
        ("two objects", "{}{}"),
        ("garbage", "hello world"),
        ("xml", "<notice id='x'/>"),
        ("form data", "noticeId=x&productId=3"),
        ("only whitespace", "   \n\t "),
        ("unterminated string", r#"{"noticeId":"x"#),
        ("bad escape", r#"{"noticeId":"\q"}"#),
        ("control char in string", "{\"noticeId\":\"a\u{1}b\"}"),
        ("leading zeros", r#"{"productId":03}"#),
        ("plus number", r#"{"productId":+3}"#),
        ("infinity", r#"{"productId":Infinity}"#),
        ("null byte", "{\"a\":1}\u{0}"),
    ] {
        c.push(signed_post(
            format!("malformed: {name}"),
            400,
            body.as_bytes(),
        ));
    }
    // Encoding.
    c.push(signed_post("empty body", 400, b""));
    c.push(signed_post(
        "invalid UTF-8 in string",
        400,
        b"{\"noticeId\":\"\xff\xfe\",\"productId\":3,\"eventType\":1,\"payload\":{}}",
    ));
    c.push(signed_post(
        "invalid UTF-8 bytes only",
        400,
        b"\xc3\x28\xa0\xa1",
    ));
    c.push(signed_post(
        "overlong UTF-8",
        400,
        b"{\"noticeId\":\"\xc0\xaf\"}",
    ));
    c.push(signed_post(
        "UTF-16 body",
        400,
        &[0xff, 0xfe, b'{', 0, b'}', 0],
    ));
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend_from_slice(VALID.as_bytes());
    c.push(signed_post("UTF-8 BOM before JSON", 400, &bom));
    // Nesting and size of values.
    c.push(signed_post(
        "deep array nesting",
        400,
        "[".repeat(100_000).as_bytes(),
    ));
    c.push(signed_post(
        "deep object nesting",
        400,
        "{\"a\":".repeat(50_000).as_bytes(),
    ));
    let deep_payload = format!(
        r#"{{"noticeId":"deep","productId":3,"eventType":40,"payload":{{"details":{}}}}}"#,
        "[".repeat(200) + &"]".repeat(200)
    );
    c.push(signed_post(
        "nesting past the limit inside payload",
        400,
        deep_payload.as_bytes(),
    ));
    let ok_nesting = format!(
        r#"{{"noticeId":"deep-ok","productId":3,"eventType":40,"payload":{{"details":{}}}}}"#,
        "[".repeat(50) + &"]".repeat(50)
    );
    c.push(signed_post(
        "moderate nesting inside payload is stored",
        200,
        ok_nesting.as_bytes(),
    ));
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };
    c.push(signed_post(
        "huge productId",
        422,
        &with_field(
            "productId",
            serde_json::from_str("1e400").unwrap_or(json!(1e300)),
            next(),
        ),
    ));
    // Beyond what the JSON reader represents at all: not readable JSON, so 400.
    c.push(signed_post(
        "huge eventType literal",
        400,
        format!(
            r#"{{"noticeId":"h","productId":3,"eventType":{},"payload":{{}}}}"#,
            "9".repeat(400)
        )
        .as_bytes(),
    ));
    c.push(signed_post("huge sequence inside payload is stored", 200, format!(r#"{{"noticeId":"hs","productId":3,"eventType":40,"payload":{{"sid":"x","sequence":{}}}}}"#, "9".repeat(40)).as_bytes()));
    c.push(signed_post(
        "huge notifyMs",
        422,
        &with_field("notifyMs", json!(1e300), next()),
    ));
    // Wrong types in every envelope field.
    for (field, values) in [
        (
            "noticeId",
            vec![
                json!(1),
                json!(true),
                json!([]),
                json!({}),
                json!(null),
                json!(""),
            ],
        ),
        (
            "productId",
            vec![
                json!("abc"),
                json!(true),
                json!([3]),
                json!({}),
                json!(null),
                json!(1.5),
                json!(-3),
                json!(4_294_967_296u64),
            ],
        ),
        (
            "eventType",
            vec![
                json!("abc"),
                json!(false),
                json!([40]),
                json!({"a": 1}),
                json!(null),
                json!(40.5),
                json!(-1),
            ],
        ),
        (
            "payload",
            vec![json!("x"), json!(1), json!([]), json!(null), json!(true)],
        ),
        (
            "notifyMs",
            vec![json!("soon"), json!([]), json!({}), json!(true)],
        ),
        ("sid", vec![json!(1), json!([]), json!({})]),
    ] {
        for v in values {
            c.push(signed_post(
                format!("{field} = {v}"),
                422,
                &with_field(field, v, next()),
            ));
        }
    }
    // Lenient where Agora itself is inconsistent: stored.
    c.push(signed_post(
        "productId as numeric string",
        200,
        &with_field("productId", json!("3"), next()),
    ));
    c.push(signed_post(
        "eventType as numeric string",
        200,
        &with_field("eventType", json!("40"), next()),
    ));
    c.push(signed_post(
        "notifyMs as numeric string",
        200,
        &with_field("notifyMs", json!("1700000000000"), next()),
    ));
    for (name, payload) in [
        ("cname object", json!({"cname": {"a": 1}, "sid": "s"})),
        ("sequence word", json!({"sid": "s", "sequence": "first"})),
        ("details array", json!({"sid": "s", "details": [1, 2]})),
        ("details string", json!({"sid": "s", "details": "x"})),
        (
            "uid number",
            json!({"sid": "s", "uid": 12121212, "cname": "test_webhook"}),
        ),
        ("sid number in payload", json!({"sid": 5})),
        ("empty payload", json!({})),
    ] {
        c.push(signed_post(
            format!("payload {name} is stored"),
            200,
            &with_field("payload", payload, next()),
        ));
    }
    // Arrays and other top-level shapes.
    for (name, body) in [
        ("empty array", "[]"),
        ("array of envelope", &format!("[{VALID}]")),
        ("number", "42"),
        ("string", "\"x\""),
        ("null", "null"),
        ("true", "true"),
        ("empty object", "{}"),
    ] {
        c.push(signed_post(
            format!("top-level {name}"),
            422,
            body.as_bytes(),
        ));
    }
    c.push(signed_post(
        "NUL in noticeId",
        422,
        br#"{"noticeId":"a\u0000b","productId":3,"eventType":40,"payload":{}}"#,
    ));
    c.push(signed_post("NUL in sid is stored", 200, br#"{"noticeId":"nul-sid","productId":3,"eventType":40,"payload":{"sid":"s\u0000x","cname":"c\u0000","uid":"\u0000"}}"#));
    // Duplicate keys and enormous strings.
    c.push(signed_post(
        "duplicate keys",
        200,
        br#"{"noticeId":"dk-1","noticeId":"dk-2","productId":3,"eventType":40,"payload":{}}"#,
    ));
    c.push(signed_post(
        "enormous string in payload",
        200,
        &with_field(
            "payload",
            json!({"sid": "s", "pad": "x".repeat(900_000)}),
            next(),
        ),
    ));
    c.push(signed_post(
        "many fields",
        200,
        &with_field(
            "payload",
            serde_json::Value::Object((0..5000).map(|i| (format!("k{i}"), json!(i))).collect()),
            next(),
        ),
    ));
    transport::push(&mut c, &mut next);
    c
}
