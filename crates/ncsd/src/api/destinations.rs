//! `/v1/destinations`: forwarding destinations, their messages, and the actions on them.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{params, AppState};
use crate::error::{ApiError, ApiResult};
use crate::forward::DestinationConfig;
use crate::store::{OutRecord, Requeue};

fn find<'a>(st: &'a AppState, name: &str) -> ApiResult<&'a DestinationConfig> {
    st.destinations
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no destination named {name:?} is configured")))
}

pub async fn summary(st: &AppState, d: &DestinationConfig) -> ApiResult<Value> {
    let row = st.store.forward_destination(&d.name).await?;
    let (pending, failed) = st.store.forward_counts(&d.name).await?;
    Ok(json!({
        "name": d.name,
        "kind": d.kind.as_str(),
        "state": row.as_ref().map_or("active", |r| r.state.as_str()),
        "lag": pending + failed,
        "pending": pending,
        "failed": failed,
        "last_success_ms": row.as_ref().and_then(|r| r.last_success_ms),
        "last_error": row.as_ref().and_then(|r| r.last_error.clone()),
        "events": d.events,
        "ordered": d.ordered,
        "event_cursor": row.as_ref().map(|r| r.event_cursor),
        "lifecycle_cursor": row.as_ref().map(|r| r.lifecycle_cursor),
    }))
}

/// Every configured destination: state, lag, failures.
#[utoipa::path(get, path = "/v1/destinations", tag = "forwarding",
    responses((status = 200, description = "`{destinations: [{name, kind, state, lag, pending, failed, last_success_ms, last_error}]}`", body = Object)))]
pub async fn list(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let mut out = Vec::new();
    for d in st.destinations.iter() {
        out.push(summary(&st, d).await?);
    }
    Ok(Json(json!({ "destinations": out })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesParams {
    /// `pending`, `failed` or `delivered`.
    pub state: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub cursor: Option<i64>,
}

fn message_json(m: &OutRecord) -> Value {
    json!({
        "id": m.id,
        "type": m.kind,
        "sid": m.sid,
        "state": m.state,
        "attempts": m.attempts,
        "next_attempt_ms": (m.state == "pending").then_some(m.next_attempt_ms),
        "created_ms": m.created_ms,
        "delivered_ms": m.delivered_ms,
        "last_error": m.last_error,
        "attempt_log": m.attempt_log,
        "body": serde_json::from_str::<Value>(&m.body).unwrap_or(Value::Null),
    })
}

/// A destination's messages, newest first, with their attempts.
#[utoipa::path(get, path = "/v1/destinations/{name}/messages", tag = "forwarding",
    params(("name" = String, Path, description = "Destination name"), MessagesParams),
    responses((status = 200, description = "`{messages: [...], next}`", body = Object),
              (status = 400, description = "Invalid query", body = crate::error::ErrorBody),
              (status = 404, description = "Unknown destination", body = crate::error::ErrorBody)))]
pub async fn messages(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    q: Result<Query<MessagesParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let name = params::path(name)?;
    let d = find(&st, &name)?;
    let p = params::query(q)?;
    if let Some(s) = p.state.as_deref() {
        if !["pending", "failed", "delivered"].contains(&s) {
            return Err(ApiError::bad_request(format!(
                "state must be pending, failed or delivered, got {s:?}"
            )));
        }
    }
    let limit = params::limit(p.limit)?;
    let rows = st
        .store
        .forward_messages(&d.name, p.state.as_deref(), p.cursor, limit)
        .await?;
    let next = rows
        .last()
        .map(|r| r.seq)
        .filter(|_| rows.len() as i64 == limit);
    Ok(Json(json!({
        "messages": rows.iter().map(message_json).collect::<Vec<_>>(),
        "next": next,
    })))
}

/// Send one message again now.
#[utoipa::path(post, path = "/v1/destinations/{name}/messages/{id}/retry", tag = "forwarding",
    params(("name" = String, Path, description = "Destination name"), ("id" = String, Path, description = "Message id")),
    responses((status = 200, description = "`{retried: 1}`", body = Object),
              (status = 404, description = "Unknown destination or message", body = crate::error::ErrorBody)))]
pub async fn retry_one(
    State(st): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let (name, id) = params::path(p)?;
    let d = find(&st, &name)?;
    let n = st
        .store
        .forward_requeue(&d.name, Requeue::One(id.clone()))
        .await?;
    if n == 0 {
        return Err(ApiError::not_found(format!(
            "destination {name:?} has no message {id:?}"
        )));
    }
    Ok(Json(json!({ "retried": n })))
}

/// Send every failed message again now.
#[utoipa::path(post, path = "/v1/destinations/{name}/retry-failed", tag = "forwarding",
    params(("name" = String, Path, description = "Destination name")),
    responses((status = 200, description = "`{retried: N}`", body = Object),
              (status = 404, description = "Unknown destination", body = crate::error::ErrorBody)))]
pub async fn retry_failed(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let name = params::path(name)?;
    let d = find(&st, &name)?;
    let n = st.store.forward_requeue(&d.name, Requeue::Failed).await?;
    Ok(Json(json!({ "retried": n })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReplayBody {
    /// Unix milliseconds or RFC 3339.
    pub since: Value,
    /// Unix milliseconds or RFC 3339 (default: now).
    pub until: Option<Value>,
}

fn time_value(name: &str, v: &Value) -> ApiResult<i64> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    params::time_ms(name, Some(&text))?.ok_or_else(|| {
        ApiError::bad_request(format!(
            "{name} must be Unix milliseconds or an RFC 3339 time"
        ))
    })
}

/// Send the destination's history in `[since, until)` again.
#[utoipa::path(post, path = "/v1/destinations/{name}/replay", tag = "forwarding",
    params(("name" = String, Path, description = "Destination name")),
    request_body = ReplayBody,
    responses((status = 200, description = "`{replayed: N}`", body = Object),
              (status = 400, description = "Invalid body", body = crate::error::ErrorBody),
              (status = 404, description = "Unknown destination", body = crate::error::ErrorBody)))]
pub async fn replay(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<ReplayBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let name = params::path(name)?;
    let d = find(&st, &name)?;
    let Json(b) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON like {{\"since\": ..., \"until\": ...}}: {}",
            e.body_text()
        ))
    })?;
    let since = time_value("since", &b.since)?;
    let until = match &b.until {
        Some(v) => time_value("until", v)?,
        None => crate::clock::now_ms() + 1,
    };
    if until <= since {
        return Err(ApiError::bad_request("until must be after since"));
    }
    let n = crate::forward::replay(&st.store, d, since, until).await?;
    Ok(Json(json!({ "replayed": n })))
}

/// Enable a destination (after a 410 disabled it).
#[utoipa::path(post, path = "/v1/destinations/{name}/enable", tag = "forwarding",
    params(("name" = String, Path, description = "Destination name")),
    responses((status = 200, description = "`{name, state: \"active\"}`", body = Object),
              (status = 404, description = "Unknown destination", body = crate::error::ErrorBody)))]
pub async fn enable(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let name = params::path(name)?;
    let d = find(&st, &name)?;
    st.store.forward_set_state(&d.name, "active", None).await?;
    Ok(Json(json!({ "name": d.name, "state": "active" })))
}
