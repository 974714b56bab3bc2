//! Shared test harness: an in-process ncsd on a real socket (port 0), a signed-POST helper, and
//! a fresh database per test.
#![allow(dead_code)]

pub mod pg;
pub mod raw;
pub mod router;

use std::net::SocketAddr;

use agora_ncs::{sign, Algorithm, Secret, HEADER_V1, HEADER_V2};
use ncsd::config::ServeConfig;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "test-secret";

/// Wait until a server started as a separate process answers `/healthz`.
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("ncsd did not become healthy");
}

/// A loopback port free right now, for a server started as a separate process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

/// Start ncsd with the given extra flags on a fresh SQLite file (unless `--database` is given).
pub async fn start(extra: &[&str]) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("ncsd.db").display());
    let mut args: Vec<String> = vec!["--listen".into(), "127.0.0.1:0".into()];
    if !extra.contains(&"--database") {
        args.extend(["--database".into(), db]);
    }
    if !extra.contains(&"--secret") && !extra.contains(&"--allow-unsigned") {
        args.extend(["--secret".into(), SECRET.into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let cfg = ServeConfig::from_args(&args).expect("valid flags");
    let store = ncsd::store::open(&cfg.database_url)
        .await
        .expect("open store");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(ncsd::server::run(
        cfg,
        store,
        listener,
        None,
        shutdown.clone(),
    ));
    let scheme = if extra.contains(&"--tls-cert") {
        "https"
    } else {
        "http"
    };
    TestServer {
        addr,
        base: format!("{scheme}://{addr}"),
        shutdown,
        handle,
        dir,
        client: reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client"),
    }
}

impl TestServer {
    pub async fn post_raw(&self, body: &[u8], headers: &[(&str, String)]) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/ncs", self.base))
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// POST signed with both headers and the test secret.
    pub async fn post(&self, body: &[u8]) -> (u16, Value) {
        self.post_raw(body, &signed(SECRET, body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Stop the server but keep its database: returns the temp dir and the SQLite URL in it.
    pub async fn stop_keep_db(self) -> (tempfile::TempDir, String) {
        self.shutdown.cancel();
        self.handle
            .await
            .expect("join")
            .expect("server ran cleanly");
        let url = format!("sqlite://{}", self.dir.path().join("ncsd.db").display());
        (self.dir, url)
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle
            .await
            .expect("join")
            .expect("server ran cleanly");
    }
}

pub fn signed(secret: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let s = Secret::new(secret);
    vec![
        (HEADER_V2, sign(Algorithm::Sha256, &s, body)),
        (HEADER_V1, sign(Algorithm::Sha1, &s, body)),
    ]
}

/// A Cloud Recording notification body.
pub fn cr_body(
    notice_id: &str,
    sid: &str,
    event_type: u32,
    sequence: i64,
    details: Value,
) -> Vec<u8> {
    serde_json::json!({
        "noticeId": notice_id,
        "productId": 3,
        "eventType": event_type,
        "notifyMs": 1_700_000_000_000i64 + sequence,
        "payload": {
            "cname": "room", "uid": "42", "sid": sid, "sequence": sequence,
            "sendts": 1_700_000_000_000i64 + sequence * 1000, "serviceType": 0, "details": details
        }
    })
    .to_string()
    .into_bytes()
}

/// A minimal Server-Sent Events reader for tests: yields (id, event, data JSON).
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    /// The number of the id (for a lifecycle message `2m+1:k`, its `2m+1`).
    pub id: u64,
    /// The id as sent.
    pub raw_id: String,
    pub event: String,
    pub data: Value,
}

impl SseReader {
    pub async fn connect(client: &reqwest::Client, url: &str, last_id: Option<u64>) -> SseReader {
        Self::connect_raw(client, url, last_id.map(|id| id.to_string()).as_deref()).await
    }

    pub async fn connect_raw(
        client: &reqwest::Client,
        url: &str,
        last_id: Option<&str>,
    ) -> SseReader {
        let mut req = client.get(url);
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id);
        }
        let res = req.send().await.expect("stream request");
        assert_eq!(res.status().as_u16(), 200);
        SseReader {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }

    /// Next message with an id (keep-alive comments skipped); None after `wait` without one.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<SseMessage> {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(raw_id) = id {
                    return Some(SseMessage {
                        id: raw_id
                            .split(':')
                            .next()
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0),
                        raw_id,
                        event,
                        data: serde_json::from_str(&data).expect("data is JSON"),
                    });
                }
                continue;
            }
            match tokio::time::timeout(wait, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}
