//! The schema: sqlx migrations compiled into the binary, applied at start-up.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::CONNECT_TIMEOUT;

/// Apply the embedded migrations on a connection of their own: sqlx's migrator holds a
/// session-level advisory lock while it works, and closing the connection releases it even if
/// a migration fails half-way (a pooled connection would keep it).
pub async fn migrate(options: &PgConnectOptions) -> anyhow::Result<()> {
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting after {CONNECT_TIMEOUT:?}"))??;
    let migrator = Migrator::new(Embedded).await?;
    migrator.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// The migrations compiled into the binary (the `migrate!` macro needs sqlx's `macros`
/// feature). Versions and descriptions follow the file names, as sqlx-cli would read them.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        let files = [
            (1, "schema", include_str!("migrations/0001_schema.sql")),
            (
                2,
                "session states",
                include_str!("migrations/0002_session_states.sql"),
            ),
            (
                3,
                "quarantine replays and filters",
                include_str!("migrations/0003_quarantine_replays_and_filters.sql"),
            ),
            (
                4,
                "session exits",
                include_str!("migrations/0004_session_exits.sql"),
            ),
            (
                5,
                "lifecycle",
                include_str!("migrations/0005_lifecycle.sql"),
            ),
            (
                6,
                "forwarding",
                include_str!("migrations/0006_forwarding.sql"),
            ),
            (7, "projects", include_str!("migrations/0007_projects.sql")),
        ];
        let migrations = files
            .into_iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}
