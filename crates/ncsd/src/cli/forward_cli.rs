//! Forwarding from the command line: `ncsd check-config`, `destinations`, `messages`, `retry`,
//! `replay` (clients of the API), and `listen`, a local receiver that checks Standard Webhooks
//! signatures and prints what arrives, for wiring a destination up.

use std::path::PathBuf;
use std::process::ExitCode;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::Args;
use serde_json::{json, Value};

use super::query::{enc, text, ApiArgs};
use crate::forward::sign;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The TOML file, as for `serve --config`.
    pub file: PathBuf,
}

/// The file was read and exported before the flags were parsed (`cli::main`); what is left is
/// the checks that need every setting, then the summary.
pub fn check_config(a: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let file = match crate::config_file::load(&a.file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let cfg =
        match crate::config::ServeConfig::from_args(["--config", &a.file.display().to_string()]) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {}: {e}", a.file.display());
                return Ok(ExitCode::from(2));
            }
        };
    if let Err(e) = cfg.validate() {
        eprintln!("error: {}: {e}", a.file.display());
        return Ok(ExitCode::from(2));
    }
    println!("{}: valid", a.file.display());
    println!("serve {cfg:#?}");
    for p in &file.projects {
        println!("project {p:#?}");
    }
    for d in &file.destinations {
        println!("destination {d:#?}");
    }
    if let Some(a) = &file.agora {
        println!("agora {a:#?}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct DestinationsArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

pub async fn destinations(a: DestinationsArgs) -> anyhow::Result<ExitCode> {
    let body = a.api.get("/v1/destinations").await?;
    if a.api.json {
        println!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    for d in body["destinations"].as_array().into_iter().flatten() {
        println!(
            "{:<20} {:<8} {:<8} lag {:>6}  pending {:>6}  failed {:>6}  last success {}  last error: {}",
            text(&d["name"]),
            text(&d["kind"]),
            text(&d["state"]),
            text(&d["lag"]),
            text(&d["pending"]),
            text(&d["failed"]),
            a.api.when(&d["last_success_ms"]),
            text(&d["last_error"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct MessagesArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The destination's name.
    pub name: String,
    /// Only the failed messages (the dead letters).
    #[arg(long)]
    pub failed: bool,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

pub async fn messages(a: MessagesArgs) -> anyhow::Result<ExitCode> {
    let mut q = format!(
        "/v1/destinations/{}/messages?limit={}",
        enc(&a.name),
        a.limit
    );
    if a.failed {
        q.push_str("&state=failed");
    }
    let body = a.api.get(&q).await?;
    if a.api.json {
        println!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        println!(
            "{:<40} {:<22} {:<9} attempts {:>2}  {:<14} {}",
            text(&m["id"]),
            text(&m["type"]),
            text(&m["state"]),
            text(&m["attempts"]),
            a.api.when(&m["created_ms"]),
            text(&m["last_error"])
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The destination's name.
    pub name: String,
    /// The message id to send again.
    #[arg(required_unless_present = "failed")]
    pub id: Option<String>,
    /// Every failed message instead.
    #[arg(long, conflicts_with = "id")]
    pub failed: bool,
}

pub async fn retry(a: RetryArgs) -> anyhow::Result<ExitCode> {
    let path = match &a.id {
        Some(id) => format!(
            "/v1/destinations/{}/messages/{}/retry",
            enc(&a.name),
            enc(id)
        ),
        None => format!("/v1/destinations/{}/retry-failed", enc(&a.name)),
    };
    let body = a.api.post(&path, json!({})).await?;
    println!(
        "{}",
        if a.api.json {
            body.to_string()
        } else {
            format!("retried {}", text(&body["retried"]))
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// The destination's name.
    pub name: String,
    /// From this time: Unix milliseconds or RFC 3339.
    #[arg(long)]
    pub since: String,
    /// Until this time (default: now).
    #[arg(long)]
    pub until: Option<String>,
}

pub async fn replay(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let mut body = json!({ "since": a.since });
    if let Some(u) = &a.until {
        body["until"] = json!(u);
    }
    let res = a
        .api
        .post(&format!("/v1/destinations/{}/replay", enc(&a.name)), body)
        .await?;
    println!(
        "{}",
        if a.api.json {
            res.to_string()
        } else {
            format!("replayed {}", text(&res["replayed"]))
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// The destination's signing secret (whsec_...); repeat while rotating.
    #[arg(long, required = true)]
    pub secret: Vec<String>,
    /// Answer with this status (to try a destination's retries: 500, 429, 410).
    #[arg(long, default_value_t = 200)]
    pub status: u16,
}

struct Listener {
    keys: Vec<Vec<u8>>,
    status: StatusCode,
}

pub async fn listen(a: ListenArgs) -> anyhow::Result<ExitCode> {
    let keys = a
        .secret
        .iter()
        .map(|s| sign::decode_secret(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--secret: {e}"))?;
    let state = std::sync::Arc::new(Listener {
        keys,
        status: StatusCode::from_u16(a.status)?,
    });
    let app = axum::Router::new()
        .fallback(post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", a.port)).await?;
    eprintln!("listening on http://{}/ (any path)", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(ExitCode::SUCCESS)
}

/// Verify, print one JSON line per message, answer.
async fn receive(
    State(st): State<std::sync::Arc<Listener>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let ts_num: i64 = ts.parse().unwrap_or(0);
    let fresh = (crate::clock::now_ms() / 1000 - ts_num).abs() <= 300;
    let verified = fresh
        && st
            .keys
            .iter()
            .any(|k| sign::verify(k, id, ts_num, &body, sig));
    let data: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    println!(
        "{}",
        json!({"verified": verified, "webhook_id": id, "type": data["type"], "message": data})
    );
    if !verified {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": "signature does not verify (or the timestamp is more than 5 minutes off)"}),
            ),
        );
    }
    (st.status, axum::Json(json!({"ok": st.status.is_success()})))
}
