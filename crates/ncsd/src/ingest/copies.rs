//! Redundant-path copies (spec §4, §9.14): with redundant notifications enabled, the same Cloud
//! Recording event may arrive under a *different* `noticeId`. Such a copy is recognised by
//! `(sid, uid, eventType, sequence, details)`; this key is stored with a unique constraint so the
//! database decides which delivery was first.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Key for a Cloud Recording event, or None when the event lacks a sid or a sequence (then
/// nothing can identify a copy, and it is treated as distinct).
pub fn content_key(
    sid: Option<&str>,
    uid: Option<&str>,
    event_type: u32,
    sequence: Option<i64>,
    details: &Value,
) -> Option<String> {
    let (sid, sequence) = (sid?, sequence?);
    let mut canonical = Vec::with_capacity(256);
    write_canonical(details, &mut canonical);
    let (event_type, sequence) = (event_type.to_string(), sequence.to_string());
    let parts: [&[u8]; 5] = [
        sid.as_bytes(),
        uid.unwrap_or("").as_bytes(),
        event_type.as_bytes(),
        sequence.as_bytes(),
        &canonical,
    ];
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    Some(hex::encode(h.finalize()))
}

/// JSON with object keys sorted, so two paths that serialise the same details in a different key
/// order still match. Written straight into bytes: this runs on every delivery.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Keys are unique, so an unstable sort gives the one order.
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(k, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => write_json(other, out),
    }
}

/// Compact JSON, as `Value::to_string` writes it.
fn write_json<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    // Strings and JSON values always serialise; writing into a Vec cannot fail.
    serde_json::to_writer(out, v).expect("serialising JSON into memory");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_key_order_but_not_content() {
        let a = content_key(
            Some("s"),
            Some("1"),
            43,
            Some(4),
            &json!({"state": 0, "streamUid": "7"}),
        );
        let b = content_key(
            Some("s"),
            Some("1"),
            43,
            Some(4),
            &json!({"streamUid": "7", "state": 0}),
        );
        let c = content_key(
            Some("s"),
            Some("1"),
            43,
            Some(4),
            &json!({"streamUid": "7", "state": 1}),
        );
        let d = content_key(
            Some("s"),
            Some("2"),
            43,
            Some(4),
            &json!({"streamUid": "7", "state": 0}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert!(a.is_some());
    }

    #[test]
    fn no_key_without_sid_or_sequence() {
        assert_eq!(content_key(None, Some("1"), 40, Some(0), &json!({})), None);
        assert_eq!(
            content_key(Some("s"), Some("1"), 40, None, &json!({})),
            None
        );
    }
}
