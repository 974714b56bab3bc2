//! Several Agora projects on one ncsd (`[[project]]`): each path verifies with its own
//! project's secrets only; events, sessions, lifecycle events and the live stream carry the
//! project and filter by it; a destination takes only the projects it names; the deliveries
//! metric is labelled by project; `serve` refuses `--secret` beside `[[project]]`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::{cr_body, signed, SseReader};
use serde_json::{json, Value};

const PROD: &str = "prod-ncs-secret";
const STAGING: &str = "staging-ncs-secret";

fn config(hook: &str) -> String {
    format!(
        "[[project]]\nname = \"prod\"\npath = \"/ncs/prod\"\nsecret = [\"{PROD}\"]\n\n\
         [[project]]\nname = \"staging\"\npath = \"/ncs/staging\"\nsecret = \"{STAGING}\"\n\n\
         [[destination]]\nname = \"prod-only\"\nkind = \"webhook\"\nurl = \"{hook}\"\n\
         secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nallow_private = true\n\
         start = \"beginning\"\nevents = [\"ncs.*\"]\nprojects = [\"prod\"]\n"
    )
}

async fn post(srv: &common::TestServer, path: &str, secret: &str, body: &[u8]) -> u16 {
    let mut req = srv
        .client
        .post(format!("{}{path}", srv.base))
        .body(body.to_vec());
    for (k, v) in signed(secret, body) {
        req = req.header(k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_project_has_its_path_secrets_data_and_destinations() {
    // A receiver that keeps every message's id.
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let keep = got.clone();
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let keep = keep.clone();
        async move {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            keep.lock()
                .unwrap()
                .push(v["id"].as_str().unwrap_or("").to_string());
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ncsd.toml");
    std::fs::write(&path, config(&hook)).unwrap();
    let srv = common::start(&["--config", path.to_str().unwrap()]).await;
    let mut stream = SseReader::connect(
        &srv.client,
        &format!("{}/v1/stream?project=staging", srv.base),
        None,
    )
    .await;

    let prod = cr_body("p-0", "sid-prod", 40, 0, json!({"status": 0}));
    let staging = cr_body("s-0", "sid-staging", 40, 0, json!({"status": 0}));
    // Each path takes only its own project's signature.
    assert_eq!(post(&srv, "/ncs/prod", STAGING, &prod).await, 401);
    assert_eq!(post(&srv, "/ncs/staging", PROD, &staging).await, 401);
    assert_eq!(post(&srv, "/ncs/prod", PROD, &prod).await, 200);
    assert_eq!(post(&srv, "/ncs/staging", STAGING, &staging).await, 200);
    // The flags' path is not served when the file names projects.
    assert_eq!(post(&srv, "/ncs", PROD, &prod).await, 404);

    let (_, v) = srv.get("/v1/events/p-0").await;
    assert_eq!(v["project"], "prod");
    let (_, v) = srv.get("/v1/events?project=staging").await;
    let ids: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["notice_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s-0"]);
    let (_, v) = srv.get("/v1/sessions?project=prod").await;
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(v["sessions"][0]["sid"], "sid-prod");
    assert_eq!(v["sessions"][0]["project"], "prod");
    let (_, v) = srv.get("/v1/sessions/sid-staging").await;
    assert_eq!(v["project"], "staging");

    // Lifecycle events carry the project too, in the list and in the message.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = srv.get("/v1/lifecycle?project=prod").await;
        if let Some(first) = v["lifecycle"].as_array().and_then(|a| a.first()) {
            assert_eq!(first["data"]["sid"], "sid-prod");
            assert_eq!(first["data"]["project"], "prod");
            assert_eq!(v["lifecycle"].as_array().unwrap().len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "no lifecycle event for prod");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The stream filtered to staging carries staging alone.
    let mut seen = Vec::new();
    while let Some(m) = stream.next(Duration::from_secs(2)).await {
        let sid = m.data["sid"]
            .as_str()
            .or(m.data["data"]["sid"].as_str())
            .unwrap_or_default()
            .to_string();
        seen.push((m.event.clone(), sid));
        if seen.iter().any(|(e, _)| e == "lifecycle") {
            break;
        }
    }
    assert!(
        seen.iter().any(|(e, s)| e == "event" && s == "sid-staging"),
        "{seen:?}"
    );
    assert!(seen.iter().all(|(_, s)| s == "sid-staging"), "{seen:?}");

    // The destination takes prod's events only.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.lock().unwrap().contains(&"p-0".to_string()) {
        assert!(Instant::now() < deadline, "prod's event not forwarded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!got.lock().unwrap().contains(&"s-0".to_string()));

    // Deliveries are counted by project.
    let text = srv
        .client
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (project, outcome) in [
        ("prod", "stored"),
        ("staging", "stored"),
        ("prod", "unauthorized"),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with("ncsd_deliveries_total")
                && l.contains(&format!("project=\"{project}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))),
            "{project} {outcome}: {text}"
        );
    }
    srv.stop().await;
}

#[test]
fn serve_refuses_a_secret_flag_beside_projects_and_check_config_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ncsd.toml");
    std::fs::write(&path, config("https://app.example.com/hook")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["serve", "--config", path.to_str().unwrap(), "--secret", "x"])
        .args([
            "--database",
            &format!("sqlite://{}", dir.path().join("n.db").display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[[project]]") && err.contains("--secret"),
        "{err}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("/ncs/staging"), "{text}");
    assert!(
        !text.contains(PROD) && !text.contains(STAGING),
        "secrets shown: {text}"
    );

    // A destination naming a project that is not configured is refused, with the line.
    std::fs::write(
        &path,
        config("https://a.example/h").replace("[\"prod\"]", "[\"prd\"]"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ncsd"))
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"prd\"") && err.contains("not configured"),
        "{err}"
    );
}
