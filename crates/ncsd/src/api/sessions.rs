//! Recording sessions: `GET /v1/sessions`, `GET /v1/sessions/{sid}`, `/v1/sessions/{sid}/events`.
//! A session's state is always folded from its stored events, so every instance sharing a
//! database computes the same answer.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::view::event_json;
use super::{params, AppState};
use crate::error::{ApiError, ApiResult};
use crate::session::stored_event;
use crate::session::{display_key, distinct_ordered, StoredEvent};
use crate::store::{SessionQuery, SessionRow};
use crate::summary;

fn unknown_session(sid: &str) -> ApiError {
    ApiError::not_found(format!("no recording session with sid {sid:?} is stored"))
}

/// The state of one recording, folded from its events.
#[utoipa::path(get, path = "/v1/sessions/{sid}", tag = "sessions",
    params(("sid" = String, Path, description = "Recording sid")),
    responses((status = 200, description = "Session state", body = Object),
              (status = 404, description = "Unknown sid", body = crate::error::ErrorBody)))]
pub async fn one(
    State(st): State<AppState>,
    sid: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let sid = params::path(sid)?;
    match answer(&st, &sid).await? {
        Some(json) => Ok(json_response(json)),
        None => Err(unknown_session(&sid)),
    }
}

/// `GET /v1/sessions/{sid}`: the folded state, with what depends on more than the session's
/// events: its lifecycle events, and `stalled` in `attention` while an unfinished recording has
/// had no delivery for `--stall-after` (a later delivery clears it).
pub async fn answer(st: &AppState, sid: &str) -> ApiResult<Option<Bytes>> {
    let Some((row, json)) = st.states.current_with_row(sid).await? else {
        return Ok(None);
    };
    // The row the state was checked against: the session's newest activity as of that state.
    let phase = summary::phase(row.flags, row.exit_key);
    let quiet_ms = crate::clock::now_ms() - row.last_activity_ms;
    let stalled = !phase.is_terminal() && quiet_ms >= st.stall_after.as_millis() as i64;
    let lifecycle = Value::Array(super::lifecycle::of_session(st, sid).await?);
    if !stalled {
        // The kept state is a JSON object whose own keys never include these two: append
        // them to its text rather than parse and write again the whole state.
        if let Some(spliced) = with_fields(&json, &row.project, &lifecycle) {
            return Ok(Some(spliced));
        }
    }
    let mut v: Value = serde_json::from_slice(&json).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read a kept state: {e}"),
        )
    })?;
    v["project"] = json!(row.project);
    if stalled {
        if let Some(list) = v.get_mut("attention").and_then(Value::as_array_mut) {
            list.push(json!("stalled"));
        }
    }
    v["lifecycle"] = lifecycle;
    Ok(Some(Bytes::from(v.to_string())))
}

/// `state` (a JSON object's text) with `project` and `lifecycle` added; None when it is not an
/// object's text.
fn with_fields(state: &[u8], project: &str, lifecycle: &Value) -> Option<Bytes> {
    let inner = state.trim_ascii().strip_prefix(b"{")?.strip_suffix(b"}")?;
    let mut out = Vec::with_capacity(state.len() + 64);
    out.push(b'{');
    out.extend_from_slice(inner);
    if !inner.trim_ascii().is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"\"project\":");
    serde_json::to_writer(&mut out, project).ok()?;
    out.extend_from_slice(b",\"lifecycle\":");
    serde_json::to_writer(&mut out, lifecycle).ok()?;
    out.push(b'}');
    Some(Bytes::from(out))
}

fn json_response(json: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionEventsParams {
    /// Events per page, 1 to 1000 (default 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Resume after this position: the `next` of the previous page.
    #[param(pattern = r"^(|(-|-?[0-9]{1,18})~(-|-?[0-9]{1,18})~.*)$")]
    pub cursor: Option<String>,
}

/// The session's distinct events (copies left out) in sequence order, a page at a time.
#[utoipa::path(get, path = "/v1/sessions/{sid}/events", tag = "sessions",
    params(("sid" = String, Path, description = "Recording sid"), SessionEventsParams),
    responses((status = 200, description = "`{sid, events: [...], next}`; `next` is null on the last page", body = Object),
              (status = 400, description = "Invalid query", body = crate::error::ErrorBody),
              (status = 404, description = "Unknown sid", body = crate::error::ErrorBody)))]
