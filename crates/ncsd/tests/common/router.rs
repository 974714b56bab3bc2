//! The service's router driven without a socket (`oneshot`), on a fresh SQLite database or on
//! another instance's (what a restarted instance sees).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use ncsd::api::AppState;
use ncsd::config::ServeConfig;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::{signed, SECRET};

pub struct App {
    pub router: Router,
    pub state: AppState,
    pub dir: Arc<tempfile::TempDir>,
}

pub async fn app(extra: &[&str]) -> App {
    app_in(Arc::new(tempfile::tempdir().unwrap()), extra).await
}

/// An instance on the database in `dir` (another instance's, to see what a restart sees).
pub async fn app_in(dir: Arc<tempfile::TempDir>, extra: &[&str]) -> App {
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut args = vec!["--database", &db, "--secret", SECRET];
    args.extend_from_slice(extra);
    let cfg = ServeConfig::from_args(&args).unwrap();
    let store = ncsd::store::open(&cfg.database_url).await.unwrap();
    let apps = ncsd::server::apps(&cfg, store, CancellationToken::new());
    App {
        router: apps.main,
        state: apps.state,
        dir,
    }
}

impl App {
    pub async fn call(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }
    pub async fn ingest(&self, body: Vec<u8>) -> (StatusCode, Value) {
        let mut req = Request::post("/ncs");
        for (k, v) in signed(SECRET, &body) {
            req = req.header(k, v);
        }
        self.call(req.body(Body::from(body)).unwrap()).await
    }
}
