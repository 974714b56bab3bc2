//! At most one log line per client address per interval, for events an attacker can trigger at
//! will (bad API tokens, rejected deliveries): each is worth a line, a flood of them is not worth
//! the disk. Lines held back are counted and the count is logged with the next one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses remembered at most; past it, entries older than the interval are dropped first.
const MAX_TRACKED: usize = 10_000;

pub struct RateLog {
    interval: Duration,
    seen: Mutex<HashMap<Option<IpAddr>, (Instant, u64)>>,
}

impl RateLog {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// One line a minute per address.
    pub fn per_minute() -> Self {
        Self::new(Duration::from_secs(60))
    }

    /// Whether a line for `addr` may be written now; `Some(n)` with the lines held back since
    /// the last one written.
    pub fn admit(&self, addr: Option<IpAddr>) -> Option<u64> {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_TRACKED && !seen.contains_key(&addr) {
            let interval = self.interval;
            seen.retain(|_, (t, _)| now.duration_since(*t) < interval);
            if seen.len() >= MAX_TRACKED {
                // Every slot is recent: a flood from many addresses. Stay quiet for new ones.
                return None;
            }
        }
        match seen.get_mut(&addr) {
            Some((last, held)) if now.duration_since(*last) < self.interval => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let n = *held;
                *last = now;
                *held = 0;
                Some(n)
            }
            None => {
                seen.insert(addr, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_address_per_interval_counting_the_rest() {
        let log = RateLog::new(Duration::from_millis(200));
        let a: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        let b: Option<IpAddr> = Some("192.0.2.2".parse().unwrap());
        assert_eq!(log.admit(a), Some(0));
        assert_eq!(log.admit(a), None);
        assert_eq!(log.admit(a), None);
        assert_eq!(
            log.admit(b),
            Some(0),
            "another address has its own allowance"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(log.admit(a), Some(2), "the lines held back are reported");
        assert_eq!(log.admit(a), None);
    }
}
