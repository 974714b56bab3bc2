//! API clients for people and scripts: `ncsd sessions`, `ncsd session SID`, `ncsd events
//! [--follow]`. Tables by default, `--json` for scripts.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use serde_json::Value;

use crate::config::SecretArg;

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of a running ncsd (its API listener).
    #[arg(long, env = "NCSD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Bearer token for the API (--api-token of the server).
    #[arg(long, env = "NCSD_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<SecretArg>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show times as RFC 3339 UTC instead of "3 min ago".
    #[arg(long)]
    pub utc: bool,
}

impl ApiArgs {
    /// A time in Unix ms (or RFC 3339 text), as `--utc` asks: "3 min ago" or RFC 3339.
    pub fn when(&self, v: &Value) -> String {
        let ms = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => humantime::parse_rfc3339_weak(s)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as i64),
            _ => None,
        };
        match ms {
            None => "-".into(),
            Some(ms) if self.utc => crate::clock::rfc3339(ms),
            Some(ms) => crate::clock::ago(ms, crate::clock::now_ms()),
        }
    }

    pub async fn get(&self, path_and_query: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path_and_query, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.url.trim_end_matches('/'), path_and_query);
        let mut req = reqwest::Client::new().request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(t) = &self.api_token {
            req = req.bearer_auth(t.0.expose());
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = res.status();
        let body: Value = res
            .json()
            .await
            .with_context(|| format!("{url} did not answer JSON"))?;
        if !status.is_success() {
            anyhow::bail!(
                "{url}: {status}: {}",
                body["error"].as_str().unwrap_or("error")
            );
        }
        Ok(body)
    }
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[arg(long)]
    pub cname: Option<String>,
    /// failed, completed, uploading, recording or starting
    #[arg(long)]
    pub phase: Option<String>,
    /// Only this Agora project (a `[[project]]` name; `default` without one).
    #[arg(long)]
    pub project: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn sessions(a: SessionsArgs) -> anyhow::Result<ExitCode> {
    let mut q = format!("/v1/sessions?limit={}", a.limit);
    if let Some(c) = &a.cname {
        q.push_str(&format!("&cname={}", enc(c)));
    }
    if let Some(p) = &a.phase {
        q.push_str(&format!("&phase={}", enc(p)));
    }
    if let Some(p) = &a.project {
        q.push_str(&format!("&project={}", enc(p)));
    }
    let body = a.api.get(&q).await?;
    if a.api.json {
        println!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<34} {:<16} {:<10} {:>6} {:>24}",
        "SID", "CNAME", "PHASE", "EVENTS", "LAST ACTIVITY"
    );
    for s in body["sessions"].as_array().into_iter().flatten() {
        println!(
            "{:<34} {:<16} {:<10} {:>6} {:>24}",
            text(&s["sid"]),
            text(&s["cname"]),
            text(&s["phase"]),
            text(&s["event_count"]),
            a.api.when(&s["last_activity_ms"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The recording's sid.
    pub sid: String,
}

pub async fn session(a: SessionArgs) -> anyhow::Result<ExitCode> {
    let state = a.api.get(&format!("/v1/sessions/{}", enc(&a.sid))).await?;
    // Every page of the session's events.
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/sessions/{}/events", enc(&a.sid));
        if let Some(c) = &cursor {
            path.push_str(&format!("?cursor={}", enc(c)));
        }
        let page = a.api.get(&path).await?;
        all.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    let events = serde_json::json!({ "events": all });
    if a.api.json {
        println!(
            "{}",
            serde_json::json!({"session": state, "events": events["events"]})
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "session {}  cname {}  phase {}  events {}  missing {}",
        text(&state["sid"]),
        text(&state["cname"]),
        text(&state["phase"]),
        text(&state["event_count"]),
        text(&state["missing_sequences"])
    );
    let mut expected = 0i64;
    for e in events["events"].as_array().into_iter().flatten() {
        if let Some(seq) = e["sequence"].as_i64() {
            if seq > expected {
                let gap = if seq - expected == 1 {
                    format!("{expected}")
                } else {
                    format!("{expected}-{}", seq - 1)
                };
                println!("  ~~ gap: sequence {gap} never arrived");
            }
            expected = expected.max(seq + 1);
        }
        println!(
            "  #{:<4} {:>15}  {:>4} {:<40} {}",
            text(&e["sequence"]),
            text(&e["sendts"]),
            text(&e["event_type"]),
            text(&e["event_name"]),
            e["details"]
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Keep running and print events as they are stored (the live stream).
    #[arg(long)]
    pub follow: bool,
    #[arg(long)]
    pub sid: Option<String>,
    #[arg(long)]
    pub event_type: Option<i64>,
    /// Only this Agora project (a `[[project]]` name; `default` without one).
    #[arg(long)]
    pub project: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

fn event_line(e: &Value) -> String {
    format!(
        "{:>8} {:<34} {:>4} {:<36} sid={} seq={} deliveries={}",
        text(&e["cursor"]),
        text(&e["notice_id"]),
        text(&e["event_type"]),
        text(&e["event_name"]),
        text(&e["sid"]),
        text(&e["sequence"]),
        text(&e["deliveries"])
    )
}

pub async fn events(a: EventsArgs) -> anyhow::Result<ExitCode> {
    if a.follow {
        return follow(&a.api, false, a.project.as_deref()).await;
    }
    let mut q = format!("/v1/events?limit={}", a.limit);
    if let Some(s) = &a.sid {
        q.push_str(&format!("&sid={}", enc(s)));
    }
    if let Some(t) = a.event_type {
        q.push_str(&format!("&event_type={t}"));
    }
    if let Some(p) = &a.project {
        q.push_str(&format!("&project={}", enc(p)));
    }
    let body = a.api.get(&q).await?;
    if a.api.json {
        println!("{body}");
    } else {
        for e in body["events"].as_array().into_iter().flatten() {
            println!("{}", event_line(e));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LifecycleArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Keep running and print lifecycle events as they are recorded (the live stream).
    #[arg(long)]
    pub follow: bool,
    /// Only this type, e.g. recording.completed.
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(long)]
    pub sid: Option<String>,
    #[arg(long)]
    pub cname: Option<String>,
    /// Only this Agora project (a `[[project]]` name; `default` without one).
    #[arg(long)]
    pub project: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

fn lifecycle_line(api: &ApiArgs, v: &Value) -> String {
    let d = &v["data"];
    format!(
        "{:>8} {:<24} {} sid={} cname={} {} -> {}",
        text(&v["cursor"]),
        text(&v["type"]),
        api.when(&v["timestamp"]),
        text(&d["sid"]),
        text(&d["cname"]),
        text(&d["previous_phase"]),
        text(&d["phase"])
    )
}

pub async fn lifecycle(a: LifecycleArgs) -> anyhow::Result<ExitCode> {
    if a.follow {
        return follow(&a.api, true, a.project.as_deref()).await;
    }
    let mut q = format!("/v1/lifecycle?limit={}", a.limit);
    for (key, value) in [
        ("type", &a.kind),
        ("sid", &a.sid),
        ("cname", &a.cname),
        ("project", &a.project),
    ] {
        if let Some(v) = value {
            q.push_str(&format!("&{key}={}", enc(v)));
        }
    }
    let body = a.api.get(&q).await?;
    if a.api.json {
        println!("{body}");
    } else {
        for e in body["lifecycle"].as_array().into_iter().flatten() {
            println!("{}", lifecycle_line(&a.api, e));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Tail `/v1/stream`, reconnecting with `Last-Event-ID` so nothing is missed or repeated;
/// `only_lifecycle` prints the lifecycle messages alone.
async fn follow(
    api: &ApiArgs,
    only_lifecycle: bool,
    project: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let mut url = format!("{}/v1/stream", api.url.trim_end_matches('/'));
    if let Some(p) = project {
        url.push_str(&format!("?project={}", enc(p)));
    }
    let mut last_id: Option<String> = None;
    loop {
        let mut req = reqwest::Client::new().get(&url);
        if let Some(t) = &api.api_token {
            req = req.bearer_auth(t.0.expose());
        }
        if let Some(id) = &last_id {
            req = req.header("Last-Event-ID", id);
        }
        let res = match req.send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => anyhow::bail!("{url}: {}", r.status()),
            Err(e) => {
                eprintln!("stream: {e}; reconnecting");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut body = res.bytes_stream();
        let mut buf = String::new();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { break };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, "message".to_string(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if id.is_some() {
                    last_id = id;
                }
                if data.is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                if only_lifecycle && kind != "lifecycle" {
                    continue;
                }
                if api.json {
                    println!("{}", serde_json::json!({"type": kind, "data": v}));
                } else if kind == "event" {
                    println!("{}", event_line(&v));
                } else if kind == "lifecycle" {
                    println!("{}", lifecycle_line(api, &v));
                } else {
                    println!(
                        "{:>8} session {} is {} ({} events)",
                        "",
                        text(&v["sid"]),
                        text(&v["phase"]),
                        text(&v["event_count"])
                    );
                }
            }
        }
    }
}
