//! Assembling and running the service: `app` builds the router (pure), `run` serves it on
//! listeners it is given until the shutdown token fires. `main` only parses flags and binds.

mod client_addr;
mod listener;
mod request_id;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::ingest::{self, IngestState};
use crate::store::DynStore;

pub struct Apps {
    /// NCS's address list, when `[agora] allow_ncs_ips` asks for it (filled by `run`).
    pub ncs_ips: Option<Arc<crate::ncs_ips::NcsIps>>,
    /// Ingest (and the API too, unless it has its own listener).
    pub main: Router,
    /// The API alone, when `--api-listen` is set.
    pub api: Option<Router>,
    /// What the API's handlers share (for the background work that fills its cache).
    pub state: AppState,
}

/// The destinations of `--config` (none without one). The file was checked when `serve`
/// started; reading it again here keeps `apps` usable on its own (tests, embedding).
pub fn destinations(cfg: &ServeConfig) -> anyhow::Result<Vec<crate::forward::DestinationConfig>> {
    match &cfg.config {
        Some(path) => crate::config_file::load(path)
            .map(|f| f.destinations)
            .map_err(|e| anyhow::anyhow!(e)),
        None => Ok(Vec::new()),
    }
}

/// `[agora]` of `--config`, when it asks for NCS's own address list.
fn agora(cfg: &ServeConfig) -> Option<crate::ncs_ips::AgoraConfig> {
    let path = cfg.config.as_ref()?;
    crate::config_file::load(path)
        .ok()?
        .agora
        .filter(|a| a.allow_ncs_ips)
}

pub fn apps(cfg: &ServeConfig, store: DynStore, shutdown: CancellationToken) -> Apps {
    let ncs_ips = agora(cfg).map(|_| Arc::new(crate::ncs_ips::NcsIps::default()));
    // One route per Agora project, each verifying with its own secrets only. The file was
    // checked when `serve` started; a file unreadable now leaves no project to serve.
    let projects = crate::projects::projects(cfg).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot read the projects of the configuration file");
        Vec::new()
    });
    let mut ingest = Router::new();
    for p in &projects {
        let state = Arc::new(IngestState {
            store: store.clone(),
            project: p.name.clone(),
            secrets: p.secrets.clone(),
            allow_unsigned: cfg.allow_unsigned,
            max_body: cfg.max_body,
            allow_from: cfg.allow_from.clone(),
            max_notify_skew: cfg.max_notify_skew,
            rejections: crate::ratelog::RateLog::per_minute(),
            ncs_ips: ncs_ips.clone(),
        });
        ingest = ingest.merge(
            Router::new()
                .route(
                    &p.path,
                    post(ingest::handle).fallback(ingest_method_not_allowed),
                )
                .with_state(state),
        );
    }
    let state = AppState {
        store: store.clone(),
        api_token: cfg.api_token.as_ref().map(|t| Arc::from(t.0.expose())),
        shutdown,
        states: crate::states::SessionStates::new(store),
        auth_failures: Arc::new(crate::ratelog::RateLog::per_minute()),
        stall_after: cfg.stall_after,
        destinations: Arc::new(destinations(cfg).unwrap_or_default()),
        projects: Arc::new(projects.iter().map(|p| p.name.to_string()).collect()),
        metrics_here: cfg.metrics_listen.is_none(),
    };
    crate::telemetry::init();
    let api = api::router(state.clone()).merge(crate::dashboard::router(state.clone()));
    let timeout = Duration::from_millis(cfg.request_timeout_ms);
    let max_header_bytes = cfg.max_header_bytes;
    let ingest_path: Arc<[String]> = projects.iter().map(|p| p.path.clone()).collect();
    let finish = |r: Router| {
        let ingest_path = ingest_path.clone();
        r.fallback(api::not_found)
            .layer(middleware::from_fn(move |req, next| {
                deadline(timeout, req, next)
            }))
            .layer(middleware::from_fn(move |req, next| {
                header_limit(max_header_bytes, req, next)
            }))
            .layer(middleware::from_fn(move |req, next| {
                request_id::tag(ingest_path.clone(), req, next)
            }))
    };
    if cfg.api_listen.is_some() {
        Apps {
            main: finish(ingest),
            api: Some(finish(api)),
            state,
            ncs_ips,
        }
    } else {
        Apps {
            main: finish(ingest.merge(api)),
            api: None,
            state,
            ncs_ips,
        }
    }
}

