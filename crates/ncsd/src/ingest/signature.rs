//! Which header decides, and what happens without one. `Agora-Signature-V2` (SHA-256) decides
//! when present; otherwise `Agora-Signature` (SHA-1). Any configured secret may match, so a
//! secret can be rotated with no gap.

use agora_ncs::{verify, Algorithm, Secret, HEADER_V1, HEADER_V2};
use axum::http::HeaderMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Verified(Algorithm),
    /// No signature header and unsigned deliveries are allowed (no secret configured).
    Unsigned,
    Rejected(&'static str),
}

pub fn check(
    headers: &HeaderMap,
    secrets: &[Secret],
    allow_unsigned: bool,
    body: &[u8],
) -> Verdict {
    let (alg, value) = if let Some(v) = headers.get(HEADER_V2) {
        (Algorithm::Sha256, v)
    } else if let Some(v) = headers.get(HEADER_V1) {
        (Algorithm::Sha1, v)
    } else if allow_unsigned {
        return Verdict::Unsigned;
    } else {
        return Verdict::Rejected(
            "missing signature: send Agora-Signature-V2 (HMAC-SHA256) or Agora-Signature \
             (HMAC-SHA1) of the raw body",
        );
    };
    if secrets.is_empty() {
        // Running with --allow-unsigned and no secret: a signature cannot be checked.
        return Verdict::Unsigned;
    }
    let Ok(value) = value.to_str() else {
        return Verdict::Rejected("signature header is not ASCII hex");
    };
    match verify(alg, secrets, body, value) {
        Ok(_) => Verdict::Verified(alg),
        Err(_) => Verdict::Rejected(match alg {
            Algorithm::Sha256 => {
                "Agora-Signature-V2 does not match the body for any configured secret"
            }
            Algorithm::Sha1 => "Agora-Signature does not match the body for any configured secret",
        }),
    }
}

/// The headers kept with the event for audit, as a JSON object in this order.
const KEPT_HEADERS: [&str; 4] = [HEADER_V2, HEADER_V1, "content-type", "user-agent"];

/// The signature headers as received, kept with the event for audit: a JSON object of those
/// present (and readable as text), in `KEPT_HEADERS` order. Written straight into the string
/// (this runs on every delivery; a JSON map first cost twice as much).
pub fn headers_json(headers: &HeaderMap) -> String {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for name in KEPT_HEADERS {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            if out.len() > 1 {
                out.push(b',');
            }
            push_json_string(&mut out, name);
            out.push(b':');
            push_json_string(&mut out, v);
        }
    }
    out.push(b'}');
    // Only JSON punctuation and serde_json's string output went in: UTF-8.
    String::from_utf8(out).expect("JSON text is UTF-8")
}

fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into memory cannot fail.
    serde_json::to_writer(out, s).expect("a string serialises");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn kept_headers_are_a_json_object_in_a_fixed_order() {
        let mut h = HeaderMap::new();
        h.insert("user-agent", HeaderValue::from_static("Go-http-client/1.1"));
        h.insert(HEADER_V2, HeaderValue::from_static("ab12"));
        h.insert("x-other", HeaderValue::from_static("not kept"));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        assert_eq!(
            headers_json(&h),
            r#"{"Agora-Signature-V2":"ab12","content-type":"application/json","user-agent":"Go-http-client/1.1"}"#
        );
        // Escaped as JSON; a value that is not text is left out.
        let mut h = HeaderMap::new();
        h.insert(HEADER_V1, HeaderValue::from_static("a\"b"));
        h.insert("user-agent", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(headers_json(&h), r#"{"Agora-Signature":"a\"b"}"#);
        assert_eq!(headers_json(&HeaderMap::new()), "{}");
    }
}
