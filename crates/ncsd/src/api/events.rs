//! `GET /v1/events` (arrival order, cursor, filters) and `GET /v1/events/{noticeId}`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::params;
use super::view::event_json;
use super::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::EventQuery;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Cursor: only events stored after it (the `next` or `cursor` of a previous page).
    pub after: Option<i64>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    pub event_type: Option<i64>,
    pub product_id: Option<i64>,
    pub sid: Option<String>,
    pub cname: Option<String>,
    /// Received at or after: Unix milliseconds (or RFC 3339).
    #[param(pattern = r"^(|-?[0-9]{1,15})$")]
    pub since: Option<String>,
    /// Only this Agora project's events (`[[project]]` name; `default` without).
    pub project: Option<String>,
}

/// Stored events in arrival (storage) order.
#[utoipa::path(get, path = "/v1/events", params(EventsParams), tag = "events",
    responses((status = 200, description = "`{events: [...], next, cursor}`; `next` is null on the last page", body = Object),
              (status = 400, description = "Invalid query", body = crate::error::ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    q: Result<Query<EventsParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let p = params::query(q)?;
    let query = EventQuery {
        after: p.after.unwrap_or(0),
        limit: params::limit(p.limit)?,
        event_type: p.event_type,
        product_id: p.product_id,
        sid: p.sid,
        cname: p.cname,
        since: params::time_ms("since", p.since.as_deref())?,
        before: None,
        project: p.project,
    };
    let events = st.store.events(&query).await?;
    let last = events.last().map(|e| e.seq);
    // `next` is set only while more may follow (a full page); `cursor` always says where this
    // page ended, for clients that poll for new events.
    let next = last.filter(|_| events.len() as i64 == query.limit);
    Ok(Json(json!({
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "next": next,
        "cursor": last.unwrap_or(query.after),
    })))
}

/// One stored event with its raw body and delivery count.
#[utoipa::path(get, path = "/v1/events/{notice_id}", tag = "events",
    params(("notice_id" = String, Path, description = "The NCS noticeId")),
    responses((status = 200, description = "The event", body = Object),
              (status = 404, description = "Unknown noticeId", body = crate::error::ErrorBody)))]
pub async fn one(
    State(st): State<AppState>,
    notice_id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let notice_id = params::path(notice_id)?;
    match st.store.event(&notice_id).await? {
        Some(e) => Ok(Json(event_json(&e))),
        None => Err(ApiError::not_found(format!(
            "no event with noticeId {notice_id:?} is stored"
        ))),
    }
}
