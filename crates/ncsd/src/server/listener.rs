//! The accept loop, written out instead of `axum::serve` because ingest needs what that hides:
//! optional TLS, a cap on concurrent connections, a header-read timeout (a client that never
//! finishes its headers is dropped instead of holding a slot), the peer address for the
//! allow-list, and graceful shutdown that lets in-flight requests finish.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// How long in-flight requests get to finish after shutdown was asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// One open connection, as seen by the shedding logic.
#[derive(Default)]
struct Conn {
    /// Requests in progress on it (0: idle keep-alive, or still waiting for headers).
    busy: AtomicUsize,
    close: CancellationToken,
}

/// Open connections in accept order. When every slot is taken, the oldest connection without a
/// request in progress is closed: a crowd of clients that never finish their headers cannot lock
/// out a real delivery.
#[derive(Default)]
struct Registry {
    conns: Mutex<VecDeque<Weak<Conn>>>,
}

impl Registry {
    fn add(&self) -> Arc<Conn> {
        let conn = Arc::new(Conn::default());
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|w| w.strong_count() > 0);
        conns.push_back(Arc::downgrade(&conn));
        conn
    }

    fn shed_one_idle(&self) -> bool {
        let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for c in conns.iter().filter_map(Weak::upgrade) {
            if c.busy.load(Ordering::Acquire) == 0 && !c.close.is_cancelled() {
                c.close.cancel();
                return true;
            }
        }
        false
    }
}

/// Marks a connection busy for as long as one request is being handled.
struct Busy(Arc<Conn>);

impl Busy {
    fn new(conn: &Arc<Conn>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy(conn.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let registry = Arc::new(Registry::default());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(1024 * 1024 + 64 * 1024)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    loop {
        if slots.available_permits() == 0 && registry.shed_one_idle() {
            tracing::debug!("connection limit reached: closed the oldest idle connection");
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p?,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let app = app.clone();
        let tls = tls.clone();
        let conn = registry.add();
        tokio::spawn(async move {
            let _permit = permit;
            let close = conn.close.clone();
            tokio::select! {
                _ = serve_connection(stream, peer, app, tls, builder, watcher, limits, conn) => {}
                _ = close.cancelled() => {}
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => tracing::warn!("in-flight requests did not finish in time"),
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    tls: Option<TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    limits: Limits,
    conn: Arc<Conn>,
) {
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let busy = Busy::new(&conn);
            let call = app.clone().oneshot(req);
            async move {
                let res = call.await;
                drop(busy);
                res
            }
        });
    let result = match tls {
        None => {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(conn.into_owned()).await
        }
        Some(acceptor) => {
            let tls_stream =
                match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service);
            watcher.watch(conn.into_owned()).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
