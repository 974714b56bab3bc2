//! The query API under `/v1`, plus `/healthz`. `router` is a pure function of the state, so the
//! router tests drive it with `oneshot`, no socket.

pub mod destinations;
pub mod events;
pub mod lifecycle;
pub mod openapi;
pub mod params;
pub mod quarantine;
pub mod sessions;
pub mod stream;
pub use crate::event_view as view;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::store::DynStore;

#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub api_token: Option<Arc<str>>,
    pub shutdown: CancellationToken,
    /// Recordings' states, kept and checked (`crate::states`).
    pub states: crate::states::SessionStates,
    /// Failed token attempts are logged once a minute per client address.
    pub auth_failures: Arc<crate::ratelog::RateLog>,
    /// `--stall-after`: an unfinished recording quiet this long shows `stalled` in `attention`.
    pub stall_after: std::time::Duration,
    /// Forwarding destinations from the configuration file.
    pub destinations: Arc<Vec<crate::forward::DestinationConfig>>,
    /// The Agora projects' names (`default` alone without `[[project]]`).
    pub projects: Arc<Vec<String>>,
    /// Whether `/metrics` is served with the API (false when `--metrics-listen` takes it).
    pub metrics_here: bool,
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/events", get(events::list))
        .route("/events/{notice_id}", get(events::one))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{sid}", get(sessions::one))
        .route("/sessions/{sid}/events", get(sessions::events))
        .route("/quarantine", get(quarantine::list))
        .route("/lifecycle", get(lifecycle::list))
        .route("/destinations", get(destinations::list))
        .route("/destinations/{name}/messages", get(destinations::messages))
        .route(
            "/destinations/{name}/messages/{id}/retry",
            axum::routing::post(destinations::retry_one),
        )
        .route(
            "/destinations/{name}/retry-failed",
            axum::routing::post(destinations::retry_failed),
        )
        .route(
            "/destinations/{name}/replay",
            axum::routing::post(destinations::replay),
        )
        .route(
            "/destinations/{name}/enable",
            axum::routing::post(destinations::enable),
        )
        .route("/stream", get(stream::stream))
        .route("/openapi.json", get(openapi::document))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state.clone());
    let mut root = Router::new();
    if state.metrics_here {
        root = root.route("/metrics", get(metrics));
    }
    root.route("/healthz", get(health))
        .route("/readyz", get(ready))
        .nest("/v1", v1)
        .layer(middleware::from_fn(private_answers))
        .with_state(state)
}

/// `GET /metrics` alone (the API router serves it too, unless `--metrics-listen` moves it).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(private_answers))
        .with_state(state)
}

/// The Prometheus text. Gauges of stored state are read from the store now; with an API token
/// set, the token is needed here too.
async fn metrics(State(st): State<AppState>, req: Request) -> Response {
    if let Some(expected) = &st.api_token {
        if !matches!(token_check(&req, expected), TokenCheck::Valid) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "metrics need `Authorization: Bearer <token>` (the --api-token value)",
            )
            .into_response();
        }
    }
    let quiet_before = crate::clock::now_ms() - st.stall_after.as_millis() as i64;
    match st.store.stats(quiet_before).await {
        Ok(stats) => {
            for (phase, n) in &stats.phases {
                metrics::gauge!("ncsd_sessions", "phase" => phase.clone()).set(*n as f64);
            }
            for (reason, n) in &stats.attention {
                metrics::gauge!("ncsd_attention_sessions", "reason" => reason.clone())
                    .set(*n as f64);
            }
            for (kind, n) in &stats.lifecycle {
                metrics::counter!("ncsd_lifecycle_events_total", "type" => kind.clone())
                    .absolute(*n as u64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the store's counts"),
    }
    for d in st.destinations.iter() {
        if let Ok((pending, failed)) = st.store.forward_counts(&d.name).await {
            metrics::gauge!("ncsd_forward_lag_messages", "destination" => d.name.clone())
                .set((pending + failed) as f64);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        crate::telemetry::render(),
    )
        .into_response()
}

/// API answers hold stored events: never cached by a browser or a proxy, never sniffed into
/// another content type.
async fn private_answers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// `ok` or `unavailable` for anyone (load balancers, probes); the backend and the cause only
/// for a client holding the API token (or to all when the API has none).
async fn health(State(st): State<AppState>, req: Request) -> Response {
    let detailed = match &st.api_token {
        None => true,
        Some(expected) => matches!(token_check(&req, expected), TokenCheck::Valid),
    };
    let result = st.store.health().await;
    let (status, body) = match (result, detailed) {
        (Ok(()), true) => (
            StatusCode::OK,
            json!({"status": "ok", "database": st.store.backend()}),
        ),
        (Ok(()), false) => (StatusCode::OK, json!({"status": "ok"})),
        (Err(e), true) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "error": format!("database does not answer: {e}")}),
        ),
        (Err(e), false) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "unavailable"}),
            )
        }
    };
    (status, Json(body)).into_response()
}

