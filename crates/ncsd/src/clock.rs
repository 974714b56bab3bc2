//! Wall-clock time as Unix milliseconds, the unit every stored time uses.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How long before `now` the time `ms` was, as people say it: `just now`, `42 s ago`,
/// `3 min ago`, `5 h ago`, `2 d ago` (`in 3 min` for a time ahead).
pub fn ago(ms: i64, now: i64) -> String {
    let d = now - ms;
    let (n, ahead) = (d.unsigned_abs() / 1000, d < 0);
    let span = match n {
        0..=4 => return "just now".into(),
        5..=59 => format!("{n} s"),
        60..=3599 => format!("{} min", n / 60),
        3600..=86_399 => format!("{} h", n / 3600),
        _ => format!("{} d", n / 86_400),
    };
    if ahead {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// `ms` as an RFC 3339 UTC time with milliseconds (`2026-12-05T14:29:02.123Z`).
pub fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_as_people_say_them() {
        let now = 1_000_000_000;
        assert_eq!(super::ago(now - 1_000, now), "just now");
        assert_eq!(super::ago(now - 42_000, now), "42 s ago");
        assert_eq!(super::ago(now - 180_000, now), "3 min ago");
        assert_eq!(super::ago(now - 5 * 3_600_000, now), "5 h ago");
        assert_eq!(super::ago(now - 2 * 86_400_000, now), "2 d ago");
        assert_eq!(super::ago(now + 180_000, now), "in 3 min");
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
