//! Times and durations as the pages show them: "3 min ago" with the exact time on hover.

use crate::clock::{ago, rfc3339};

/// A moment shown as "3 min ago", the RFC 3339 time in its `title` and `datetime`.
#[derive(Debug, Clone, Default)]
pub struct When {
    pub ago: String,
    pub exact: String,
}

impl When {
    pub fn at(ms: Option<i64>, now: i64) -> Self {
        match ms {
            Some(ms) => When {
                ago: ago(ms, now),
                exact: rfc3339(ms),
            },
            None => When::default(),
        }
    }

    pub fn is_known(&self) -> bool {
        !self.exact.is_empty()
    }
}

/// `1 h 02 min`, `4 min 05 s`, `12 s`, `850 ms`; empty when unknown.
pub fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return String::new();
    };
    let s = ms / 1000;
    match s {
        _ if ms < 1000 => format!("{ms} ms"),
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(None), "");
        assert_eq!(duration(Some(850)), "850 ms");
        assert_eq!(duration(Some(12_400)), "12 s");
        assert_eq!(duration(Some(245_000)), "4 min 05 s");
        assert_eq!(duration(Some(3_720_000)), "1 h 02 min");
    }

    #[test]
    fn a_moment_has_both_forms_or_none() {
        let w = When::at(Some(1_000), 181_000);
        assert_eq!(w.ago, "3 min ago");
        assert_eq!(w.exact, "1970-01-01T00:00:01.000Z");
        assert!(!When::at(None, 0).is_known());
    }
}
