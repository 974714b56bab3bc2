//! The accept loop, written out instead of `axum::serve` because ingest needs what that hides:
//! optional TLS, a cap on concurrent connections, a header-read timeout (a client that never
//! finishes its headers is dropped instead of holding a slot), the peer address for the
//! allow-list, graceful shutdown that lets in-flight requests finish, and memory bounded per
//! connection (a read buffer sized to the header limit, an idle timeout for HTTP/2 too).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

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

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    /// Time to send request headers; also how long an HTTP/1 or HTTP/2 connection may sit idle.
    pub header_timeout: Duration,
    /// `--max-header-bytes`: sizes the per-connection read buffer.
    pub max_header_bytes: usize,
    /// `--trusted-proxies`: whose forwarding headers name the client.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
}

impl Limits {
    /// HTTP/1 read buffer cap. hyper grows the buffer up to this while a request's headers are
    /// incomplete, so it is what an endless header costs per connection: the header limit, plus
    /// room for headers a little over it to be read whole and answered with the JSON 431 of
    /// `header_limit` (past the cap hyper answers a bare 431). Bodies stream through it.
    fn read_buffer(&self) -> usize {
        (self.max_header_bytes + HEADER_SLACK).max(MIN_READ_BUFFER)
    }
}

/// See `Limits::read_buffer`.
const HEADER_SLACK: usize = 16 * 1024;
/// hyper refuses a smaller read buffer.
const MIN_READ_BUFFER: usize = 8 * 1024;
/// Streams one HTTP/2 connection may open at once (each holds a request's state).
const H2_MAX_STREAMS: u32 = 64;

/// How long in-flight requests get to finish after shutdown was asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// One open connection, as seen by the shedding logic and the idle timer.
struct Conn {
    /// Requests in progress on it, until their response body is sent (0: idle keep-alive, or
    /// still waiting for headers). A live stream keeps its connection busy.
    busy: AtomicUsize,
    /// When the last request finished (or the connection opened).
    idle_since: Mutex<Instant>,
    close: CancellationToken,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            close: CancellationToken::new(),
        }
    }
}

impl Conn {
    /// How long it has had no request in progress (None: one is in progress).
    fn idle_for(&self) -> Option<Duration> {
        if self.busy.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(
            self.idle_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed(),
        )
    }
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
        *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Close an HTTP/2 connection that has had no request for `limit`, as hyper does for HTTP/1
/// (its header-read timer also runs on an idle keep-alive connection); hyper's HTTP/2 server
/// has no idle timeout of its own, and each idle connection holds its buffers.
async fn close_when_idle(conn: Arc<Conn>, limit: Duration) {
    let tick = (limit / 4).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(tick).await;
        if conn.idle_for().is_some_and(|d| d >= limit) {
            conn.close.cancel();
            return;
        }
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
        .max_buf_size(limits.read_buffer())
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.read_buffer()).unwrap_or(u32::MAX))
        .max_concurrent_streams(H2_MAX_STREAMS);
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
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let close = conn.close.clone();
            let idle = close_when_idle(conn.clone(), limits.header_timeout);
            tokio::select! {
                _ = serve_connection(stream, peer, app, tls, builder, watcher, limits, conn) => {}
                _ = close.cancelled() => {}
                _ = idle => {}
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
    let trusted = limits.trusted_proxies.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // Behind a trusted proxy, the client's address stands in for the peer's everywhere.
            let client = if trusted.is_empty() {
                peer
            } else {
                let ip = super::client_addr::client(peer.ip(), req.headers(), &trusted);
                SocketAddr::new(ip, peer.port())
            };
            req.extensions_mut().insert(ConnectInfo(client));
            let busy = Busy::new(&conn);
            let call = app.clone().oneshot(req);
            async move {
                // The connection stays busy until the body is sent or dropped: the closure
                // owns the guard, and the body owns the closure.
                call.await.map(|res| {
                    res.map(|body| {
                        axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |f| {
                            let _ = &busy;
                            f
                        }))
                    })
                })
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