/// `/readyz`: whether this instance can store right now (503 while the database cannot be
/// reached or written), for a load balancer deciding where to send deliveries.
async fn ready(State(st): State<AppState>) -> Response {
    match st.store.health().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not ready"})),
            )
                .into_response()
        }
    }
}

enum TokenCheck {
    Valid,
    Wrong,
    Missing,
}

/// The cookie the dashboard's sign-in sets (HttpOnly, SameSite=Strict); `/v1` accepts it as
/// it accepts the bearer token.
pub const TOKEN_COOKIE: &str = "ncsd_token";

/// `Authorization: Bearer <token>`, the scheme matched in any case (RFC 7235), or else the
/// dashboard's cookie; compared in constant time.
fn token_check(req: &Request, expected: &str) -> TokenCheck {
    token_check_headers(req.headers(), expected)
}

fn token_check_headers(headers: &header::HeaderMap, expected: &str) -> TokenCheck {
    let same = |given: &str| bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return match cookie_token(headers) {
            Some(given) if same(&given) => TokenCheck::Valid,
            Some(_) => TokenCheck::Wrong,
            None => TokenCheck::Missing,
        };
    };
    let value = value.trim_start();
    let given = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => return TokenCheck::Wrong,
    };
    if same(given) {
        TokenCheck::Valid
    } else {
        TokenCheck::Wrong
    }
}

/// Whether these headers carry the API token (bearer or cookie).
pub fn token_valid(headers: &header::HeaderMap, expected: &str) -> bool {
    matches!(token_check_headers(headers, expected), TokenCheck::Valid)
}

/// The token in the cookie (form-encoded there, as a token may hold any character), if the
/// request has one.
fn cookie_token(headers: &header::HeaderMap) -> Option<String> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.trim())?;
    url::form_urlencoded::parse(format!("t={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// The cookie value that carries `token`.
pub fn cookie_value(token: &str) -> String {
    url::form_urlencoded::byte_serialize(token.as_bytes()).collect()
}

pub fn client_ip(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

async fn require_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = &st.api_token else {
        return next.run(req).await;
    };
    let check = token_check(&req, expected);
    if !matches!(check, TokenCheck::Valid) {
        let ip = client_ip(&req);
        if let Some(held) = st.auth_failures.admit(ip) {
            let client = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
            tracing::warn!(
                %client,
                path = req.uri().path(),
                missing = matches!(check, TokenCheck::Missing),
                earlier_failures_not_logged = held,
                "API request refused: wrong or missing token"
            );
        }
    }
    match check {
        TokenCheck::Valid => next.run(req).await,
        TokenCheck::Wrong => {
            ApiError::new(StatusCode::UNAUTHORIZED, "API token does not match").into_response()
        }
        TokenCheck::Missing => {
            let mut res = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this API needs `Authorization: Bearer <token>` (the --api-token value)",
            )
            .into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
            res
        }
    }
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this path",
    )
}

pub async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.uri().path()
    ))
}
