//! `POST /ncs`: verify the signature on the raw bytes, read the envelope, store, and only then
//! answer 200. A body that is signed but unreadable is quarantined (never dropped) and answered
//! 200 too: NCS resends whatever it believes failed, and the Console's Check fails on anything
//! else (spec §4). A wrong signature is 401; a storage failure is 503 so NCS resends.

pub mod copies;
pub mod signature;

use std::net::SocketAddr;
use std::sync::Arc;

use agora_ncs::{Envelope, Notice, Secret};
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http_body_util::BodyExt;

use crate::error::{ApiError, ApiResult};
use crate::store::{DynStore, NewDelivery, NewQuarantine};
use signature::Verdict;

pub struct IngestState {
    pub store: DynStore,
    /// The Agora project this path belongs to; its secrets alone verify a delivery here.
    pub project: Arc<str>,
    pub secrets: Vec<Secret>,
    pub allow_unsigned: bool,
    pub max_body: usize,
    pub allow_from: Vec<ipnet::IpNet>,
    pub max_notify_skew: Option<std::time::Duration>,
    /// Rejected deliveries are logged once a minute per client address.
    pub rejections: crate::ratelog::RateLog,
    /// NCS's own addresses (`[agora] allow_ncs_ips`): deliveries only from them (or
    /// `--allow-from`).
    pub ncs_ips: Option<Arc<crate::ncs_ips::NcsIps>>,
}

impl IngestState {
    /// A refused delivery: logged with the client address, at most once a minute per address
    /// (an attacker can send them at will).
    fn log_rejection(&self, ip: Option<std::net::IpAddr>, status: StatusCode, reason: &str) {
        if let Some(held) = self.rejections.admit(ip) {
            let client = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
            tracing::warn!(%client, status = status.as_u16(), reason, earlier_rejections_not_logged = held, "delivery refused");
        }
    }
}

pub use crate::clock::now_ms;

pub async fn handle(
    State(st): State<Arc<IngestState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let started = std::time::Instant::now();
    let (outcome, result) = match receive(&st, peer, headers, body).await {
        Ok((outcome, res)) => (outcome, Ok(res)),
        Err(e) => (refused_as(&e), Err(e)),
    };
    tracing::Span::current().record("outcome", outcome);
    metrics::counter!("ncsd_deliveries_total", "outcome" => outcome, "project" => st.project.to_string())
        .increment(1);
    metrics::histogram!("ncsd_ingest_seconds", "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}

/// The metrics outcome of a refused delivery.
fn refused_as(e: &ApiError) -> &'static str {
    match e.status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::INTERNAL_SERVER_ERROR => "error",
        _ => "bad_request",
    }
}

/// The delivery, from the peer's address to the answer; with the outcome it had.
async fn receive(
    st: &IngestState,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(&'static str, Response)> {
    let received_at_ms = now_ms();
    let ip = peer.map(|Extension(ConnectInfo(a))| a.ip());
    let restricted = !st.allow_from.is_empty() || st.ncs_ips.is_some();
    let allowed = ip.is_some_and(|ip| {
        st.allow_from.iter().any(|n| n.contains(&ip))
            || st.ncs_ips.as_ref().is_some_and(|l| l.allows(ip))
    });
    if restricted && !allowed {
        let why = "this address is not in the allowed networks (--allow-from, or NCS's own \
                   address list)";
        st.log_rejection(ip, StatusCode::FORBIDDEN, why);
        return Err(ApiError::new(StatusCode::FORBIDDEN, why));
    }
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.max_body as u64) {
        return Err(too_large(st.max_body));
    }
    let body = read_body(body, st.max_body).await?;
    match signature::check(&headers, &st.secrets, st.allow_unsigned, &body) {
        Verdict::Verified(_) => {}
        Verdict::Unsigned => tracing::warn!("accepting an unsigned delivery (--allow-unsigned)"),
        Verdict::Rejected(why) => {
            st.log_rejection(ip, StatusCode::UNAUTHORIZED, why);
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, why));
        }
    }
    let headers_json = signature::headers_json(&headers);
    let parsed = Envelope::from_slice(&body).map_err(|e| e.to_string());
    // A NUL cannot be stored in a PostgreSQL text key; no real noticeId has one.
    let parsed = parsed.and_then(|env| match env.notice_id.contains('\0') {
        true => Err("noticeId contains a NUL character".to_string()),
        false => Ok(env),
    });
    let envelope = match parsed {
        Ok(e) => e,
        Err(reason) => {
            let id = st
                .store
                .quarantine(NewQuarantine {
                    body: body.to_vec(),
                    headers: headers_json,
                    reason: reason.clone(),
                    received_at_ms,
                })
                .await?;
            tracing::warn!(quarantine_id = id, reason = %reason, "quarantined a signed body");
            return Ok((
                "quarantined",
                (
                    StatusCode::OK,
                    Json(serde_json::json!({
                        "ok": true,
                        "quarantined": true,
                        "reason": format!("not a valid NCS notification: {reason}"),
                        "quarantine_id": id,
                    })),
                )
                    .into_response(),
            ));
        }
    };
    if let Some(skew) = st.max_notify_skew {
        if let Err(e) = check_notify_window(envelope.notify_ms, received_at_ms, skew) {
            st.log_rejection(ip, e.status, &e.message);
            return Err(e);
        }
    }
    let mut delivery = to_delivery(&envelope, body.to_vec(), headers_json, received_at_ms);
    delivery.project = st.project.to_string();
    let (sid, event_type) = (delivery.sid.clone(), delivery.event_type);
    let span = tracing::Span::current();
    span.record("notice_id", envelope.notice_id.as_str());
    span.record("event_type", event_type);
    if let Some(s) = &sid {
        span.record("sid", s.as_str());
    }
    let outcome = st.store.ingest(delivery).await?;
    tracing::debug!(notice_id = %envelope.notice_id, ?sid, event_type, duplicate = outcome.duplicate, "stored");
    let counted = if outcome.duplicate {
        "duplicate"
    } else if outcome.copy_of.is_some() {
        "copy"
    } else {
        "stored"
    };
    Ok((
        counted,
        (
            StatusCode::OK,
            Json(Ack {
                ok: true,
                notice_id: &envelope.notice_id,
                duplicate: outcome.duplicate,
                deliveries: outcome.deliveries,
                copy_of: outcome.copy_of.as_deref(),
            }),
        )
            .into_response(),
    ))
}

