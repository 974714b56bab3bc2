//! Request signatures (spec §3): HMAC over the raw body, hex in a header.
//!
//! Lives here, not in the service, so the simulator signs with exactly the
//! code the receiver verifies with.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use std::fmt;

/// HMAC-SHA1 of the body, lowercase hex (40 chars).
pub const HEADER_V1: &str = "Agora-Signature";
/// HMAC-SHA256 of the body, lowercase hex (64 chars). Preferred.
pub const HEADER_V2: &str = "Agora-Signature-V2";

/// An NCS secret. Its `Debug` and `Display` never show the value, so a secret
/// that ends up in a log line or a panic message does not leak.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself; call only where the bytes are really needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Which of the two signature headers we are dealing with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `Agora-Signature`
    Sha1,
    /// `Agora-Signature-V2`
    Sha256,
}

impl Algorithm {
    /// The header that carries this algorithm's signature.
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Sha1 => HEADER_V1,
            Algorithm::Sha256 => HEADER_V2,
        }
    }

    /// Length of the MAC in bytes (a header must decode to exactly this).
    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }
}

/// Why a signature header was not accepted.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// Not hex, or not the length of this algorithm's MAC.
    #[error("signature header is not a hex HMAC of the expected length")]
    Malformed,
    /// Well-formed, but no configured secret produces it.
    #[error("signature does not match the body under any configured secret")]
    Mismatch,
}

/// Sign `body` the way NCS does: lowercase hex HMAC keyed by the secret's UTF-8 bytes.
pub fn sign(alg: Algorithm, secret: &Secret, body: &[u8]) -> String {
    match alg {
        Algorithm::Sha1 => hex::encode(mac::<Hmac<Sha1>>(secret, body).finalize().into_bytes()),
        Algorithm::Sha256 => hex::encode(mac::<Hmac<Sha256>>(secret, body).finalize().into_bytes()),
    }
}

/// Check `header_value` against `body` under each secret in turn (several
/// secrets allow rotation). Returns the index of the first secret that
/// matched. The comparison is constant time (`Mac::verify_slice`).
///
/// The header is trimmed and may be upper- or lowercase hex: all Agora
/// samples send lowercase, but case is not part of the MAC.
pub fn verify(
    alg: Algorithm,
    secrets: &[Secret],
    body: &[u8],
    header_value: &str,
) -> Result<usize, VerifyError> {
    let expected = hex::decode(header_value.trim()).map_err(|_| VerifyError::Malformed)?;
    if expected.len() != alg.mac_len() {
        return Err(VerifyError::Malformed);
    }
    secrets
        .iter()
        .position(|secret| match alg {
            Algorithm::Sha1 => mac::<Hmac<Sha1>>(secret, body)
                .verify_slice(&expected)
                .is_ok(),
            Algorithm::Sha256 => mac::<Hmac<Sha256>>(secret, body)
                .verify_slice(&expected)
                .is_ok(),
        })
        .ok_or(VerifyError::Mismatch)
}

fn mac<M: Mac + hmac::digest::KeyInit>(secret: &Secret, body: &[u8]) -> M {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <M as Mac>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    m.update(body);
    m
}
