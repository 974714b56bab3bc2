//! Router tests without a socket (`oneshot`): every endpoint and its errors, JSON everywhere.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::router::{app, App};
use common::{cr_body, SECRET};
use ncsd::config::ServeConfig;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, words: &str) {
    assert_eq!(status, want, "{body}");
    let msg = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error string in {body}"));
    assert!(msg.contains(words), "{msg:?} should mention {words:?}");
}

#[tokio::test]
async fn events_endpoints_and_their_errors() {
    let app = app(&[]).await;
    assert_eq!(
        app.ingest(cr_body("e1", "s1", 40, 0, json!({"status": 0})))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.ingest(cr_body("e2", "s2", 41, 1, json!({"leaveCode": 2})))
            .await
            .0,
        StatusCode::OK
    );
    let (s, all) = app.get("/v1/events").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["events"].as_array().unwrap().len(), 2);
    let (_, f) = app.get("/v1/events?event_type=41").await;
    assert_eq!(f["events"][0]["notice_id"], "e2");
    let (_, f) = app.get("/v1/events?sid=s1&product_id=3&cname=room").await;
    assert_eq!(f["events"].as_array().unwrap().len(), 1);
    let (_, f) = app.get("/v1/events?since=2999-01-01T00:00:00Z").await;
    assert_eq!(f["events"].as_array().unwrap().len(), 0);
    let (s, e) = app.get("/v1/events/e1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(e["event_name"], "recorder_started");
    assert_eq!(e["deliveries"], 1);
    let (s, b) = app.get("/v1/events?event_type=abc").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "query");
    let (s, b) = app.get("/v1/events?limit=5000").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "limit");
    let (s, b) = app.get("/v1/events?since=yesterday").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "since");
    let (s, b) = app.get("/v1/events/missing").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "missing");
}

#[tokio::test]
async fn session_endpoints_and_their_errors() {
    let app = app(&[]).await;
    app.ingest(cr_body("a", "sid-a", 40, 0, json!({"status": 0})))
        .await;
    app.ingest(cr_body("b", "sid-a", 42, 2, json!({"startUtcMs": 5, "discontinueUtcMs": 5, "streamUid": "0", "trackType": "audio_and_video", "mixedAllUser": true}))).await;
    let (s, st) = app.get("/v1/sessions/sid-a").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["sid"], "sid-a");
    assert_eq!(st["phase"], "recording");
    assert_eq!(st["missing_sequences"], json!([1]));
    let (s, ev) = app.get("/v1/sessions/sid-a/events").await;
    assert_eq!(s, StatusCode::OK);
    let seqs: Vec<_> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].clone())
        .collect();
    assert_eq!(seqs, [json!(0), json!(2)]);
    let (_, list) = app.get("/v1/sessions?phase=recording").await;
    assert_eq!(list["sessions"][0]["sid"], "sid-a");
    let (_, list) = app.get("/v1/sessions?phase=completed").await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 0);
    let (s, b) = app.get("/v1/sessions/nope").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "nope");
    let (s, b) = app.get("/v1/sessions/nope/events").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "nope");
    let (s, b) = app.get("/v1/sessions?phase=dancing").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "phase");
    let (s, b) = app.get("/v1/sessions?cursor=garbage").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "cursor");
    let (s, b) = app.get("/v1/sessions?until=soon").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "until");
}