/// The 200 body, serialised straight from borrowed fields (no intermediate JSON map).
#[derive(serde::Serialize)]
struct Ack<'a> {
    ok: bool,
    notice_id: &'a str,
    duplicate: bool,
    deliveries: i64,
    copy_of: Option<&'a str>,
}

/// Replay bound (`--max-notify-skew`): `notifyMs` is inside the signed body, so a captured
/// request cannot be re-sent with a fresh one.
fn check_notify_window(
    notify_ms: Option<i64>,
    now: i64,
    skew: std::time::Duration,
) -> ApiResult<()> {
    let skew_ms = skew.as_millis() as i64;
    match notify_ms {
        Some(t) if (now - t).abs() <= skew_ms => Ok(()),
        Some(t) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("notifyMs {t} is {} ms away from this server's clock, over the {skew_ms} ms window (--max-notify-skew)", (now - t).abs()),
        )),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "notifyMs is missing, and --max-notify-skew requires it",
        )),
    }
}

/// Read at most `max` bytes; a larger body is refused with 413 before it is all read.
fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body is larger than the {max}-byte limit (--max-body)"),
    )
    .with("limit", max as u64)
}

async fn read_body(body: Body, max: usize) -> ApiResult<bytes::Bytes> {
    match http_body_util::Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large(max))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// A Console "Check" test delivery (spec §4).
pub fn is_health_check(cname: Option<&str>) -> bool {
    cname == Some(agora_ncs::HEALTH_CHECK_CNAME)
}

/// Index columns are copies of body fields; a NUL (valid JSON, refused by PostgreSQL text) is
/// dropped from the copy. The raw body keeps it.
fn without_nul(s: &str) -> String {
    s.replace('\0', "")
}

/// What the store needs from a parsed envelope: the columns it indexes on, the redundant-copy
/// key, and the session-summary bits.
pub fn to_delivery(
    env: &Envelope,
    body: Vec<u8>,
    headers: String,
    received_at_ms: i64,
) -> NewDelivery {
    let mut d = NewDelivery {
        notice_id: env.notice_id.clone(),
        product_id: i64::from(env.product_id),
        event_type: i64::from(env.event_type),
        notify_ms: env.notify_ms,
        sid: env.session_id().map(without_nul),
        cname: None,
        uid: None,
        sequence: None,
        sendts: None,
        body,
        headers,
        received_at_ms,
        content_key: None,
        session_flags: 0,
        project: crate::store::DEFAULT_PROJECT.to_string(),
    };
    match env.notice() {
        // A Console "Check" delivery (spec §4): stored and acknowledged, but no recording.
        Notice::CloudRecording(n) if is_health_check(n.payload.cname.as_deref()) => {
            d.cname = n.payload.cname.clone();
            d.uid = n.payload.uid.as_deref().map(without_nul);
            d.sequence = n.payload.sequence;
            d.sendts = n.payload.sendts;
            d.sid = None;
        }
        Notice::CloudRecording(n) => {
            let p = &n.payload;
            d.cname = p.cname.as_deref().map(without_nul);
            d.uid = p.uid.as_deref().map(without_nul);
            d.sequence = p.sequence;
            d.sendts = p.sendts;
            d.content_key = copies::content_key(
                d.sid.as_deref(),
                p.uid.as_deref(),
                env.event_type,
                p.sequence,
                &p.details,
            );
            d.session_flags = crate::summary::flags_for(&n.event);
        }
        Notice::CloudTranscoder(t) => {
            d.sequence = t.sequence;
            d.sendts = t.sendts;
            // A transcoder task is not a recording session, even under product 3.
            d.sid = None;
        }
        Notice::Other { .. } => {}
    }
    d
}
