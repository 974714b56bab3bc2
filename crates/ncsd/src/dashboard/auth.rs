//! Signing in to the dashboard. With `--api-token` set, a form takes the token once and keeps
//! it in an HttpOnly, SameSite=Strict cookie, which the pages and `/v1` accept like the bearer
//! token; without one, the dashboard is open, like the API.

use askama::Template;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{render, Frame};
use crate::api::{client_ip, cookie_value, token_valid, AppState};

pub use crate::api::TOKEN_COOKIE;

/// Pages need the token (cookie or bearer) when one is set; a browser without it is sent to
/// the form, which brings it back here afterwards.
pub async fn require_sign_in(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = &st.api_token else {
        return next.run(req).await;
    };
    if token_valid(req.headers(), expected) {
        return next.run(req).await;
    }
    let back = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    Redirect::to(&format!(
        "/sign-in?next={}",
        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    ))
    .into_response()
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    frame: Frame,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// Only a path on this site: `//host` or `https://...` would send the browser elsewhere.
fn local_path(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".to_string())
}

fn page(next: String, error: Option<String>) -> SignInPage {
    SignInPage {
        frame: Frame {
            title: "Sign in".into(),
            nav: "",
            live: String::new(),
            signed_in: false,
        },
        next,
        error,
    }
}

pub async fn form(State(st): State<AppState>, Query(q): Query<NextParam>) -> Response {
    let next = local_path(q.next);
    if st.api_token.is_none() {
        return Redirect::to(&next).into_response();
    }
    render(&page(next, None))
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
    next: Option<String>,
}

pub async fn sign_in(State(st): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&req);
    let Some(expected) = st.api_token.clone() else {
        return Redirect::to("/").into_response();
    };
    let form = match Form::<SignInForm>::from_request(req, &st).await {
        Ok(Form(f)) => f,
        Err(e) => {
            let mut res = render(&page(
                "/".into(),
                Some(format!("The form was not readable: {e}")),
            ));
            *res.status_mut() = StatusCode::BAD_REQUEST;
            return res;
        }
    };
    let next = local_path(form.next);
    let mut given = HeaderMap::new();
    given.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", form.token.trim()))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer -")),
    );
    if !token_valid(&given, &expected) {
        if let Some(held) = st.auth_failures.admit(ip) {
            let client = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
            tracing::warn!(%client, earlier_failures_not_logged = held, "dashboard sign-in refused: wrong token");
        }
        let mut res = render(&page(
            next,
            Some("That is not the API token (the --api-token value).".into()),
        ));
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return res;
    }
    let cookie = format!(
        "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        cookie_value(form.token.trim())
    );
    let mut res = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub async fn sign_out() -> Response {
    let mut res = Redirect::to("/sign-in").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        ))
        .expect("static cookie"),
    );
    res
}