#[tokio::test]
async fn quarantine_openapi_unknown_paths_and_methods() {
    let app = app(&[]).await;
    let (s, ack) = app.ingest(b"nope".to_vec()).await;
    assert_eq!((s, &ack["quarantined"]), (StatusCode::OK, &json!(true)));
    let (s, q) = app.get("/v1/quarantine").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["quarantine"][0]["body"], "nope");
    let (s, b) = app.get("/v1/quarantine?after=x").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "query");
    let (s, doc) = app.get("/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/ncs",
        "/v1/events",
        "/v1/events/{notice_id}",
        "/v1/sessions",
        "/v1/sessions/{sid}",
        "/v1/sessions/{sid}/events",
        "/v1/quarantine",
        "/v1/stream",
        "/healthz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    let (s, b) = app.get("/nothing-here").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "/nothing-here");
    let (s, b) = app
        .call(Request::delete("/v1/events").body(Body::empty()).unwrap())
        .await;
    assert_error(s, &b, StatusCode::METHOD_NOT_ALLOWED, "method");
    let (s, b) = app
        .call(Request::put("/ncs").body(Body::empty()).unwrap())
        .await;
    assert_error(s, &b, StatusCode::METHOD_NOT_ALLOWED, "POST");
    let (s, h) = app.get("/healthz").await;
    assert_eq!((s, h["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, b) = app
        .call(
            Request::get("/v1/stream")
                .header("Last-Event-ID", "abc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "Last-Event-ID");
}

const TOKEN: &str = "tok-0123456789abcdef";

#[tokio::test]
async fn api_token_guards_v1_but_not_ingest() {
    let app = app(&["--api-token", TOKEN]).await;
    assert_eq!(
        app.ingest(cr_body("t1", "s", 40, 0, json!({}))).await.0,
        StatusCode::OK
    );
    let (s, b) = app.get("/v1/events").await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "Bearer");
    let req = |auth: &str| {
        Request::get("/v1/events")
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    let (s, b) = app.call(req("Bearer wrong")).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "token");
    let (s, b) = app.call(req(&format!("Basic {TOKEN}"))).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "token");
    // The scheme is case-insensitive (RFC 7235); the token is not.
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (s, b) = app.call(req(&format!("{scheme} {TOKEN}"))).await;
        assert_eq!(s, StatusCode::OK, "{scheme}");
        assert_eq!(b["events"].as_array().unwrap().len(), 1);
    }
    let (s, _) = app
        .call(req(&format!("Bearer {}", TOKEN.to_uppercase())))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Health needs no token, and says no more than ok without it.
    let (s, b) = app.get("/healthz").await;
    assert_eq!(s, StatusCode::OK, "health needs no token");
    assert_eq!(b, json!({"status": "ok"}));
    let (s, b) = app
        .call(
            Request::get("/healthz")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["database"], "sqlite", "details with the token");
}

#[tokio::test]
async fn api_answers_are_private_and_carry_a_request_id() {
    let app = app(&[]).await;
    for uri in [
        "/v1/events",
        "/v1/sessions/nope",
        "/healthz",
        "/v1/events?limit=0",
    ] {
        let res = app
            .router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(h["cache-control"], "no-store", "{uri}");
        assert!(!h["x-request-id"].is_empty(), "{uri}");
    }
    let res = app
        .router
        .clone()
        .oneshot(
            Request::get("/v1/events")
                .header("x-request-id", "mine-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "mine-1");
}

#[tokio::test]
async fn session_events_come_in_pages() {
    let app = app(&[]).await;
    // Out of order, with a redundant-path copy of sequence 3 that the list leaves out.
    for (id, seq) in [
        ("e5", 5),
        ("e1", 1),
        ("e3", 3),
        ("e0", 0),
        ("e2", 2),
        ("e4", 4),
    ] {
        let (s, _) = app.ingest(cr_body(id, "paged", 40, seq, json!({}))).await;
        assert_eq!(s, StatusCode::OK);
    }
    app.ingest(cr_body("e3-copy", "paged", 40, 3, json!({})))
        .await;
    let mut seen = Vec::new();
    let mut uri = "/v1/sessions/paged/events?limit=4".to_string();
    loop {
        let (s, b) = app.get(&uri).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let page = b["events"].as_array().unwrap();
        assert!(page.len() <= 4);
        seen.extend(
            page.iter()
                .map(|e| e["notice_id"].as_str().unwrap().to_string()),
        );
        match b["next"].as_str() {
            Some(n) => uri = format!("/v1/sessions/paged/events?limit=4&cursor={n}"),
            None => break,
        }
        // A late event lands before the cursor: the next page neither repeats nor skips.
        app.ingest(cr_body("e-late", "paged", 40, 0, json!({"late": true})))
            .await;
    }
    assert_eq!(seen, ["e0", "e1", "e2", "e3", "e4", "e5"]);
    let (s, b) = app.get("/v1/sessions/paged/events?cursor=nonsense").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "cursor");
    let (s, b) = app.get("/v1/sessions/paged/events?limit=0").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "limit");
    let (_, all) = app.get("/v1/sessions/paged/events").await;
    assert_eq!(all["events"].as_array().unwrap().len(), 7, "e-late too");
    assert_eq!(all["next"], json!(null));
}

#[test]
fn non_loopback_listen_without_token_is_refused() {
    let cfg = ServeConfig::from_args(["--listen", "0.0.0.0:8080", "--secret", "s"]).unwrap();
    assert!(cfg.validate().unwrap_err().contains("--api-token"));
    let cfg = ServeConfig::from_args([
        "--listen",
        "0.0.0.0:8080",
        "--secret",
        "s",
        "--api-listen",
        "127.0.0.1:9000",
    ])
    .unwrap();
    assert!(cfg.validate().is_ok());
    let cfg = ServeConfig::from_args([
        "--listen",
        "0.0.0.0:8080",
        "--secret",
        "s",
        "--api-token",
        TOKEN,
    ])
    .unwrap();
    assert!(cfg.validate().is_ok());
    let cfg = ServeConfig::from_args(["--allow-unsigned"]).unwrap();
    assert!(cfg.validate().is_ok());
    let cfg = ServeConfig::from_args(["--secret", "a,b"]).unwrap();
    assert_eq!(cfg.secrets().len(), 2, "comma-separated secrets");
    assert!(!format!("{cfg:?}").contains("a,b") && format!("{cfg:?}").contains("[redacted]"));
}

#[tokio::test]
async fn api_listen_moves_the_api_off_the_ingest_listener() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let cfg = ServeConfig::from_args([
        "--database",
        &db,
        "--secret",
        SECRET,
        "--listen",
        "0.0.0.0:8080",
        "--api-listen",
        "127.0.0.1:8081",
    ])
    .unwrap();
    assert!(
        cfg.validate().is_ok(),
        "public ingest is fine when the API is on loopback"
    );
    let store = ncsd::store::open(&cfg.database_url).await.unwrap();
    let apps = ncsd::server::apps(&cfg, store, CancellationToken::new());
    let dir = Arc::new(dir);
    let main = App {
        router: apps.main,
        state: apps.state.clone(),
        dir: dir.clone(),
    };
    let api = App {
        router: apps.api.expect("a separate API router"),
        state: apps.state,
        dir,
    };
    assert_eq!(
        main.ingest(cr_body("m1", "s", 40, 0, json!({}))).await.0,
        StatusCode::OK
    );
    let (s, b) = main.get("/v1/events").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "/v1/events");
    let (s, b) = api.get("/v1/events").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["events"][0]["notice_id"], "m1");
    assert_eq!(
        api.ingest(cr_body("m2", "s", 40, 1, json!({}))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn writer_nice_defaults_below_normal_and_is_range_checked() {
    let nice = |args: &[&str]| ServeConfig::from_args(args.iter().copied()).map(|c| c.writer_nice);
    assert_eq!(nice(&[]).unwrap(), -10);
    assert_eq!(nice(&["--writer-nice", "-5"]).unwrap(), -5);
    assert_eq!(nice(&["--writer-nice", "0"]).unwrap(), 0);
    let err = nice(&["--writer-nice", "20"]).unwrap_err().to_string();
    assert!(err.contains("--writer-nice") && err.contains("20"), "{err}");
}

#[test]
fn forward_nice_defaults_above_normal_and_is_range_checked() {
    let nice = |args: &[&str]| ServeConfig::from_args(args.iter().copied()).map(|c| c.forward_nice);
    assert_eq!(nice(&[]).unwrap(), 10);
    assert_eq!(nice(&["--forward-nice", "0"]).unwrap(), 0);
    let err = nice(&["--forward-nice", "-21"]).unwrap_err().to_string();
    assert!(
        err.contains("--forward-nice") && err.contains("-21"),
        "{err}"
    );
}
