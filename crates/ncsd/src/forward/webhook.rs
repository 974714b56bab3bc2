//! One delivery attempt to a webhook: a signed POST (Standard Webhooks headers), its outcome
//! read from the status.

use std::time::{Duration, Instant};

use super::config::DestinationConfig;
use super::sign;

/// What one attempt saw.
pub struct Sent {
    pub status: Option<u16>,
    pub error: Option<String>,
    /// `Retry-After` of a 429 or 503, when given.
    pub retry_after: Option<Duration>,
    pub latency: Duration,
}

pub struct Webhook {
    url: reqwest::Url,
    keys: Vec<Vec<u8>>,
    client: reqwest::Client,
    allow_private: bool,
}

impl Webhook {
    pub fn new(d: &DestinationConfig) -> Result<Self, String> {
        let url =
            reqwest::Url::parse(d.url.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
        let mut client = reqwest::Client::builder()
            .timeout(d.timeout()?)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ncsd/", env!("CARGO_PKG_VERSION")));
        if !d.allow_private {
            client = client.dns_resolver(std::sync::Arc::new(super::ssrf::GuardedResolver));
        }
        Ok(Webhook {
            url,
            keys: d.secrets()?,
            client: client.build().map_err(|e| e.to_string())?,
            allow_private: d.allow_private,
        })
    }

    pub async fn send(&self, id: &str, body: &str) -> Sent {
        let started = Instant::now();
        if !self.allow_private {
            if let Err(e) = super::ssrf::check_literal(&self.url) {
                return Sent {
                    status: None,
                    error: Some(e),
                    retry_after: None,
                    latency: started.elapsed(),
                };
            }
        }
        let ts = crate::clock::now_ms() / 1000;
        let res = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                sign::signature(&self.keys, id, ts, body.as_bytes()),
            )
            .body(body.to_string())
            .send()
            .await;
        match res {
            Ok(r) => {
                let status = r.status().as_u16();
                let retry_after = matches!(status, 429 | 503)
                    .then(|| r.headers().get("retry-after"))
                    .flatten()
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let error = (!r.status().is_success()).then(|| format!("HTTP {status}"));
                // Read the answer so the connection can be reused; its content is not ours.
                let _ = r.bytes().await;
                Sent {
                    status: Some(status),
                    error,
                    retry_after,
                    latency: started.elapsed(),
                }
            }
            Err(e) => Sent {
                status: None,
                error: Some(error_chain(&e)),
                retry_after: None,
                latency: started.elapsed(),
            },
        }
    }
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(s) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The error with its causes (a refused address says why only in its source).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}
