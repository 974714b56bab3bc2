//! `GET /v1/lifecycle`: lifecycle events in the order recorded.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{params, AppState};
use crate::error::{ApiError, ApiResult};
use crate::lifecycle::Kind;
use crate::store::{LifecycleQuery, LifecycleRecord};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LifecycleParams {
    /// Cursor: only lifecycle events recorded after it (the `next` or `cursor` of a page).
    pub after: Option<i64>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `recording.started`, `recording.stopped`, `recording.completed`, `recording.failed`,
    /// `recording.fatal_error` or `recording.stalled`.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<super::params::LifecycleType>, inline)]
    pub kind: Option<String>,
    pub sid: Option<String>,
    pub cname: Option<String>,
    /// Only this Agora project's lifecycle events.
    pub project: Option<String>,
}

/// The message as recorded, with its cursor.
pub fn record_json(r: &LifecycleRecord) -> Value {
    let mut v = crate::forward::message::with_project(r);
    if let Some(o) = v.as_object_mut() {
        o.insert("cursor".into(), json!(r.seq));
    }
    v
}

/// Lifecycle events in the order recorded.
#[utoipa::path(get, path = "/v1/lifecycle", params(LifecycleParams), tag = "lifecycle",
    responses((status = 200, description = "`{lifecycle: [...], next, cursor}`; `next` is null on the last page", body = Object),
              (status = 400, description = "Invalid query", body = crate::error::ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    q: Result<Query<LifecycleParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let p = params::query(q)?;
    if let Some(k) = p.kind.as_deref() {
        if !Kind::ALL.iter().any(|kind| kind.as_str() == k) {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "type must be one of {}, got {k:?}",
                known.join(", ")
            )));
        }
    }
    let query = LifecycleQuery {
        after_seq: p.after.unwrap_or(0).max(0),
        limit: params::limit(p.limit)?,
        kind: p.kind,
        sid: p.sid,
        cname: p.cname,
        project: p.project,
        ..Default::default()
    };
    let rows = st.store.lifecycle(&query).await?;
    let last = rows.last().map(|r| r.seq);
    let next = last.filter(|_| rows.len() as i64 == query.limit);
    Ok(Json(json!({
        "lifecycle": rows.iter().map(record_json).collect::<Vec<_>>(),
        "next": next,
        "cursor": last.unwrap_or(query.after_seq),
    })))
}

/// A session's lifecycle events, oldest first (for `GET /v1/sessions/{sid}`).
pub async fn of_session(st: &AppState, sid: &str) -> ApiResult<Vec<Value>> {
    let rows = st
        .store
        .lifecycle(&LifecycleQuery {
            sid: Some(sid.to_string()),
            limit: Kind::ALL.len() as i64,
            ..Default::default()
        })
        .await?;
    Ok(rows.iter().map(record_json).collect())
}
