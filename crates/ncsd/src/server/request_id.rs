//! Every response carries an `x-request-id`: the client's own when it sent a sane one, a new one
//! otherwise. Log lines written while the request is handled carry it (they run inside its
//! span), and so does the request's own line at the end, so a client's report can be found.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-given id kept; longer or oddly spelled ones are replaced.
const MAX_ID_LEN: usize = 128;

fn client_id(req: &Request) -> Option<HeaderValue> {
    let v = req.headers().get(&X_REQUEST_ID)?;
    let ok = (1..=MAX_ID_LEN).contains(&v.len())
        && v.as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(b));
    ok.then(|| v.clone())
}

/// `ingest_path`: deliveries answered 2xx are logged at debug level only (thousands a second);
/// rejected requests are logged, rate-limited, by their handlers, so their line here is debug
/// too; server errors are warnings; everything else is info.
pub async fn tag(ingest_path: std::sync::Arc<[String]>, req: Request, next: Next) -> Response {
    let id = client_id(&req).unwrap_or_else(|| {
        HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
            .expect("hex is a valid header value")
    });
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_string(), |c| c.0.ip().to_string());
    // The delivery's own fields are recorded on this span by ingest once it knows them.
    let span = tracing::info_span!(
        "request",
        request_id = %id.to_str().unwrap_or("-"),
        notice_id = tracing::field::Empty,
        sid = tracing::field::Empty,
        event_type = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let mut res = next.run(req).instrument(span.clone()).await;
    res.headers_mut().insert(X_REQUEST_ID.clone(), id);
    let status = res.status();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    let quiet = (status.is_success() && ingest_path.contains(&path))
        || matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    if status.is_server_error() {
        tracing::warn!(target: "ncsd::access", %method, %path, status = status.as_u16(), ms, %peer, "request");
    } else if quiet {
        tracing::debug!(target: "ncsd::access", %method, %path, status = status.as_u16(), ms, %peer, "request");
    } else {
        tracing::info!(target: "ncsd::access", %method, %path, status = status.as_u16(), ms, %peer, "request");
    }
    res
}
