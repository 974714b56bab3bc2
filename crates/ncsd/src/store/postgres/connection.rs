//! Connection settings: the pool's read connections and the writer's own.

use sqlx::postgres::PgConnectOptions;

use super::Options;

/// The pool's connections, which run the queries: they stop at the request deadline on the
/// server too (dropping a query's future only hands its connection back; the server would go
/// on scanning).
pub fn read_options(options: PgConnectOptions, opts: &Options) -> PgConnectOptions {
    match opts.read_timeout {
        Some(t) => options.options([("statement_timeout", format!("{}", t.as_millis().max(1)))]),
        None => options,
    }
}

/// The writer's connection. Its statements take arrays (`= ANY($1)`, `UNNEST`), and PostgreSQL
/// switches a prepared statement to a generic plan after five runs, planned for the tables as
/// they were then: on a new database, empty, so a sequential scan, kept while the tables grow.
/// `content_key = ANY($1)` then compared every key of a batch with every stored row: ingest
/// fell to ~3k req/s within seconds, the backend's CPU all in `texteq` (`bench/pg.sh`: 2,790
/// req/s, 9,758 with this). Planning each batch's few statements afresh costs far less.
pub fn writer_options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("plan_cache_mode", "force_custom_plan")])
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::Duration;

    use super::*;
    use sqlx::{ConnectOptions, Connection};

    /// The test server's options; None when PostgreSQL is skipped on purpose. These tests need
    /// PostgreSQL (`scripts/test` starts it), like the conformance suite.
    fn test_server() -> Option<PgConnectOptions> {
        if std::env::var("NCSD_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            return None;
        }
        let url = std::env::var("NCSD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        Some(PgConnectOptions::from_str(&url).expect("URL"))
    }

    #[tokio::test]
    async fn the_writer_plans_each_statement_for_the_tables_as_they_are() {
        let Some(options) = test_server() else {
            return;
        };
        let mut conn = writer_options(options)
            .connect()
            .await
            .expect("PostgreSQL (set NCSD_SKIP_POSTGRES=1 to skip)");
        let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "force_custom_plan");
        conn.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_query_past_the_read_timeout_is_stopped_by_the_server() {
        let Some(options) = test_server() else {
            return;
        };
        let opts = Options {
            read_timeout: Some(Duration::from_millis(200)),
            ..Options::default()
        };
        let mut conn = read_options(options, &opts)
            .connect()
            .await
            .expect("PostgreSQL (set NCSD_SKIP_POSTGRES=1 to skip)");
        let started = std::time::Instant::now();
        let err = sqlx::query("SELECT pg_sleep(5)")
            .execute(&mut conn)
            .await
            .expect_err("stopped");
        assert!(err.to_string().contains("statement timeout"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        conn.close().await.unwrap();
    }
}
