//! `/events` (filter by type, sid, cname; newest first; raw JSON on demand) and `/quarantine`
//! (reason and body).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::format::When;
use super::{nonempty, respond, Frame};
use crate::api::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::store::EventQuery;

const PAGE: i64 = 50;

#[derive(Debug, Deserialize, Default)]
pub struct EventFilters {
    #[serde(rename = "type")]
    kind: Option<String>,
    sid: Option<String>,
    cname: Option<String>,
    project: Option<String>,
    /// Older than this cursor (the next page).
    before: Option<String>,
}

pub struct EventLine {
    pub cursor: i64,
    pub project: String,
    pub notice_id: String,
    pub event_type: i64,
    pub name: String,
    pub sid: String,
    pub cname: String,
    pub sequence: String,
    pub received: When,
    pub deliveries: i64,
    pub copy_of: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    frame: Frame,
    project: String,
    projects: Vec<String>,
    kind: String,
    sid: String,
    cname: String,
    events: Vec<EventLine>,
    next: Option<String>,
}

pub async fn events(State(st): State<AppState>, Query(f): Query<EventFilters>) -> Response {
    respond(&st, build_events(&st, f).await)
}

async fn build_events(st: &AppState, f: EventFilters) -> Result<EventsPage, ApiError> {
    let number = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        nonempty(v)
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("{name} must be a whole number, got {s:?}"))
                })
            })
            .transpose()
    };
    let query = EventQuery {
        after: 0,
        limit: PAGE,
        event_type: number("type", &f.kind)?,
        sid: nonempty(&f.sid),
        cname: nonempty(&f.cname),
        project: nonempty(&f.project),
        before: Some(number("before", &f.before)?.unwrap_or(i64::MAX)),
        ..Default::default()
    };
    let rows = st.store.events(&query).await?;
    let now = now_ms();
    let next = rows
        .last()
        .filter(|_| rows.len() as i64 == PAGE)
        .map(|last| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in [
                ("type", &f.kind),
                ("sid", &f.sid),
                ("cname", &f.cname),
                ("project", &f.project),
            ] {
                if let Some(v) = nonempty(v) {
                    q.append_pair(k, &v);
                }
            }
            q.append_pair("before", &last.seq.to_string());
            format!("/events?{}", q.finish())
        });
    let events = rows
        .iter()
        .map(|e| EventLine {
            cursor: e.seq,
            project: e.project.clone(),
            notice_id: e.notice_id.clone(),
            event_type: e.event_type,
            name: u32::try_from(e.event_type)
                .ok()
                .filter(|_| e.product_id == 3)
                .and_then(agora_ncs::event_name)
                .unwrap_or("")
                .to_string(),
            sid: e.sid.clone().unwrap_or_default(),
            cname: e.cname.clone().unwrap_or_default(),
            sequence: e.sequence.map_or_else(String::new, |s| s.to_string()),
            received: When::at(Some(e.received_at_ms), now),
            deliveries: e.deliveries,
            copy_of: e.copy_of.clone().unwrap_or_default(),
        })
        .collect();
    Ok(EventsPage {
        frame: Frame {
            title: "Events".into(),
            nav: "events",
            live: "all".into(),
            signed_in: st.api_token.is_some(),
        },
        project: nonempty(&f.project).unwrap_or_default(),
        projects: st.projects.as_ref().clone(),
        kind: nonempty(&f.kind).unwrap_or_default(),
        sid: nonempty(&f.sid).unwrap_or_default(),
        cname: nonempty(&f.cname).unwrap_or_default(),
        events,
        next,
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct QuarantineFilters {
    after: Option<i64>,
}

pub struct QuarantineLine {
    pub id: i64,
    pub received: When,
    pub reason: String,
    pub deliveries: i64,
    pub body: String,
}

#[derive(Template)]
#[template(path = "quarantine.html")]
struct QuarantinePage {
    frame: Frame,
    items: Vec<QuarantineLine>,
    next: Option<String>,
}

/// Bodies are shown as text up to this many bytes.
const BODY_SHOWN: usize = 4096;

pub async fn quarantine(
    State(st): State<AppState>,
    Query(f): Query<QuarantineFilters>,
) -> Response {
    respond(&st, build_quarantine(&st, f).await)
}

async fn build_quarantine(st: &AppState, f: QuarantineFilters) -> Result<QuarantinePage, ApiError> {
    let rows = st.store.quarantined(f.after.unwrap_or(0), PAGE).await?;
    let now = now_ms();
    let next = rows
        .last()
        .filter(|_| rows.len() as i64 == PAGE)
        .map(|r| format!("/quarantine?after={}", r.id));
    let items = rows
        .into_iter()
        .map(|q| {
            let shown = &q.body[..q.body.len().min(BODY_SHOWN)];
            let mut body = String::from_utf8_lossy(shown).into_owned();
            if q.body.len() > BODY_SHOWN {
                body.push_str(&format!("\n… ({} bytes in all)", q.body.len()));
            }
            QuarantineLine {
                id: q.id,
                received: When::at(Some(q.received_at_ms), now),
                reason: q.reason,
                deliveries: q.deliveries,
                body,
            }
        })
        .collect();
    Ok(QuarantinePage {
        frame: Frame {
            title: "Quarantine".into(),
            nav: "quarantine",
            live: "all".into(),
            signed_in: st.api_token.is_some(),
        },
        items,
        next,
    })
}
