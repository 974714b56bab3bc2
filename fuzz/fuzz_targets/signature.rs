//! Request signatures (HMAC-SHA1 / HMAC-SHA256, hex in a header).
//!
//! Input layout: `[secret_len][header_len][secret][header][body...]`; the
//! lengths are clamped to what is there, the secret and header are read as
//! (lossy) UTF-8 because that is what `Secret` and a header value are.
//!
//! Properties, for both algorithms:
//! - `verify` never panics on any header, secret or body;
//! - a body signed with `sign` always verifies: `Ok(0)`, also in uppercase
//!   and with surrounding whitespace (both documented as accepted);
//! - a header that is not the correct signature (ignoring surrounding
//!   whitespace and ASCII case) is never accepted;
//! - the correct signature with one hex digit changed is `Mismatch`, and
//!   truncated by one digit is `Malformed`.
#![no_main]

use agora_ncs::{sign, verify, Algorithm, Secret, VerifyError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (secret, header, body, tweak) = split(data);
    let secret = Secret::new(secret);
    let secrets = std::slice::from_ref(&secret);

    for alg in [Algorithm::Sha1, Algorithm::Sha256] {
        let sig = sign(alg, &secret, body);
        assert_eq!(sig.len(), alg.mac_len() * 2, "{alg:?}: signature length");

        // Arbitrary header: must not panic, and only the right MAC passes.
        let got = verify(alg, secrets, body, &header);
        let normalised = header.trim().to_ascii_lowercase();
        if normalised == sig {
            assert_eq!(got, Ok(0), "{alg:?}: correct header {header:?} rejected");
        } else {
            assert!(got.is_err(), "{alg:?}: wrong header {header:?} accepted as {got:?}");
        }

        // Our own signature, as NCS would send it.
        assert_eq!(verify(alg, secrets, body, &sig), Ok(0), "{alg:?}: own signature rejected");
        assert_eq!(
            verify(alg, secrets, body, &sig.to_ascii_uppercase()),
            Ok(0),
            "{alg:?}: uppercase signature rejected"
        );
        assert_eq!(
            verify(alg, secrets, body, &format!(" {sig}\t")),
            Ok(0),
            "{alg:?}: padded signature rejected"
        );

        // One hex digit changed: well-formed but wrong.
        let pos = tweak as usize % sig.len();
        let mut wrong = sig.clone().into_bytes();
        wrong[pos] = if wrong[pos] == b'0' { b'1' } else { b'0' };
        let wrong = String::from_utf8(wrong).expect("hex is ASCII");
        assert_eq!(
            verify(alg, secrets, body, &wrong),
            Err(VerifyError::Mismatch),
            "{alg:?}: one-digit change at {pos} not a mismatch"
        );

        // One digit short: not a MAC of this length at all.
        assert_eq!(
            verify(alg, secrets, body, &sig[..sig.len() - 1]),
            Err(VerifyError::Malformed),
            "{alg:?}: truncated signature not malformed"
        );

        // With no secrets nothing can match.
        assert!(verify(alg, &[], body, &sig).is_err(), "{alg:?}: accepted with no secrets");
    }
});

/// `[secret_len][header_len][secret][header][body...]`, plus a byte (the
/// last one, or 0) that picks which digit to change.
fn split(data: &[u8]) -> (String, String, &[u8], u8) {
    let (secret_len, header_len, rest) = match data {
        [s, h, rest @ ..] => (*s as usize, *h as usize, rest),
        [s] => (*s as usize, 0, &[][..]),
        [] => (0, 0, &[][..]),
    };
    let (secret, rest) = rest.split_at(secret_len.min(rest.len()));
    let (header, body) = rest.split_at(header_len.min(rest.len()));
    let tweak = data.last().copied().unwrap_or(0);
    (
        String::from_utf8_lossy(secret).into_owned(),
        String::from_utf8_lossy(header).into_owned(),
        body,
        tweak,
    )
}