async fn ingest_method_not_allowed() -> Response {
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "NCS notifications are delivered with POST on this path",
    )
    .into_response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

/// Total header size cap, answered with a JSON 431 (hyper's own limit, far higher, would answer
/// without a body).
async fn header_limit(max: usize, req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if size > max {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("request headers total {size} bytes, over the {max}-byte limit (--max-header-bytes)"),
        )
        .into_response();
    }
    next.run(req).await
}

/// A whole-request deadline well inside NCS's 10 s; the stream endpoint is exempt (it is long
/// lived by design).
async fn deadline(limit: Duration, req: Request, next: Next) -> Response {
    if req.uri().path() == "/v1/stream" {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("request not completed within {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// Serve until `shutdown` fires, then stop accepting, finish in-flight requests, and return.
pub async fn run(
    cfg: ServeConfig,
    store: DynStore,
    main_listener: TcpListener,
    api_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => {
            let cert = tls::Certificate::load(c, k)?;
            tokio::spawn(reload_on_sighup(cert.clone(), shutdown.clone()));
            Some(cert.acceptor()?)
        }
        _ => None,
    };
    let store_for_retention = store.clone();
    let apps = apps(&cfg, store, shutdown.clone());
    let limits = listener::Limits {
        max_connections: cfg.max_connections,
        header_timeout: Duration::from_millis(cfg.header_timeout_ms),
        max_header_bytes: cfg.max_header_bytes,
        trusted_proxies: Arc::new(cfg.trusted_proxies.clone()),
    };
    if cfg.session_cache_mb.is_some() || cfg.session_cache_warm.is_some() {
        tracing::warn!(
            "--session-cache-mb and --session-cache-warm are no longer used: every session's \
             state is kept in the store as its events are stored"
        );
    }
    let mut background = crate::forward::spawn(
        store_for_retention.clone(),
        destinations(&cfg)?,
        cfg.forward_nice,
        shutdown.clone(),
    );
    background.push(crate::states::keeper::spawn(
        store_for_retention.clone(),
        shutdown.clone(),
    ));
    background.extend(crate::lifecycle::spawn(
        store_for_retention.clone(),
        crate::lifecycle::Settings {
            stall_after: cfg.stall_after,
        },
        shutdown.clone(),
    ));
    if let (Some(ips), Some(agora)) = (apps.ncs_ips.clone(), agora(&cfg)) {
        background.push(crate::ncs_ips::spawn(
            store_for_retention.clone(),
            agora,
            ips,
            shutdown.clone(),
        ));
    }
    if let Some(retain) = cfg.retain {
        background.push(tokio::spawn(crate::retention::run(
            store_for_retention.clone(),
            retain,
            shutdown.clone(),
        )));
    }
    let main = listener::serve(
        main_listener,
        apps.main,
        tls.clone(),
        limits.clone(),
        shutdown.clone(),
    );
    if let Some(addr) = cfg.metrics_listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (--metrics-listen): {e}"))?;
        tracing::info!("metrics on http://{}/metrics", l.local_addr()?);
        tokio::spawn(listener::serve(
            l,
            api::metrics_router(apps.state.clone()),
            None,
            limits.clone(),
            shutdown.clone(),
        ));
    }
    let served = match (apps.api, api_listener) {
        (Some(api), Some(l)) => {
            let api = listener::serve(l, api, tls, limits, shutdown);
            let (a, b) = tokio::join!(main, api);
            a.and(b)
        }
        _ => main.await,
    };
    // Background work finishes its round before the store is closed (a write after the WAL is
    // emptied would leave it non-empty).
    let all = futures::future::join_all(background);
    if tokio::time::timeout(BACKGROUND_STOP, all).await.is_err() {
        tracing::warn!("background work did not stop in time");
    }
    served
}

/// Read the certificate and key again on each SIGHUP (a renewal without a restart). A bad pair
/// is logged and the one in use stays.
async fn reload_on_sighup(cert: Arc<tls::Certificate>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot watch SIGHUP: the TLS certificate is not reloaded");
            return;
        };
        loop {
            tokio::select! {
                _ = hup.recv() => {}
                _ = shutdown.cancelled() => return,
            }
            match cert.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate and key read again"),
                Err(e) => tracing::error!(
                    "SIGHUP: keeping the TLS certificate in use, the new pair is unusable: {e:#}"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (cert, shutdown);
    }
}

/// How long a stop waits for background work to finish its round.
const BACKGROUND_STOP: Duration = Duration::from_secs(5);
