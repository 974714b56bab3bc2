//! The dashboard in a real browser: Debian's headless Chromium, driven over WebDriver
//! (chromedriver) against a real ncsd filled by `ncsd simulate`. `scripts/test` installs both
//! packages when missing; `NCSD_SKIP_BROWSER=1` skips these tests on a machine without them.
//! Each test saves a screenshot under `target/dashboard-screenshots/` for review.

mod browser;
#[path = "../common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use browser::{count_sessions, eventually, simulate, Browser};
use common::cr_body;
use fantoccini::Locator;
use serde_json::{json, Value};

const TOKEN: &str = "dashboard-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_match_the_api() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let srv = common::start(&[]).await;
    simulate(&srv, &["--sessions", "12", "--fail-rate", "0.3"]);
    // One unreadable body, for the quarantine count.
    let bad = b"{not json";
    assert_eq!(srv.post(bad).await.0, 200);

    b.client.goto(&format!("{}/", srv.base)).await.unwrap();
    for phase in ["failed", "completed", "uploading", "recording", "starting"] {
        let shown = b
            .texts(&format!(".card[data-phase=\"{phase}\"] .n"))
            .await
            .concat();
        let want = count_sessions(&srv, &format!("&phase={phase}")).await;
        assert_eq!(shown, want.to_string(), "sessions {phase}");
    }
    let (_, q) = srv.get("/v1/quarantine").await;
    let quarantined = b.texts("#quarantine-count .n").await.concat();
    assert_eq!(
        quarantined,
        q["quarantine"]
            .as_array()
            .map_or(0, |a| a.len())
            .to_string()
    );
    assert_eq!(quarantined, "1");
    // Every failed session is under "needs a look".
    let failed = count_sessions(&srv, "&phase=failed").await;
    assert!(failed > 0, "the simulation made failed sessions");
    let listed = b.texts("#attention .phase-failed").await.len();
    assert_eq!(listed, failed);
    b.finish("overview", srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_page_draws_one_bar_per_stream_interval() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let srv = common::start(&[]).await;
    simulate(
        &srv,
        &["--sessions", "6", "--modes", "individual", "--drop", "0.05"],
    );
    let (_, list) = srv.get("/v1/sessions?limit=100").await;
    let mut checked = 0;
    for s in list["sessions"].as_array().unwrap() {
        let sid = s["sid"].as_str().unwrap();
        let (_, state) = srv.get(&format!("/v1/sessions/{sid}")).await;
        let intervals = state["stream_intervals"].as_array().unwrap();
        if intervals.is_empty() {
            continue;
        }
        b.client
            .goto(&format!("{}/sessions/{sid}", srv.base))
            .await
            .unwrap();
        let bars = b
            .client
            .find_all(Locator::Css("#stream-timeline rect[data-uid]"))
            .await
            .unwrap();
        let mut drawn = Vec::new();
        for bar in &bars {
            let attr =
                |n: &'static str| async move { bar.attr(n).await.unwrap().unwrap_or_default() };
            drawn.push((
                attr("data-uid").await,
                attr("data-kind").await,
                attr("data-from").await,
                attr("data-to").await,
            ));
        }
        let mut want: Vec<(String, String, String, String)> = intervals
            .iter()
            .map(|i| {
                let ms = |v: &Value| v.as_i64().map_or_else(String::new, |n| n.to_string());
                (
                    i["uid"].as_str().unwrap().to_string(),
                    i["kind"].as_str().unwrap().to_string(),
                    ms(&i["from_ms"]),
                    ms(&i["to_ms"]),
                )
            })
            .collect();
        drawn.sort();
        want.sort();
        assert_eq!(drawn, want, "session {sid}");
        if checked == 0 {
            b.screenshot("session").await;
        }
        checked += 1;
    }
    assert!(checked > 0, "no session had stream intervals");
    b.finish("session-last", srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_filter_narrows_the_list() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let srv = common::start(&[]).await;
    simulate(&srv, &["--sessions", "15", "--fail-rate", "0.3"]);
    b.client
        .goto(&format!("{}/sessions", srv.base))
        .await
        .unwrap();
    let all = b.texts("#sessions tbody tr").await.len();
    assert_eq!(all, count_sessions(&srv, "").await);
    let form = b.client.form(Locator::Id("session-filters")).await.unwrap();
    form.set_by_name("phase", "failed").await.unwrap();
    form.submit().await.unwrap();
    eventually("the filtered list", Duration::from_secs(5), || async {
        b.client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("phase=failed")
    })
    .await;
    let failed = count_sessions(&srv, "&phase=failed").await;
    assert!(failed > 0 && failed < all, "{failed} of {all}");
    // The new page may still be loading when its URL shows: wait for its rows.
    eventually(
        "only the failed sessions listed",
        Duration::from_secs(5),
        || async {
            let phases = b.texts("#sessions tbody tr .phase").await;
            phases.len() == failed && phases.iter().all(|p| p == "failed")
        },
    )
    .await;
    b.finish("sessions-filtered", srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_appears_on_an_open_session_page_without_a_reload() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let srv = common::start(&[]).await;
    let sid = "live-sid";
    for (i, (t, d)) in [(40, json!({"status": 0})), (30, json!({"status": 0}))]
        .into_iter()
        .enumerate()
    {
        let body = cr_body(&format!("live-{i}"), sid, t, i as i64, d);
        assert_eq!(srv.post(&body).await.0, 200);
    }
    b.client
        .goto(&format!("{}/sessions/{sid}", srv.base))
        .await
        .unwrap();
    b.client
        .execute("window.notReloaded = true; return true;", vec![])
        .await
        .unwrap();
    eventually("the live stream opens", Duration::from_secs(10), || async {
        b.client
            .execute(
                "return document.getElementById('live-state').dataset.state",
                vec![],
            )
            .await
            .unwrap()
            == json!("open")
    })
    .await;
    let body = cr_body(
        "live-2",
        sid,
        43,
        2,
        json!({"streamUid": 7, "state": 0, "UtcMs": 1_700_000_002_000i64}),
    );
    assert_eq!(srv.post(&body).await.0, 200);
    let sent = Instant::now();
    eventually(
        "the new event on the page",
        Duration::from_secs(2),
        || async {
            b.client
                .find(Locator::Css(
                    "#session-events tr[data-notice-id=\"live-2\"]",
                ))
                .await
                .is_ok()
        },
    )
    .await;
    let took = sent.elapsed();
    assert_eq!(
        b.client
            .execute("return window.notReloaded === true", vec![])
            .await
            .unwrap(),
        json!(true),
        "the page was reloaded"
    );
    eprintln!("the delivery showed after {took:?}");
    b.finish("session-live", srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_takes_the_token_and_refuses_a_wrong_one() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let srv = common::start(&["--api-token", TOKEN]).await;
    simulate(&srv, &["--sessions", "3"]);
    b.client
        .goto(&format!("{}/sessions", srv.base))
        .await
        .unwrap();
    assert!(b
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/sign-in"));

    let sign_in = |token: &'static str| {
        let c = b.client.clone();
        async move {
            let form = c.form(Locator::Css("form.signin")).await.unwrap();
            form.set_by_name("token", token).await.unwrap();
            form.submit().await.unwrap();
        }
    };
    sign_in("not-the-token-at-all").await;
    // The answer to the form is a new page: wait for it rather than read the old one.
    eventually(
        "the refusal on the page",
        Duration::from_secs(5),
        || async {
            b.texts("#sign-in-error")
                .await
                .concat()
                .contains("not the API token")
        },
    )
    .await;
    assert!(b
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/sign-in"));
    b.screenshot("sign-in-refused").await;

    sign_in(TOKEN).await;
    eventually(
        "back on the sessions page",
        Duration::from_secs(5),
        || async { b.client.current_url().await.unwrap().path() == "/sessions" },
    )
    .await;
    assert_eq!(b.texts("#sessions tbody tr").await.len(), 3);
    // The cookie opens /v1 too.
    let status = b
        .client
        .execute_async(
            "const done = arguments[0]; fetch('/v1/sessions').then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(200));
    // Without it, the API still refuses.
    assert_eq!(srv.get("/v1/sessions").await.0, 401);
    b.finish("signed-in", srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_on_a_failed_message_calls_the_api() {
    let Some(b) = Browser::start().await else {
        return;
    };
    // A receiver that always answers 500, counting what it is sent.
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ncsd.toml");
    std::fs::write(
        &config,
        format!(
            "[[destination]]\nname = \"app\"\nkind = \"webhook\"\nurl = \"{url}\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
             allow_private = true\nstart = \"beginning\"\nevents = [\"ncs.40\"]\nretry = []\n"
        ),
    )
    .unwrap();
    let srv = common::start(&["--config", config.to_str().unwrap()]).await;
    let body = cr_body("to-retry", "retry-sid", 40, 0, json!({"status": 0}));
    assert_eq!(srv.post(&body).await.0, 200);
    eventually("the message failed", Duration::from_secs(10), || async {
        let (_, v) = srv.get("/v1/destinations").await;
        v["destinations"][0]["failed"] == json!(1)
    })
    .await;
    let before = hits.load(Ordering::SeqCst);
    b.client
        .goto(&format!("{}/destinations", srv.base))
        .await
        .unwrap();
    b.screenshot("destinations").await;
    b.client
        .find(Locator::Css("tr[data-id=\"to-retry\"] button.retry"))
        .await
        .expect("a retry button for the failed message")
        .click()
        .await
        .unwrap();
    eventually(
        "the retry reached the receiver",
        Duration::from_secs(10),
        || async { hits.load(Ordering::SeqCst) > before },
    )
    .await;
    // With no retry left, the message is failed again, now with two attempts.
    eventually(
        "the second attempt recorded",
        Duration::from_secs(10),
        || async {
            let (_, v) = srv.get("/v1/destinations/app/messages?state=failed").await;
            v["messages"][0]["attempt_log"]
                .as_array()
                .map_or(0, |a| a.len())
                == 2
        },
    )
    .await;
    b.finish("destinations-retried", srv).await;
}
