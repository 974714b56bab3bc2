//! `/sessions`: the filterable list of recordings, newest activity first, paged with the
//! API's cursors. The filters are the query string of `GET /v1/sessions`.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::format::{duration, When};
use super::{nonempty, respond, Frame};
use crate::api::sessions::{next_cursor, session_query, SessionsParams};
use crate::api::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::store::SessionRow;
use crate::summary;

/// A session as a list shows it.
pub struct SessionLine {
    pub sid: String,
    pub project: String,
    pub cname: String,
    pub phase: String,
    pub reasons: Vec<&'static str>,
    pub events: i64,
    pub last: When,
    pub span: String,
}

/// Attention shown from the row alone (a gap needs the session's events: its page shows it).
pub fn line(row: &SessionRow, now: i64, stalled_before: i64) -> SessionLine {
    let phase = summary::phase(row.flags, row.exit_key);
    let mut reasons = Vec::new();
    if phase.as_str() == "failed" {
        reasons.push("failed");
    }
    reasons.extend(summary::attention_bits(row.flags));
    if !phase.is_terminal() && row.last_activity_ms < stalled_before {
        reasons.push("stalled");
    }
    SessionLine {
        sid: row.sid.clone(),
        project: row.project.clone(),
        cname: row.cname.clone().unwrap_or_default(),
        phase: phase.as_str().to_string(),
        reasons,
        events: row.event_count,
        last: When::at(Some(row.last_activity_ms), now),
        span: duration(
            row.first_event_ms
                .zip(row.last_event_ms)
                .map(|(a, b)| (b - a).max(0)),
        ),
    }
}

/// The form's fields: an empty field is no filter.
#[derive(Debug, Deserialize, Default)]
pub struct Filters {
    project: Option<String>,
    cname: Option<String>,
    phase: Option<String>,
    attention: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    frame: Frame,
    project: String,
    projects: Vec<String>,
    cname: String,
    phase: String,
    attention: String,
    since: String,
    until: String,
    phases: [&'static str; 5],
    reasons: [&'static str; 3],
    sessions: Vec<SessionLine>,
    next: Option<String>,
    first_page: Option<String>,
}

const PAGE: i64 = 50;

pub async fn page(State(st): State<AppState>, Query(f): Query<Filters>) -> Response {
    respond(&st, build(&st, f).await)
}

async fn build(st: &AppState, f: Filters) -> Result<SessionsPage, ApiError> {
    let params = SessionsParams {
        cname: nonempty(&f.cname),
        phase: nonempty(&f.phase),
        attention: nonempty(&f.attention),
        project: nonempty(&f.project),
        since: nonempty(&f.since),
        until: nonempty(&f.until),
        limit: Some(PAGE),
        cursor: nonempty(&f.cursor),
    };
    let query = session_query(st, params)?;
    let rows = st.store.sessions(&query).await?;
    let now = now_ms();
    let stalled_before = now - st.stall_after.as_millis() as i64;
    let filters = |cursor: Option<&str>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("project", &f.project),
            ("cname", &f.cname),
            ("phase", &f.phase),
            ("attention", &f.attention),
            ("since", &f.since),
            ("until", &f.until),
        ] {
            if let Some(v) = nonempty(v) {
                q.append_pair(k, &v);
            }
        }
        if let Some(c) = cursor {
            q.append_pair("cursor", c);
        }
        format!("/sessions?{}", q.finish())
    };
    let next = next_cursor(&rows, query.limit).map(|c| filters(Some(&c)));
    let first_page = nonempty(&f.cursor).map(|_| filters(None));
    Ok(SessionsPage {
        frame: Frame {
            title: "Sessions".into(),
            nav: "sessions",
            live: "all".into(),
            signed_in: st.api_token.is_some(),
        },
        sessions: rows.iter().map(|r| line(r, now, stalled_before)).collect(),
        project: nonempty(&f.project).unwrap_or_default(),
        projects: st.projects.as_ref().clone(),
        cname: nonempty(&f.cname).unwrap_or_default(),
        phase: nonempty(&f.phase).unwrap_or_default(),
        attention: nonempty(&f.attention).unwrap_or_default(),
        since: nonempty(&f.since).unwrap_or_default(),
        until: nonempty(&f.until).unwrap_or_default(),
        phases: summary::PHASES,
        reasons: ["fatal_error", "abnormal_status", "stalled"],
        next,
        first_page,
    })
}
