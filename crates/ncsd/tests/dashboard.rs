//! The dashboard without a browser: what each page answers, the sign-in flow and its cookie
//! (which `/v1` accepts too), the session filters through the page and the API alike, and bad
//! input answered with a clear error.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::cr_body;
use common::router::{app, App};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

const TOKEN: &str = "dashboard-token-0123456789";

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

async fn page(app: &App, req: Request<Body>) -> Page {
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &App, uri: &str) -> Page {
    page(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// A failed recording with a fatal error, and a completed one.
async fn two_recordings(app: &App) {
    let events = [
        ("ok-0", "sid-ok", 40, 0, json!({"status": 0})),
        (
            "ok-1",
            "sid-ok",
            43,
            1,
            json!({"streamUid": 5, "state": 0, "UtcMs": 1_700_000_001_000i64}),
        ),
        (
            "ok-2",
            "sid-ok",
            31,
            3,
            json!({"status": 0, "fileList": [{"fileName": "a.m3u8", "trackType": "audio_and_video", "uid": "0", "isPlayable": true}]}),
        ),
        ("ok-3", "sid-ok", 11, 4, json!({"exitStatus": 0})),
        ("bad-0", "sid-bad", 40, 0, json!({"status": 0})),
        (
            "bad-1",
            "sid-bad",
            1,
            1,
            json!({"module": 0, "errorLevel": 5, "errorCode": 50, "stat": 0, "errorMsg": "boom"}),
        ),
        ("bad-2", "sid-bad", 11, 2, json!({"exitStatus": 1})),
    ];
    for (id, sid, t, seq, d) in events {
        let (s, _) = app.ingest(cr_body(id, sid, t, seq, d)).await;
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test]
async fn every_page_answers_html_with_its_data() {
    let app = app(&[]).await;
    two_recordings(&app).await;
    for (uri, must) in [
        ("/", "sid-bad"),
        ("/sessions", "sid-ok"),
        ("/sessions/sid-ok", "a.m3u8"),
        ("/sessions/sid-bad", "boom"),
        ("/events", "ok-3"),
        ("/events?sid=sid-bad", "bad-1"),
        ("/quarantine", "Quarantine"),
        ("/destinations", "No forwarding destination"),
    ] {
        let p = get(&app, uri).await;
        assert_eq!(p.status, StatusCode::OK, "{uri}: {}", p.text);
        assert!(
            p.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{uri}"
        );
        assert_eq!(p.headers[header::CACHE_CONTROL], "no-store", "{uri}");
        assert!(
            p.headers.contains_key(header::CONTENT_SECURITY_POLICY),
            "{uri}"
        );
        assert!(p.text.contains(must), "{uri} lacks {must:?}");
    }
    // The events page lists the other session's events only when not filtered.
    assert!(!get(&app, "/events?sid=sid-bad").await.text.contains("ok-3"));
    // The session page draws the stream interval and marks the failed recording's error.
    let ok = get(&app, "/sessions/sid-ok").await.text;
    assert!(
        ok.contains("data-uid=\"5\" data-kind=\"audio\" data-from=\"1700000001000\""),
        "{ok}"
    );
    let bad = get(&app, "/sessions/sid-bad").await.text;
    assert!(bad.contains("fatal_error") && bad.contains("phase-failed"));
    // A missing sequence shows as a gap in the event list.
    assert!(ok.contains("sequence 2 never received"), "{ok}");
}

#[tokio::test]
async fn the_assets_are_served_from_the_binary() {
    let app = app(&[]).await;
    let css = get(&app, "/assets/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.text.contains("prefers-color-scheme: dark"));
    let js = get(&app, "/assets/app.js").await;
    assert!(js.text.contains("EventSource(\"/v1/stream\")"));
    assert!(
        js.text.contains("pagehide"),
        "the page closes its stream when left"
    );
}

#[tokio::test]
async fn the_session_list_filters_by_phase_and_attention_on_the_page_and_the_api() {
    let app = app(&[]).await;
    two_recordings(&app).await;
    let failed = get(&app, "/sessions?phase=failed&cname=&attention=")
        .await
        .text;
    assert!(failed.contains("sid-bad") && !failed.contains("sid-ok"));
    let fatal = get(&app, "/sessions?attention=fatal_error").await.text;
    assert!(fatal.contains("sid-bad") && !fatal.contains("sid-ok"));
    let (s, v) = app.get("/v1/sessions?attention=fatal_error").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(v["sessions"][0]["sid"], "sid-bad");
    let (s, v) = app.get("/v1/sessions?attention=gap").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("attention"), "{v}");
    // Bad input on a page: the status, and a page saying what is wrong.
    let p = get(&app, "/sessions?phase=sideways").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.text.contains("phase must be one of"), "{}", p.text);
    let p = get(&app, "/events?type=abc").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.text.contains("type must be a whole number"));
    let p = get(&app, "/sessions/no-such-sid").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.text.contains("no-such-sid"));
}

#[tokio::test]
async fn with_a_token_pages_ask_to_sign_in_and_the_cookie_opens_the_api() {
    let app = app(&["--api-token", TOKEN]).await;
    two_recordings(&app).await;
    let p = get(&app, "/sessions?phase=failed").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.headers[header::LOCATION],
        "/sign-in?next=%2Fsessions%3Fphase%3Dfailed"
    );
    assert_eq!(get(&app, "/sign-in").await.status, StatusCode::OK);

    let form = |token: &str, next: &str| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("next", next)
            .finish();
        Request::post("/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let wrong = page(&app, form("not-the-right-token", "/")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text.contains("not the API token"));
    assert!(!wrong.headers.contains_key(header::SET_COOKIE));

    let ok = page(&app, form(TOKEN, "/sessions?phase=failed")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.headers[header::LOCATION], "/sessions?phase=failed");
    let cookie = ok.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();

    let with_cookie = |uri: &str| {
        Request::get(uri)
            .header(header::COOKIE, &pair)
            .body(Body::empty())
            .unwrap()
    };
    let p = page(&app, with_cookie("/sessions?phase=failed")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.text.contains("sid-bad"));
    let p = page(&app, with_cookie("/v1/sessions")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    // A wrong cookie opens nothing.
    let p = page(
        &app,
        Request::get("/v1/sessions")
            .header(header::COOKIE, "ncsd_token=nope")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    // Sign-in never sends the browser to another site.
    let away = page(&app, form(TOKEN, "//evil.example/")).await;
    assert_eq!(away.headers[header::LOCATION], "/");
    // Signing out clears the cookie.
    let out = page(
        &app,
        Request::post("/sign-out").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}
