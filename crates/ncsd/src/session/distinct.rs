//! One canonical, ordered list of a session's events.
//!
//! Two kinds of duplicate are removed: resends (same `noticeId`) and
//! redundant-path copies (different `noticeId`, same `(uid, eventType,
//! sequence, details)`, spec §9.14). Every choice is made by a total order on
//! the events' content, never by input position, so the result depends only
//! on the set of events given.

use super::StoredEvent;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Distinct events ordered by `(sequence, sendts, notice_id)`, a missing
/// `sequence` or `sendts` sorting last.
///
/// For a repeated `noticeId` the copy received first is kept. Of content
/// copies the one with the smallest `noticeId` is kept. Like the store's
/// copy key (`ingest::copies`), events without a `sequence` are never
/// treated as content copies: nothing tells two of them apart from two
/// genuine events.
pub fn distinct_ordered(events: &[StoredEvent]) -> Vec<&StoredEvent> {
    let mut by_id: BTreeMap<&str, &StoredEvent> = BTreeMap::new();
    for e in events {
        by_id
            .entry(e.notice_id.as_str())
            .and_modify(|kept| {
                if resend_order(e, kept) == Ordering::Less {
                    *kept = e;
                }
            })
            .or_insert(e);
    }
    // Content copies share (uid, eventType, sequence); only inside such a group, which is rare,
    // is the details' canonical text worth building. BTreeMap iterates by noticeId, so within
    // a group the first kept is the one with the smallest noticeId.
    let mut groups: HashMap<(Option<&str>, u32, i64), Vec<&StoredEvent>> = HashMap::new();
    let mut out = Vec::with_capacity(by_id.len());
    for e in by_id.into_values() {
        match e.sequence {
            Some(seq) => groups
                .entry((e.uid.as_deref(), e.event_type, seq))
                .or_default()
                .push(e),
            None => out.push(e),
        }
    }
    for group in groups.into_values() {
        if let [only] = group[..] {
            out.push(only);
            continue;
        }
        let mut seen = HashSet::new();
        out.extend(
            group
                .into_iter()
                .filter(|e| seen.insert(canonical(&e.details.value()))),
        );
    }
    out.sort_by(|a, b| display_order(a, b));
    out
}

/// The order of the session's event list: by sequence, then sendts, then
/// noticeId (unique after dedup, so the order is total).
fn display_order(a: &StoredEvent, b: &StoredEvent) -> Ordering {
    display_key(a).cmp(&display_key(b))
}

/// An event's place in the session's event list (a missing value sorts last): what a page
/// cursor holds, so a page resumes after it even when events arrived in between.
pub type DisplayKey<'a> = ((bool, Option<i64>), (bool, Option<i64>), &'a str);

pub fn display_key(e: &StoredEvent) -> DisplayKey<'_> {
    let last_if_none = |v: Option<i64>| (v.is_none(), v);
    (
        last_if_none(e.sequence),
        last_if_none(e.sendts),
        e.notice_id.as_str(),
    )
}

/// Which of two deliveries with one noticeId to keep: the earliest received;
/// the rest of the fields only break ties so the choice never depends on
/// input order (resends should carry identical payloads anyway).
fn resend_order(a: &StoredEvent, b: &StoredEvent) -> Ordering {
    (
        a.received_at_ms,
        a.event_type,
        a.sequence,
        a.sendts,
        &a.uid,
        &a.cname,
        &a.sid,
    )
        .cmp(&(
            b.received_at_ms,
            b.event_type,
            b.sequence,
            b.sendts,
            &b.uid,
            &b.cname,
            &b.sid,
        ))
        .then_with(|| canonical(&a.details.value()).cmp(&canonical(&b.details.value())))
}

/// JSON text with object keys sorted: two paths that serialise one details
/// object with a different key order are still the same content.
pub(crate) fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}
