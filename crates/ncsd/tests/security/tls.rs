//! Transport security: HTTPS on the API listener with certificate reload, a bad certificate
//! pair refused at start, and PostgreSQL over TLS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{self, cr_body, free_port, SECRET};
use crate::process::{insecure_client, serve_output, Proc};
use crate::TOKEN;

// 2. Transport.

fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k, cert.cert.der().to_vec())
}

async fn served_cert(url: &str) -> Vec<u8> {
    let res = insecure_client().get(url).send().await.unwrap();
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("a TLS connection")
        .to_vec()
}

#[tokio::test]
async fn https_on_the_api_listener_and_certificate_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (a_crt, a_key, a_der) = write_pair(dir.path(), "a");
    let (b_crt, b_key, b_der) = write_pair(dir.path(), "b");
    let (live_crt, live_key) = (dir.path().join("live.crt"), dir.path().join("live.key"));
    std::fs::copy(&a_crt, &live_crt).unwrap();
    std::fs::copy(&a_key, &live_key).unwrap();
    let api_port = free_port();
    let api = format!("127.0.0.1:{api_port}");
    let p = Proc::start(
        &[
            "--secret",
            SECRET,
            "--tls-cert",
            live_crt.to_str().unwrap(),
            "--tls-key",
            live_key.to_str().unwrap(),
            "--api-listen",
            &api,
            "--api-token",
            TOKEN,
        ],
        &[],
    );
    let api_url = format!("https://{api}/healthz");
    let deadline = Instant::now() + Duration::from_secs(20);
    while insecure_client().get(&api_url).send().await.is_err() {
        assert!(Instant::now() < deadline, "no HTTPS API:\n{}", p.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Plain HTTP is not served on the API listener.
    assert!(reqwest::get(format!("http://{api}/healthz")).await.is_err());
    let ingest_url = format!("{}/ncs", p.base("https"));
    assert_eq!(served_cert(&api_url).await, a_der);
    assert_eq!(served_cert(&ingest_url).await, a_der);

    // A renewal: new files, SIGHUP, the new certificate on both listeners.
    std::fs::copy(&b_crt, &live_crt).unwrap();
    std::fs::copy(&b_key, &live_key).unwrap();
    p.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_cert(&api_url).await != b_der {
        assert!(Instant::now() < deadline, "not reloaded:\n{}", p.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served_cert(&ingest_url).await, b_der);

    // A bad pair (a's key with b's certificate) keeps b in use, and says why.
    std::fs::copy(&a_key, &live_key).unwrap();
    p.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.logs().contains("keeping the TLS certificate in use") {
        assert!(Instant::now() < deadline, "no log line:\n{}", p.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(p.logs().contains("do not match"), "{}", p.logs());
    assert_eq!(served_cert(&api_url).await, b_der);
    let res = insecure_client().get(&api_url).send().await.unwrap();
    assert_eq!(res.status(), 200, "still serving");
}

#[test]
fn a_bad_certificate_pair_refuses_to_start_before_anything_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (a_crt, _, _) = write_pair(dir.path(), "a");
    let (_, b_key, _) = write_pair(dir.path(), "b");
    let db = dir.path().join("never.db");
    let out = serve_output(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &format!("sqlite://{}", db.display()),
            "--secret",
            SECRET,
            "--tls-cert",
            a_crt.to_str().unwrap(),
            "--tls-key",
            b_key.to_str().unwrap(),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("do not match"), "{err}");
    assert!(!err.contains("listening"), "announced: {err}");
    assert!(!db.exists(), "the store was opened");
}

// 2. PostgreSQL over TLS.

#[tokio::test]
async fn postgres_over_tls_with_require_and_verify_full() {
    let Some(db) = common::pg::PgDatabase::create().await else {
        return;
    };
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&db.admin).await.unwrap();
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(ssl, "on", "the test PostgreSQL must have TLS on");
    let server_cert: String = sqlx::query_scalar("SHOW ssl_cert_file")
        .fetch_one(&mut admin)
        .await
        .unwrap();

    // require: encrypted; every connection ncsd holds is a TLS one.
    let url = format!("{}?sslmode=require", db.url);
    let store = ncsd::store::open(&url).await.expect("sslmode=require");
    let d = ncsd::ingest::to_delivery(
        &agora_ncs::Envelope::from_slice(&cr_body("tls-1", "s", 40, 0, json!({}))).unwrap(),
        cr_body("tls-1", "s", 40, 0, json!({})),
        "{}".into(),
        1,
    );
    assert!(!store.ingest(d).await.unwrap().duplicate);
    let (plain, tls): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) FILTER (WHERE s.ssl) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = $1 AND a.application_name = 'ncsd'",
    )
    .bind(&db.name)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(plain, 0, "a connection without TLS");
    assert!(tls >= 1);
    drop(store);

    // verify-full: the server's certificate checked against a root and its name (the Debian
    // snake-oil certificate names localhost).
    let (_, _, host, _) = common::pg::url_parts(&db.url);
    let port = host.rsplit(':').next().unwrap_or("5432");
    let (scheme, user, _, _) = common::pg::url_parts(&db.url);
    let base = format!("{scheme}{user}localhost:{port}/{}", db.name);
    let good = format!("{base}?sslmode=verify-full&sslrootcert={server_cert}");
    let store = ncsd::store::open(&good).await.expect("sslmode=verify-full");
    assert_eq!(store.latest_seq().await.unwrap(), 1);
    drop(store);
    let dir = tempfile::tempdir().unwrap();
    let (other_root, _, _) = write_pair(dir.path(), "other");
    let bad = format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        other_root.display()
    );
    let err = match ncsd::store::open(&bad).await {
        Ok(_) => panic!("a certificate from another root was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("cannot connect"), "{err}");
}
