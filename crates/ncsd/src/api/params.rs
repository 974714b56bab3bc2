//! Query-string parsing with JSON errors (axum's own rejections answer plain text).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};

use crate::error::{ApiError, ApiResult};

pub fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))
}

pub fn path<T>(p: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))
}

/// What the time parameters' schema declares: Unix milliseconds (RFC 3339, also accepted, is
/// not in the pattern: no pattern tells a real date from 2026-02-30).
pub const TIME_PATTERN: &str = r"^(|-?[0-9]{1,15})$";

/// The phases, for the schema of `phase`.
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PhaseName {
    Failed,
    Completed,
    Uploading,
    Recording,
    Starting,
}

/// The lifecycle event types, for the schema of `type`.
#[derive(Debug, utoipa::ToSchema)]
pub enum LifecycleType {
    #[schema(rename = "recording.started")]
    Started,
    #[schema(rename = "recording.stopped")]
    Stopped,
    #[schema(rename = "recording.completed")]
    Completed,
    #[schema(rename = "recording.failed")]
    Failed,
    #[schema(rename = "recording.fatal_error")]
    FatalError,
    #[schema(rename = "recording.stalled")]
    Stalled,
}

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

pub fn limit(v: Option<i64>) -> ApiResult<i64> {
    match v {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {n}"
        ))),
    }
}

/// A time filter: Unix milliseconds, or an RFC 3339 date-time such as 2026-11-27T10:00:00Z.
pub fn time_ms(name: &str, v: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(v) = v.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    humantime::parse_rfc3339_weak(v)
        .map(|t| {
            Some(t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
        })
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{name} must be Unix milliseconds or an RFC 3339 time like 2026-11-27T10:00:00Z, got {v:?}"
            ))
        })
}
