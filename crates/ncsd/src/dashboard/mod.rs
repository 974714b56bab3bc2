//! The web dashboard: server-rendered pages over the same store and rules as `/v1`, with a
//! little JavaScript of our own that refreshes a page from `/v1/stream` as deliveries arrive.
//!
//! Templates are checked at compile time (askama); the stylesheet and script are compiled into
//! the binary, so the dashboard needs nothing from another host. Every page has a stable URL
//! whose query string holds its filters, so a view can be shared.

mod auth;
mod charts;
mod destinations;
mod format;
mod lists;
mod overview;
mod session;
mod sessions;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::AppState;
use crate::error::ApiError;

pub use auth::TOKEN_COOKIE;

/// The dashboard's routes: `/`, `/sessions`, `/sessions/{sid}`, `/events`, `/quarantine`,
/// `/destinations`, the sign-in form and the two assets.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .route("/", get(overview::page))
        .route("/sessions", get(sessions::page))
        .route("/sessions/{sid}", get(session::page))
        .route("/events", get(lists::events))
        .route("/quarantine", get(lists::quarantine))
        .route("/destinations", get(destinations::page))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_sign_in,
        ));
    Router::new()
        .merge(pages)
        .route("/sign-in", get(auth::form).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/app.js", get(script))
        .with_state(state)
}

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}

/// What every page's frame needs: its title, which navigation entry is current, and what the
/// live script listens for (`all`, or one sid).
pub struct Frame {
    pub title: String,
    pub nav: &'static str,
    pub live: String,
    pub signed_in: bool,
}

/// Render a page; a template error (a bug) is a 500 with a JSON body, not a panic.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = Html(html).into_response();
            let h = res.headers_mut();
            // The pages load only their own assets and talk only to this origin.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                     script-src 'self'; frame-ancestors 'none'; form-action 'self'",
                ),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            // Pages hold stored events, like the API's answers.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "dashboard template failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the page could not be drawn: {e}"),
            )
            .into_response()
        }
    }
}

/// A page built, or the error that stopped it as a page (the API's JSON error is for programs).
pub fn respond(st: &AppState, built: Result<impl Template, ApiError>) -> Response {
    match built {
        Ok(page) => render(&page),
        Err(e) => error_page(e, st.api_token.is_some()),
    }
}

/// A form field as a filter: trimmed, and none when empty.
pub fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// An error as a page a person can read (the API's JSON error is for programs).
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    frame: Frame,
    status: u16,
    message: String,
}

pub fn error_page(err: ApiError, signed_in: bool) -> Response {
    let status = err.status;
    let page = ErrorPage {
        frame: Frame {
            title: format!("{}", status.as_u16()),
            nav: "",
            live: String::new(),
            signed_in,
        },
        status: status.as_u16(),
        message: err.message,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    res
}
