//! Spec §3.3 test vectors and the failure modes of `verify`.

mod common;

use agora_ncs::{sign, verify, Algorithm, Secret, VerifyError};
use common::fixture;

const C_BODY: &str = r#"{"noticeId":"31aeb35a9245cbd977cfe18b438b75ed","notifyMs":1596555306283,"eventType":40,"sid":"d12fdce9024d37862a8f3a88e387c817","payload":{"serviceType":1,"uid":"1001","sequence":1,"sendts":1596555306257,"cname":"Testing2","details":{"status":0,"msgName":"recorder_started"},"sid":"d12fdce9024d37862a8f3a88e387c817"},"productId":3}"#;
const D_BODY: &str = r#"{"noticeId":"notice-1","payload":{"status":"uploaded"}}"#;

struct Vector {
    name: &'static str,
    body: Vec<u8>,
    secret: &'static str,
    sha1: &'static str,
    sha256: &'static str,
}

fn vectors() -> Vec<Vector> {
    vec![
        Vector {
            name: "A",
            body: fixture("04-sigvector-A-legacy-eventMs.json"),
            secret: "secret",
            sha1: "033c62f40f687675f17f0f41f91a40c71c0f134c",
            sha256: "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99",
        },
        Vector {
            name: "B",
            body: fixture("05-sigvector-B.json"),
            secret: "secret",
            sha1: "5a3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df1",
            sha256: "de96da5acf03b0021ac3b4fa2225e7ae6f3533a30d50bb02c08ea4fa748bda24",
        },
        Vector {
            name: "C",
            body: C_BODY.as_bytes().to_vec(),
            secret: "secret",
            sha1: "79238677c8bdbe62bdfd6877ff2c3c56879a75ec",
            sha256: "9ffdf32bc6d0bef4f19cb447fcfcd445df65831d551b0e90f4f4ecd03668047f",
        },
        Vector {
            name: "D",
            body: D_BODY.as_bytes().to_vec(),
            secret: "webhook-secret",
            sha1: "842842a072d93330e0e27fe0da42a50af03a1ddd",
            sha256: "65df87d8c08ebf028b13175512bb0f3ea1b28837e253eea5c96b5f53986e2b5f",
        },
    ]
}

fn both(v: &Vector) -> [(Algorithm, &'static str); 2] {
    [(Algorithm::Sha1, v.sha1), (Algorithm::Sha256, v.sha256)]
}

#[test]
fn spec_vectors_sign() {
    for v in vectors() {
        for (alg, want) in both(&v) {
            assert_eq!(
                sign(alg, &Secret::new(v.secret), &v.body),
                want,
                "vector {} {alg:?}",
                v.name
            );
        }
    }
}

#[test]
fn spec_vectors_verify() {
    for v in vectors() {
        for (alg, header) in both(&v) {
            assert_eq!(
                verify(alg, &[Secret::new(v.secret)], &v.body, header),
                Ok(0),
                "vector {}",
                v.name
            );
        }
    }
}

#[test]
fn uppercase_and_surrounding_whitespace_are_accepted() {
    for v in vectors() {
        for (alg, header) in both(&v) {
            let secrets = [Secret::new(v.secret)];
            assert_eq!(
                verify(alg, &secrets, &v.body, &header.to_uppercase()),
                Ok(0)
            );
            assert_eq!(
                verify(alg, &secrets, &v.body, &format!("  {header}\t\n")),
                Ok(0)
            );
        }
    }
}

#[test]
fn wrong_secret_is_a_mismatch() {
    for v in vectors() {
        for (alg, header) in both(&v) {
            assert_eq!(
                verify(alg, &[Secret::new("not-it")], &v.body, header),
                Err(VerifyError::Mismatch)
            );
        }
    }
}

#[test]
fn tampered_body_is_a_mismatch() {
    for v in vectors() {
        let mut body = v.body.clone();
        // One byte changed, and a trailing newline added: both must fail.
        body[1] ^= 0x01;
        let mut with_newline = v.body.clone();
        with_newline.push(b'\n');
        for (alg, header) in both(&v) {
            let secrets = [Secret::new(v.secret)];
            assert_eq!(
                verify(alg, &secrets, &body, header),
                Err(VerifyError::Mismatch)
            );
            assert_eq!(
                verify(alg, &secrets, &with_newline, header),
                Err(VerifyError::Mismatch)
            );
        }
    }
}

#[test]
fn malformed_headers_are_reported_as_such() {
    let v = &vectors()[1];
    let secrets = [Secret::new(v.secret)];
    let cases = [
        ("", Algorithm::Sha256),
        ("zz3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df1", Algorithm::Sha1),
        ("5a3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df", Algorithm::Sha1), // odd length
        (
            "sha256=de96da5acf03b0021ac3b4fa2225e7ae6f3533a30d50bb02c08ea4fa748bda24",
            Algorithm::Sha256,
        ),
        // A correct SHA1 digest offered as V2: wrong length, not a mismatch.
        (
            "5a3bb6a6d9fad2ea9ae3fb707a14c9d7f3136df1",
            Algorithm::Sha256,
        ),
        (
            "de96da5acf03b0021ac3b4fa2225e7ae6f3533a30d50bb02c08ea4fa748bda24",
            Algorithm::Sha1,
        ),
    ];
    for (header, alg) in cases {
        assert_eq!(
            verify(alg, &secrets, &v.body, header),
            Err(VerifyError::Malformed),
            "{header:?}"
        );
    }
}

#[test]
fn rotation_reports_which_secret_matched() {
    let v = &vectors()[2];
    let secrets = [Secret::new("new-secret"), Secret::new(v.secret)];
    for (alg, header) in both(v) {
        assert_eq!(verify(alg, &secrets, &v.body, header), Ok(1));
    }
    let fresh = sign(Algorithm::Sha256, &secrets[0], &v.body);
    assert_eq!(verify(Algorithm::Sha256, &secrets, &v.body, &fresh), Ok(0));
    assert_eq!(
        verify(Algorithm::Sha256, &[], &v.body, &fresh),
        Err(VerifyError::Mismatch)
    );
}

#[test]
fn secrets_never_print() {
    let s = Secret::new("hunter2");
    assert_eq!(format!("{s:?}"), "[redacted]");
    assert_eq!(format!("{s}"), "[redacted]");
    assert_eq!(format!("{:?}", vec![s.clone()]), "[[redacted]]");
    assert_eq!(s.expose(), "hunter2");
}

#[test]
fn algorithm_names_its_header() {
    assert_eq!(Algorithm::Sha1.header(), "Agora-Signature");
    assert_eq!(Algorithm::Sha256.header(), "Agora-Signature-V2");
}
