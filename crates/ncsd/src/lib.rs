//! ncsd: a durable receiver for Agora Cloud Recording callbacks (NCS).
//!
//! Layout: `ingest` (verify, read, store, then 200), `store` (the storage port and its
//! adapters), `session` (the pure fold of a recording's events into its state), `api` (query
//! API and live stream), `server` (listeners, TLS, shutdown), `cli` (subcommands), `simulate`
//! (realistic NCS traffic for demos, tests and benchmarks).

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod config_file;
pub mod dashboard;
pub mod error;
pub mod event_view;
pub mod forward;
pub mod ingest;
pub mod lifecycle;
pub mod ncs_ips;
pub mod priority;
pub mod projects;
pub mod ratelog;
pub mod retention;
pub mod server;
pub mod session;
pub mod simulate;
pub mod states;
pub mod store;
pub mod summary;
pub mod telemetry;
