//! Event 41 `leaveCode`: a bitmask of why the recorder left (spec §6.1).
//!
//! 0 is its own reason (init failed), not "no bits". Bits we do not know are
//! named `UNKNOWN_BIT_<value>` rather than dropped, so nothing is hidden.

/// Single flags, ascending. 0 means "no flag set: init failed".
pub const LEAVE_CODES: &[(i64, &str)] = &[
    (0, "LEAVE_CODE_INIT: initialisation failed"),
    (2, "LEAVE_CODE_SIG: the recorder got SIGINT"),
    (
        4,
        "LEAVE_CODE_NO_USERS: no other users in the channel; the recorder left on its own",
    ),
    (8, "LEAVE_CODE_TIMER_CATCH: internal timer (can be ignored)"),
    (
        16,
        "LEAVE_CODE_CLIENT_LEAVE: the recorder called leaveChannel",
    ),
];

const NAMES: &[(i64, &str)] = &[
    (0, "LEAVE_CODE_INIT"),
    (2, "LEAVE_CODE_SIG"),
    (4, "LEAVE_CODE_NO_USERS"),
    (8, "LEAVE_CODE_TIMER_CATCH"),
    (16, "LEAVE_CODE_CLIENT_LEAVE"),
];

/// Names of the flags set in `code`, ascending by bit; 0 → `["LEAVE_CODE_INIT"]`.
/// The value is read as a 64-bit pattern, so a negative code still decodes.
pub fn leave_reasons(code: i64) -> Vec<String> {
    if code == 0 {
        return vec![NAMES[0].1.to_owned()];
    }
    let bits = code as u64;
    (0..64)
        .map(|i| 1u64 << i)
        .filter(|bit| bits & bit != 0)
        .map(|bit| match NAMES.iter().find(|(v, _)| *v as u64 == bit) {
            Some((_, name)) => (*name).to_owned(),
            None => format!("UNKNOWN_BIT_{bit}"),
        })
        .collect()
}

/// English description of one reason name from [`leave_reasons`].
pub fn leave_reason_description(name: &str) -> Option<&'static str> {
    let (value, _) = NAMES.iter().find(|(_, n)| *n == name)?;
    LEAVE_CODES
        .iter()
        .find(|(v, _)| v == value)
        .map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_documented_examples() {
        assert_eq!(leave_reasons(0), ["LEAVE_CODE_INIT"]);
        assert_eq!(leave_reasons(6), ["LEAVE_CODE_SIG", "LEAVE_CODE_NO_USERS"]);
        assert_eq!(
            leave_reasons(24),
            ["LEAVE_CODE_TIMER_CATCH", "LEAVE_CODE_CLIENT_LEAVE"]
        );
        assert_eq!(leave_reasons(16), ["LEAVE_CODE_CLIENT_LEAVE"]);
    }

    #[test]
    fn unknown_bits_are_named_not_dropped() {
        assert_eq!(leave_reasons(1), ["UNKNOWN_BIT_1"]);
        assert_eq!(
            leave_reasons(1 | 4 | 64),
            ["UNKNOWN_BIT_1", "LEAVE_CODE_NO_USERS", "UNKNOWN_BIT_64"]
        );
        assert_eq!(leave_reasons(-1).len(), 64);
        assert_eq!(leave_reasons(i64::MIN), ["UNKNOWN_BIT_9223372036854775808"]);
    }

    #[test]
    fn every_name_has_a_description() {
        for (_, name) in NAMES {
            assert!(leave_reason_description(name).unwrap().starts_with(name));
        }
        assert_eq!(leave_reason_description("UNKNOWN_BIT_1"), None);
        assert_eq!(leave_reason_description("nonsense"), None);
    }
}
