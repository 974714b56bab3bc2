//! From sessions to deliveries, with NCS's faults: resends of the same `noticeId` (new
//! `notifyMs`, so different bytes), redundant-path copies (new `noticeId`, same event), loss
//! (an event none of whose deliveries arrive) and reordering.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::Rng;

use super::SimSession;

#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Share of events delivered a second time with the same noticeId.
    pub duplicates: f64,
    /// Share of events also delivered under a second noticeId (redundant notifications).
    pub copies: f64,
    /// Share of events lost entirely.
    pub drop: f64,
    /// Deliver in random order instead of event order.
    pub shuffle: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    First,
    Resend,
    Copy,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub session: usize,
    pub sequence: i64,
    pub notice_id: String,
    pub kind: Kind,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub deliveries: Vec<Delivery>,
    /// Per session: the sequences that will arrive at least once.
    pub delivered: Vec<BTreeSet<i64>>,
    pub dropped: usize,
}

fn notice_id<R: Rng>(rng: &mut R) -> String {
    (0..32)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect()
}

pub fn plan<R: Rng>(rng: &mut R, sessions: &[SimSession], faults: Faults) -> Plan {
    let mut per_session: Vec<Vec<Delivery>> = Vec::with_capacity(sessions.len());
    let mut out = Plan::default();
    for (si, s) in sessions.iter().enumerate() {
        let mut list = Vec::new();
        let mut got = BTreeSet::new();
        for e in &s.events {
            if rng.random_bool(faults.drop.clamp(0.0, 1.0)) {
                out.dropped += 1;
                continue;
            }
            got.insert(e.sequence);
            let id = notice_id(rng);
            let notify = e.sendts + 30;
            let mut push = |notice_id: &str, notify_ms: i64, kind: Kind| {
                list.push(Delivery {
                    session: si,
                    sequence: e.sequence,
                    notice_id: notice_id.to_string(),
                    kind,
                    body: s.body(e, notice_id, notify_ms),
                })
            };
            push(&id, notify, Kind::First);
            if rng.random_bool(faults.duplicates.clamp(0.0, 1.0)) {
                push(&id, notify + 1500, Kind::Resend);
            }
            if rng.random_bool(faults.copies.clamp(0.0, 1.0)) {
                push(&notice_id(rng), notify + 5, Kind::Copy);
            }
        }
        out.delivered.push(got);
        per_session.push(list);
    }
    // Interleave sessions the way concurrent recordings interleave, then optionally shuffle.
    let longest = per_session.iter().map(Vec::len).max().unwrap_or(0);
    let mut iters: Vec<_> = per_session.into_iter().map(|v| v.into_iter()).collect();
    for _ in 0..longest {
        for it in iters.iter_mut() {
            if let Some(d) = it.next() {
                out.deliveries.push(d);
            }
        }
    }
    if faults.shuffle {
        out.deliveries.shuffle(rng);
    }
    out
}
