//! One storage story, told to every backend. Each `story_*` function takes a fresh store and
//! asserts what the `Store` port promises; the `stories!` macro runs each against SQLite (a temp
//! file) and PostgreSQL (a database created for the test and dropped after it). A few tests need
//! PostgreSQL itself (`postgres_only`: two instances sharing one database, and an outage), and
//! `copy` checks that moving everything between the two backends reads the same.
//!
//! PostgreSQL comes from `NCSD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). If it cannot be reached the PostgreSQL tests
//! fail; set `NCSD_SKIP_POSTGRES=1` to skip them on purpose. `sqlite_only` holds what only the
//! embedded backend can get wrong (its write-ahead log's growth).

#[path = "../common/mod.rs"]
mod common;
mod copy;
mod postgres_only;
mod records;
mod sqlite_only;
mod stories_concurrency;
mod stories_dashboard;
mod stories_ingest;
mod stories_lifecycle;
mod stories_maintenance;
mod stories_projects;
mod stories_sessions;
mod stories_states;

use common::pg::PgDatabase;
use ncsd::store::{self, DynStore};
use stories_concurrency::*;
use stories_dashboard::*;
use stories_ingest::*;
use stories_lifecycle::*;
use stories_maintenance::*;
use stories_projects::*;
use stories_sessions::*;
use stories_states::*;

// ---------------------------------------------------------------------------------------------
// Backends

macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let db = super::TestDb::sqlite().await;
                    super::$story(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$story(db.store.clone()).await;
                }
            )*
        }
    };
}

stories!(
    story_ingest_and_read_back,
    story_duplicates,
    story_redundant_copies,
    story_quarantine,
    story_session_summary,
    story_session_exits,
    story_session_events,
    story_kept_states,
    story_state_keeper,
    story_import,
    story_purge_before,
    story_purge_in_chunks,
    story_subscribe_wakes,
    story_concurrent_same_notice,
    story_concurrent_copies,
    story_lifecycle_records,
    story_lifecycle_evidence_and_quiet_sessions,
    story_lifecycle_deriver_resumes,
    story_lifecycle_deriver_holds_evidence,
    story_dashboard_reads,
    story_projects,
);

/// A store and what keeps its database alive (a temp dir or a test database); the store is
/// dropped first.
struct TestDb {
    store: DynStore,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDb {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ncsd.db").display());
        let store = store::open(&url).await.expect("open SQLite");
        assert_eq!(store.backend(), "sqlite");
        Self {
            store,
            _dir: Some(dir),
            _pg: None,
        }
    }

    /// None only when `NCSD_SKIP_POSTGRES=1`; an unreachable server fails the test.
    async fn postgres() -> Option<Self> {
        let db = PgDatabase::create().await?;
        let store = store::open(&db.url).await.expect("open PostgreSQL");
        assert_eq!(store.backend(), "postgres");
        Some(Self {
            store,
            _dir: None,
            _pg: Some(db),
        })
    }
}
