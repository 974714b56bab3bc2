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

/// The signature headers as received, kept with the event for audit.
pub fn headers_json(headers: &HeaderMap) -> String {
    let mut map = serde_json::Map::new();
    for name in [HEADER_V2, HEADER_V1, "content-type", "user-agent"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            map.insert(name.to_string(), v.into());
        }
    }
    serde_json::Value::Object(map).to_string()
}
