//! PostgreSQL for tests: a fresh database per test (dropped afterwards), and a TCP relay that
//! can be cut to play a database that goes away and comes back.

use std::net::SocketAddr;

use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub fn skip_postgres() -> bool {
    if std::env::var("NCSD_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
        eprintln!("NCSD_SKIP_POSTGRES=1: skipping a PostgreSQL test");
        return true;
    }
    false
}

pub fn admin_url() -> String {
    std::env::var("NCSD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, dropped (best effort) when the test ends, even by panic.
pub struct PgDatabase {
    pub admin: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Option<Self> {
        if skip_postgres() {
            return None;
        }
        let admin = admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!(
                "PostgreSQL is unreachable at {admin}: {e}\nstart it, point NCSD_TEST_POSTGRES_URL \
                 at one, or set NCSD_SKIP_POSTGRES=1 to skip these tests"
            )
            });
        let name = format!("ncsd_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        conn.close().await.ok();
        let url = with_database(&admin, &name);
        Some(Self { admin, name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // On a thread with its own runtime: this may run while the test's runtime unwinds.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(&sql).execute(&mut conn).await.ok()
            })
        })
        .join();
    }
}

/// `scheme://userinfo@host:port/db?query` split into (scheme://, userinfo@, host:port, ?query).
pub fn url_parts(url: &str) -> (&str, &str, &str, &str) {
    let at = url.find("://").expect("a URL with a scheme") + 3;
    let (scheme, rest) = url.split_at(at);
    let (rest, query) = rest.find('?').map_or((rest, ""), |q| rest.split_at(q));
    let authority = rest.split('/').next().unwrap_or_default();
    let (user, host) = authority
        .rfind('@')
        .map_or(("", authority), |i| authority.split_at(i + 1));
    (scheme, user, host, query)
}

pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, user, host, query) = url_parts(url);
    format!("{scheme}{user}{host}/{db}{query}")
}

/// A TCP relay we can cut, standing in for a database that goes away and comes back.
pub struct Relay {
    pub port: u16,
    target: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let port = listener.local_addr().unwrap().port();
        Self {
            port,
            target,
            task: Some(tokio::spawn(relay(listener, target))),
        }
    }

    /// Close the listening socket and every relayed connection.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the relay");
        self.task = Some(tokio::spawn(relay(listener, self.target)));
    }
}

async fn relay(listener: TcpListener, target: SocketAddr) {
    // Owned here, so aborting this task drops (and closes) every connection.
    let mut conns = JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        conns.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// The address behind a PostgreSQL URL, for pointing a relay at it.
pub async fn pg_target(url: &str) -> SocketAddr {
    let (_, _, host, _) = url_parts(url);
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    };
    let addr = tokio::net::lookup_host(&host)
        .await
        .unwrap()
        .next()
        .unwrap();
    addr
}

/// `url` with its host:port replaced by 127.0.0.1:`port` (to go through a relay).
pub fn via_port(url: &str, db: &str, port: u16) -> String {
    let (scheme, user, _, query) = url_parts(url);
    format!("{scheme}{user}127.0.0.1:{port}/{db}{query}")
}
