//! `/destinations`: each forwarding destination's state and lag, its failed messages with
//! their attempts, and the buttons that call the forwarding API (retry, retry failed, replay,
//! enable).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use super::format::When;
use super::{respond, Frame};
use crate::api::destinations::summary;
use crate::api::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;

/// Failed messages listed per destination.
const FAILED_LISTED: i64 = 20;

pub struct DestinationLine {
    pub name: String,
    pub kind: String,
    pub state: String,
    pub lag: i64,
    pub pending: i64,
    pub failed: i64,
    pub last_success: When,
    pub last_error: String,
}

pub struct FailedMessage {
    pub id: String,
    pub kind: String,
    pub sid: String,
    pub attempts: Vec<AttemptLine>,
    pub last_error: String,
}

pub struct AttemptLine {
    pub when: When,
    pub outcome: String,
    pub latency_ms: i64,
}

pub struct DestinationBlock {
    pub line: DestinationLine,
    pub failed: Vec<FailedMessage>,
}

/// Every configured destination, as `GET /v1/destinations` shows it.
pub async fn summaries(st: &AppState) -> Result<Vec<DestinationLine>, ApiError> {
    let now = now_ms();
    let mut out = Vec::new();
    for d in st.destinations.iter() {
        let v: Value = summary(st, d).await?;
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        out.push(DestinationLine {
            name: text("name"),
            kind: text("kind"),
            state: text("state"),
            lag: v["lag"].as_i64().unwrap_or(0),
            pending: v["pending"].as_i64().unwrap_or(0),
            failed: v["failed"].as_i64().unwrap_or(0),
            last_success: When::at(v["last_success_ms"].as_i64(), now),
            last_error: text("last_error"),
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "destinations.html")]
struct DestinationsPage {
    frame: Frame,
    destinations: Vec<DestinationBlock>,
}

pub async fn page(State(st): State<AppState>) -> Response {
    respond(&st, build(&st).await)
}

async fn build(st: &AppState) -> Result<DestinationsPage, ApiError> {
    let now = now_ms();
    let mut destinations = Vec::new();
    for line in summaries(st).await? {
        let rows = st
            .store
            .forward_messages(&line.name, Some("failed"), None, FAILED_LISTED)
            .await?;
        let failed = rows
            .into_iter()
            .map(|m| FailedMessage {
                attempts: m
                    .attempt_log
                    .iter()
                    .map(|a| AttemptLine {
                        when: When::at(Some(a.at_ms), now),
                        outcome: match (a.status, &a.error) {
                            (Some(s), _) => format!("HTTP {s}"),
                            (None, Some(e)) => e.clone(),
                            (None, None) => "sent".into(),
                        },
                        latency_ms: a.latency_ms,
                    })
                    .collect(),
                id: m.id,
                kind: m.kind,
                sid: m.sid.unwrap_or_default(),
                last_error: m.last_error.unwrap_or_default(),
            })
            .collect();
        destinations.push(DestinationBlock { line, failed });
    }
    Ok(DestinationsPage {
        frame: Frame {
            title: "Destinations".into(),
            nav: "destinations",
            live: "all".into(),
            signed_in: st.api_token.is_some(),
        },
        destinations,
    })
}
