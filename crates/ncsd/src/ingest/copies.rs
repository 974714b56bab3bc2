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
    let mut canonical = String::new();
    write_canonical(details, &mut canonical);
    let mut h = Sha256::new();
    for part in [
        sid,
        uid.unwrap_or(""),
        &event_type.to_string(),
        &sequence.to_string(),
        &canonical,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    Some(hex::encode(h.finalize()))
}

/// JSON with object keys sorted, so two paths that serialise the same details in a different key
/// order still match.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
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
