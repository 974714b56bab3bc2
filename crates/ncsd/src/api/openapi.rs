//! `GET /v1/openapi.json`. Placeholder until the OpenAPI document is generated.
use axum::Json;
use serde_json::{json, Value};

pub async fn document() -> Json<Value> {
    Json(json!({}))
}
