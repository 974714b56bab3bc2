//! `/`: sessions by phase, the sessions that need a look, deliveries per minute over the last
//! hour, the quarantine, and each destination's state and lag.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::charts::{self, Column};
use super::destinations::{summaries, DestinationLine};
use super::format::When;
use super::sessions::{line, SessionLine};
use super::{respond, Frame};
use crate::api::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::store::SessionQuery;
use crate::summary;

/// Sessions listed under "needs a look".
const ATTENTION_LISTED: i64 = 20;

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    phases: Vec<(&'static str, i64)>,
    attention_counts: Vec<(String, i64)>,
    attention: Vec<SessionLine>,
    columns: Vec<Column>,
    busiest: i64,
    last_hour: i64,
    quarantined: i64,
    destinations: Vec<DestinationLine>,
    updated: When,
}

pub async fn page(State(st): State<AppState>) -> Response {
    respond(&st, build(&st).await)
}

async fn build(st: &AppState) -> Result<OverviewPage, ApiError> {
    let now = now_ms();
    let stalled_before = now - st.stall_after.as_millis() as i64;
    let stats = st.store.stats(stalled_before).await?;
    let phases = summary::PHASES
        .iter()
        .map(|p| {
            let n = stats
                .phases
                .iter()
                .find(|(name, _)| name == p)
                .map_or(0, |(_, n)| *n);
            (*p, n)
        })
        .collect();
    let failed = stats
        .phases
        .iter()
        .find(|(p, _)| p == "failed")
        .map_or(0, |(_, n)| *n);
    let mut attention_counts = vec![("failed".to_string(), failed)];
    attention_counts.extend(stats.attention.iter().cloned());

    // Newest first across the reasons the rows show: failed, fatal errors, abnormal statuses,
    // stalled.
    let base = SessionQuery {
        limit: ATTENTION_LISTED,
        ..Default::default()
    };
    let queries = [
        SessionQuery {
            phase: Some("failed".into()),
            ..base.clone()
        },
        SessionQuery {
            flags_any: Some(summary::FATAL_ERROR | summary::ABNORMAL_STATUS),
            ..base.clone()
        },
        SessionQuery {
            unfinished_before: Some(stalled_before),
            ..base
        },
    ];
    let mut found = BTreeMap::new();
    for q in &queries {
        for row in st.store.sessions(q).await? {
            found.insert((row.last_activity_ms, row.sid.clone()), row);
        }
    }
    let attention = found
        .values()
        .rev()
        .take(ATTENTION_LISTED as usize)
        .map(|r| line(r, now, stalled_before))
        .collect();

    let activity = st.store.activity(now - 3_600_000).await?;
    let (columns, busiest) = charts::per_minute(&activity.per_minute, now, 60, 134.0);
    Ok(OverviewPage {
        frame: Frame {
            title: "Overview".into(),
            nav: "overview",
            live: "all".into(),
            signed_in: st.api_token.is_some(),
        },
        phases,
        attention_counts,
        attention,
        last_hour: columns.iter().map(|c| c.count).sum(),
        columns,
        busiest,
        quarantined: activity.quarantined,
        destinations: summaries(st).await?,
        updated: When::at(Some(now), now),
    })
}
