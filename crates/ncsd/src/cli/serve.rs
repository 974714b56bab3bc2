//! `ncsd serve`: validate the configuration, open the store, bind, and run until SIGTERM/SIGINT.

use std::process::ExitCode;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;

pub async fn run(cfg: ServeConfig) -> anyhow::Result<ExitCode> {
    if let Err(msg) = cfg.validate() {
        eprintln!("error: {msg}");
        return Ok(ExitCode::from(2));
    }
    if cfg.allow_unsigned {
        tracing::warn!(
            "--allow-unsigned is on: accepting UNSIGNED deliveries from anyone who reaches {} \
             (local testing only)",
            cfg.listen
        );
    }
    // A bad certificate or key refuses the start before the store is opened or a port announced.
    if let (Some(c), Some(k)) = (&cfg.tls_cert, &cfg.tls_key) {
        if let Err(e) = crate::server::tls::Certificate::load(c, k) {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    }
    let opts = crate::store::Options {
        writer_nice: cfg.writer_nice,
        // A little past the request deadline, so the deadline answers first.
        read_timeout: Some(std::time::Duration::from_millis(
            cfg.request_timeout_ms.saturating_add(500),
        )),
    };
    let store = crate::store::open_with(&cfg.database_url, &opts).await?;
    let main = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let api = match cfg.api_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen on {a}"))?,
        ),
        None => None,
    };
    let scheme = if cfg.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        "ncsd listening on {scheme}://{}{} (storage: {})",
        main.local_addr()?,
        cfg.path,
        store.backend()
    );
    if let Some(a) = &api {
        tracing::info!("API on {scheme}://{}/v1", a.local_addr()?);
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    crate::server::run(cfg, store.clone(), main, api, shutdown).await?;
    if let Err(e) = store.close().await {
        tracing::warn!(error = %e, "could not close the store cleanly; the next start recovers it");
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    token.cancel();
}
