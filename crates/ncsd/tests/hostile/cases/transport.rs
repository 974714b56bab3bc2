//! The hostile requests about the transport rather than the body: content types, size limits,
//! a stalled body, signatures, methods and paths, HTTP versions.

use std::time::Duration;

use serde_json::json;

use super::{case, hdrs, signed_headers, signed_post, with_field, Case};
use crate::common::raw::request;
use crate::common::{signed, SECRET};

/// Appends them to `c`; `next` numbers the noticeIds, continuing the body cases' count.
pub(super) fn push(c: &mut Vec<Case>, next: &mut impl FnMut() -> usize) {
    // Content types (the signature is what counts).
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/json; charset=latin1",
    ] {
        let body = with_field("-", json!(null), next());
        let mut h: Vec<(String, String)> = signed(SECRET, &body)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        if !ct.is_empty() {
            h.push(("Content-Type".into(), ct.into()));
        }
        c.push(case(
            format!("content-type {ct:?}"),
            200,
            vec![request("POST", "/ncs", &h, &body)],
        ));
    }
    // Limits.
    let big = with_field("payload", json!({"pad": "x".repeat(1_100_000)}), next());
    c.push(signed_post("body over the limit", 413, &big));
    let mut chunked = format!("POST /ncs HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n{}: {}\r\n\r\n", "Agora-Signature-V2", "00".repeat(32)).into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n{}\r\n", 65536, "y".repeat(65536)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    c.push(case("chunked body over the limit", 413, vec![chunked]));
    c.push(case("declared length over the limit", 413, vec![b"POST /ncs HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 50000000\r\n\r\n{".to_vec()]));
    let body = with_field("-", json!(null), next());
    let mut h = signed_headers(&body);
    // Over the 16 KiB limit, inside the read buffer's slack: the JSON 431. (Far over it the
    // connection's buffer is full first and hyper answers a bare 431; see tests/security/.)
    h.push(("X-Padding".into(), "p".repeat(24_000)));
    c.push(case(
        "headers over the limit",
        431,
        vec![request("POST", "/ncs", &h, &body)],
    ));
    let mut h = signed_headers(&body);
    for i in 0..90 {
        h.push((format!("X-Many-{i}"), "v".repeat(300)));
    }
    c.push(case(
        "many headers over the limit",
        431,
        vec![request("POST", "/ncs", &h, &body)],
    ));
    // A body that stalls: the whole-request deadline answers it.
    let mut stalled = case("stalled body", 408, vec![b"POST /ncs HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{\"noticeId\"".to_vec()]);
    stalled.pause = Duration::from_millis(10);
    c.push(stalled);
    // Signatures.
    let body = with_field("-", json!(null), next());
    for (name, h, status) in [
        ("no signature", vec![], 401),
        ("empty V2", vec![("Agora-Signature-V2", "")], 401),
        ("non-hex V2", vec![("Agora-Signature-V2", "zz")], 401),
        (
            "V1 digest in V2",
            vec![(
                "Agora-Signature-V2",
                "033c62f40f687675f17f0f41f91a40c71c0f134c",
            )],
            401,
        ),
        (
            "wrong V1 only",
            vec![(
                "Agora-Signature",
                "033c62f40f687675f17f0f41f91a40c71c0f134c",
            )],
            401,
        ),
        (
            "sha256= prefix",
            vec![("Agora-Signature-V2", "sha256=00")],
            401,
        ),
        (
            "base64 signature",
            vec![("Agora-Signature-V2", "3pbaWs8DsAIaw7T6IiIbPqNvM6M=")],
            401,
        ),
    ] {
        c.push(case(
            format!("signature: {name}"),
            status,
            vec![request("POST", "/ncs", &hdrs(&h), &body)],
        ));
    }
    let upper: Vec<(String, String)> = signed(SECRET, &body)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_uppercase()))
        .collect();
    c.push(case(
        "signature: uppercase hex",
        200,
        vec![request("POST", "/ncs", &upper, &body)],
    ));
    c.push(case(
        "unsigned malformed JSON",
        401,
        vec![request("POST", "/ncs", &[], b"{oops")],
    ));
    c.push(case(
        "unsigned array",
        401,
        vec![request("POST", "/ncs", &[], b"[]")],
    ));
    c.push(case(
        "unsigned over the limit",
        413,
        vec![request("POST", "/ncs", &[], &big)],
    ));
    // Methods and paths.
    for m in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        c.push(case(
            format!("method {m} on ingest"),
            405,
            vec![request(m, "/ncs", &[], b"")],
        ));
    }
    // (`/` is the dashboard.)
    for p in [
        "/nothing",
        "/NCS",
        "/ncs/extra",
        "/v1",
        "/v1/nothing",
        "/../etc/passwd",
        "/v1/events/%ff%fe",
    ] {
        let want = if p == "/v1/events/%ff%fe" { 400 } else { 404 };
        c.push(case(
            format!("path {p}"),
            want,
            vec![request("GET", p, &[], b"")],
        ));
    }
    let body = with_field("-", json!(null), next());
    c.push(case(
        "query string on ingest",
        200,
        vec![request(
            "POST",
            "/ncs?from=ncs",
            &signed_headers(&body),
            &body,
        )],
    ));
    let body = with_field("-", json!(null), next());
    let mut http10 = format!("POST /ncs HTTP/1.0\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in signed_headers(&body) {
        http10.push_str(&format!("{k}: {v}\r\n"));
    }
    let mut http10 = http10.into_bytes();
    http10.extend_from_slice(b"\r\n");
    http10.extend_from_slice(&body);
    c.push(case("HTTP/1.0 delivery", 200, vec![http10]));
    let body = with_field("-", json!(null), next());
    let mut h = signed_headers(&body);
    h.push(("Expect".into(), "100-continue".into()));
    c.push(case(
        "Expect: 100-continue",
        200,
        vec![request("POST", "/ncs", &h, &body)],
    ));
}
