//! The hand-written handler a user would otherwise run, as the ingest goal describes it: an axum app
//! with one rusqlite connection behind a mutex that verifies `Agora-Signature-V2`, parses the
//! body, inserts `(noticeId, body)` with `INSERT OR IGNORE` and answers 200. `bench/run.sh`
//! drives it beside ncsd so "far ahead of a hand-written handler" is a same-run ratio, not a
//! figure from another machine.
//!
//! It is written the way such handlers are usually written, on purpose: the query runs inside
//! the async handler while the lock is held, and nothing is batched.
//!
//!   handwritten 127.0.0.1:18082 /tmp/h.db SECRET [full|normal]
//!
//! Both use `journal_mode=WAL`.
//! - `full` (the default): `synchronous=FULL`. Every 200 is on disk, as ncsd's are.
//! - `normal`: `synchronous=NORMAL`, the setting most guides recommend. Commits are not synced,
//!   so a 200 survives a crash of the process but not of the machine; the ~15k req/s goal's reference figure
//!   for this handler is likely this mode.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use serde_json::{json, Value};
use sha2::Sha256;

struct App {
    conn: Mutex<Connection>,
    secret: Vec<u8>,
}

type Answer = (StatusCode, Json<Value>);

async fn ncs(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Answer {
    let fail = |code: StatusCode, why: &str| (code, Json(json!({ "error": why })));
    let Some(sig) = headers
        .get("agora-signature-v2")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| hex::decode(v).ok())
    else {
        return fail(StatusCode::UNAUTHORIZED, "missing or malformed signature");
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&app.secret).expect("any key length");
    mac.update(&body);
    if mac.verify_slice(&sig).is_err() {
        return fail(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return fail(StatusCode::BAD_REQUEST, "not JSON");
    };
    let Some(notice_id) = v.get("noticeId").and_then(Value::as_str) else {
        return fail(StatusCode::BAD_REQUEST, "no noticeId");
    };
    let conn = app.conn.lock().expect("not poisoned");
    match conn.execute(
        "INSERT OR IGNORE INTO events (notice_id, body) VALUES (?1, ?2)",
        (notice_id, &body[..]),
    ) {
        Ok(_) => (StatusCode::OK, Json(json!({ "ok": true }))),
        Err(e) => fail(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(path), Some(secret)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!("usage: handwritten ADDR DB SECRET [full|normal]");
    };
    let synchronous = match args.next().as_deref().unwrap_or("full") {
        "full" => "FULL",
        "normal" => "NORMAL",
        other => anyhow::bail!("unknown durability {other:?}: full or normal"),
    };
    let conn = Connection::open(&path)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};"
    ))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events (notice_id TEXT PRIMARY KEY, body BLOB NOT NULL)",
    )?;
    let app = Arc::new(App {
        conn: Mutex::new(conn),
        secret: secret.into_bytes(),
    });
    let router = Router::new().route("/ncs", post(ncs)).with_state(app);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, router).await?;
    Ok(())
}