pub async fn events(
    State(st): State<AppState>,
    sid: Result<Path<String>, PathRejection>,
    q: Result<Query<SessionEventsParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let sid = params::path(sid)?;
    let p = params::query(q)?;
    let limit = match p.limit {
        None => params::MAX_LIMIT,
        some => params::limit(some)?,
    } as usize;
    let after = p
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(page_cursor::parse)
        .transpose()?;
    let records = st.store.session_events(&sid).await?;
    if records.is_empty() {
        return Err(unknown_session(&sid));
    }
    let stored: Vec<StoredEvent> = records.iter().filter_map(stored_event).collect();
    let distinct = distinct_ordered(&stored);
    let start = match &after {
        Some(key) => distinct.partition_point(|e| display_key(e) <= key.as_key()),
        None => 0,
    };
    let page = &distinct[start..(start + limit).min(distinct.len())];
    let next = (start + page.len() < distinct.len())
        .then(|| page.last().map(|e| page_cursor::format(e)))
        .flatten();
    let by_id: std::collections::HashMap<&str, &crate::store::EventRecord> =
        records.iter().map(|r| (r.notice_id.as_str(), r)).collect();
    let events: Vec<Value> = page
        .iter()
        .filter_map(|e| by_id.get(e.notice_id.as_str()).map(|r| event_json(r)))
        .collect();
    Ok(Json(json!({ "sid": sid, "events": events, "next": next })))
}

/// The session events cursor: the last event's place in the list, as
/// `<sequence>~<sendts>~<noticeId>` (`-` for a missing number).
mod page_cursor {
    use crate::error::{ApiError, ApiResult};
    use crate::session::{display_key, DisplayKey, StoredEvent};

    pub struct Key {
        sequence: Option<i64>,
        sendts: Option<i64>,
        notice_id: String,
    }

    impl Key {
        pub fn as_key(&self) -> DisplayKey<'_> {
            let last_if_none = |v: Option<i64>| (v.is_none(), v);
            (
                last_if_none(self.sequence),
                last_if_none(self.sendts),
                self.notice_id.as_str(),
            )
        }
    }

    pub fn format(e: &StoredEvent) -> String {
        let ((_, seq), (_, ts), id) = display_key(e);
        let n = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        format!("{}~{}~{}", n(seq), n(ts), id)
    }

    pub fn parse(s: &str) -> ApiResult<Key> {
        let bad = || {
            ApiError::bad_request(format!(
                "cursor {s:?} is not one this endpoint gave (use the `next` of the previous page)"
            ))
        };
        let mut parts = s.splitn(3, '~');
        let mut num = || -> ApiResult<Option<i64>> {
            match parts.next().ok_or_else(bad)? {
                "-" => Ok(None),
                v => v.parse().map(Some).map_err(|_| bad()),
            }
        };
        let (sequence, sendts) = (num()?, num()?);
        let notice_id = parts.next().ok_or_else(bad)?.to_string();
        Ok(Key {
            sequence,
            sendts,
            notice_id,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[derive(Default)]
pub struct SessionsParams {
    pub cname: Option<String>,
    #[param(value_type = Option<super::params::PhaseName>, inline)]
    pub phase: Option<String>,
    /// Only sessions needing attention for this reason: `fatal_error`, `abnormal_status` or
    /// `stalled` (a `gap` shows only in a session's own state).
    #[param(value_type = Option<AttentionName>, inline)]
    pub attention: Option<String>,
    /// Only this Agora project's sessions.
    pub project: Option<String>,
    /// Last active at or after: Unix milliseconds (or RFC 3339).
    #[param(pattern = r"^(|-?[0-9]{1,15})$")]
    pub since: Option<String>,
    /// Last active before: Unix milliseconds (or RFC 3339).
    #[param(pattern = r"^(|-?[0-9]{1,15})$")]
    pub until: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    #[param(pattern = r"^(|-?[0-9]{1,18}:.*)$")]
    pub cursor: Option<String>,
}

pub fn summary_json(row: &SessionRow) -> Value {
    json!({
        "sid": row.sid,
        "project": row.project,
        "cname": row.cname,
        "phase": summary::phase(row.flags, row.exit_key).as_str(),
        "event_count": row.event_count,
        "first_event_ms": row.first_event_ms,
        "last_event_ms": row.last_event_ms,
        "last_activity_ms": row.last_activity_ms,
    })
}

/// Sessions, newest activity first.
#[utoipa::path(get, path = "/v1/sessions", params(SessionsParams), tag = "sessions",
    responses((status = 200, description = "`{sessions: [...], next}`", body = Object),
              (status = 400, description = "Invalid query", body = crate::error::ErrorBody)))]
pub async fn list(
    State(st): State<AppState>,
    q: Result<Query<SessionsParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let p = params::query(q)?;
    let query = session_query(&st, p)?;
    let rows = st.store.sessions(&query).await?;
    let next = next_cursor(&rows, query.limit);
    Ok(Json(json!({
        "sessions": rows.iter().map(summary_json).collect::<Vec<_>>(),
        "next": next,
    })))
}

/// The attention reasons a session list can be filtered by.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub enum AttentionName {
    FatalError,
    AbnormalStatus,
    Stalled,
}

