//! The query API under `/v1`, plus `/healthz`. `router` is a pure function of the state, so the
//! router tests drive it with `oneshot`, no socket.

pub mod events;
pub mod kept_states;
pub mod openapi;
pub mod params;
pub mod quarantine;
pub mod session_cache;
pub mod sessions;
pub mod stream;
pub mod view;
pub mod warm;

use std::sync::Arc;

use axum::extract::{Request, State};
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
    pub session_cache: Arc<session_cache::SessionCache>,
    /// Keeps finished sessions' answers in the database (None: folds are not kept there).
    pub keeper: Option<kept_states::Keeper>,
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/events", get(events::list))
        .route("/events/{notice_id}", get(events::one))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{sid}", get(sessions::one))
        .route("/sessions/{sid}/events", get(sessions::events))
        .route("/quarantine", get(quarantine::list))
        .route("/stream", get(stream::stream))
        .route("/openapi.json", get(openapi::document))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state.clone());
    Router::new()
        .route("/healthz", get(health))
        .nest("/v1", v1)
        .with_state(state)
}

async fn health(State(st): State<AppState>) -> Response {
    match st.store.health().await {
        Ok(()) => Json(json!({"status": "ok", "database": st.store.backend()})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "unavailable", "error": format!("database does not answer: {e}")}),
            ),
        )
            .into_response(),
    }
}

async fn require_token(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = &st.api_token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if bool::from(t.as_bytes().ct_eq(expected.as_bytes())) => next.run(req).await,
        Some(_) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "API token does not match").into_response()
        }
        None => {
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
