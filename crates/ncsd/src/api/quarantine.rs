//! `GET /v1/quarantine`: signed bodies that could not be read, with the reason.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{params, AppState};
use crate::error::ApiResult;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuarantineParams {
    pub after: Option<i64>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Signed bodies that could not be read as NCS notifications, with the reason.
#[utoipa::path(get, path = "/v1/quarantine", params(QuarantineParams), tag = "events",
    responses((status = 200, description = "`{quarantine: [...], next}`", body = Object),
              (status = 400, description = "Invalid query", body = crate::error::ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    q: Result<Query<QuarantineParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let p = params::query(q)?;
    let limit = params::limit(p.limit)?;
    let items = st.store.quarantined(p.after.unwrap_or(0), limit).await?;
    let next = items
        .last()
        .map(|i| i.id)
        .filter(|_| items.len() as i64 == limit);
    let items: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "received_at_ms": i.received_at_ms,
                "reason": i.reason,
                "deliveries": i.deliveries,
                "last_received_at_ms": i.last_received_at_ms.unwrap_or(i.received_at_ms),
                "body": String::from_utf8_lossy(&i.body),
                "body_hex": if std::str::from_utf8(&i.body).is_err() { Some(hex::encode(&i.body)) } else { None },
                "headers": serde_json::from_str::<Value>(&i.headers).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(Json(json!({ "quarantine": items, "next": next })))
}