/// The store query for `GET /v1/sessions` (and the dashboard's list), checked.
pub fn session_query(st: &AppState, p: SessionsParams) -> ApiResult<SessionQuery> {
    if let Some(phase) = p.phase.as_deref() {
        if !summary::PHASES.contains(&phase) {
            return Err(ApiError::bad_request(format!(
                "phase must be one of {}, got {phase:?}",
                summary::PHASES.join(", ")
            )));
        }
    }
    let (flags_any, unfinished_before) = match p.attention.as_deref() {
        None => (None, None),
        Some("fatal_error") => (Some(summary::FATAL_ERROR), None),
        Some("abnormal_status") => (Some(summary::ABNORMAL_STATUS), None),
        Some("stalled") => (
            None,
            Some(crate::clock::now_ms() - st.stall_after.as_millis() as i64),
        ),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "attention must be fatal_error, abnormal_status or stalled, got {other:?}"
            )))
        }
    };
    let cursor = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| {
            ApiError::bad_request(
                "cursor is not one this API returned (use the `next` value as is)",
            )
        })?),
    };
    Ok(SessionQuery {
        cname: p.cname,
        phase: p.phase,
        since: params::time_ms("since", p.since.as_deref())?,
        until: params::time_ms("until", p.until.as_deref())?,
        limit: params::limit(p.limit)?,
        cursor,
        flags_any,
        unfinished_before,
        project: p.project,
    })
}

/// The `next` of a page of sessions: null on the last one.
pub fn next_cursor(rows: &[SessionRow], limit: i64) -> Option<String> {
    rows.last()
        .filter(|_| rows.len() as i64 == limit)
        .map(|r| format!("{}:{}", r.last_activity_ms, r.sid))
}

fn parse_cursor(c: &str) -> Option<(i64, String)> {
    let (ms, sid) = c.split_once(':')?;
    Some((ms.parse().ok()?, sid.to_string()))
}

#[cfg(test)]
mod tests {
    use super::with_fields;
    use serde_json::{json, Value};

    #[test]
    fn fields_are_appended_to_the_state_text() {
        let lifecycle = json!([{"type": "recording.started"}]);
        let out = with_fields(br#"{"sid":"s","attention":[]}"#, "prod", &lifecycle).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"sid": "s", "attention": [], "project": "prod", "lifecycle": lifecycle})
        );
        let empty = with_fields(b" {} ", "a\"b", &json!([])).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&empty).unwrap(),
            json!({"project": "a\"b", "lifecycle": []})
        );
        assert!(with_fields(b"[1]", "p", &json!([])).is_none());
    }
}
