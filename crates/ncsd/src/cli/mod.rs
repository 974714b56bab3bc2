//! Command-line interface: `ncsd serve` runs the receiver; the other subcommands are clients
//! (of an NCS endpoint: `send`, `simulate`; of the query API: `sessions`, `session`, `events`;
//! offline: `explain`, `copy`, `purge`).

mod admin;
mod explain;
mod forward_cli;
mod quarantine;
mod query;
mod send;
mod serve;
mod simulate;

pub use crate::simulate::post_signed;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ncsd",
    version,
    about = "A durable receiver for Agora Cloud Recording callbacks (NCS)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive, verify and store NCS callbacks; serve the query API.
    Serve(Box<crate::config::ServeConfig>),
    /// Sign and POST notification bodies (files, or stdin) to an NCS endpoint.
    Send(send::SendArgs),
    /// Generate realistic Cloud Recording sessions and deliver them like NCS does.
    Simulate(simulate::SimulateArgs),
    /// List recording sessions.
    Sessions(query::SessionsArgs),
    /// Show one recording session as a timeline.
    Session(query::SessionArgs),
    /// List stored events, or follow the live stream.
    Events(query::EventsArgs),
    /// List lifecycle events (recording started, stopped, completed, ...), or follow them live.
    Lifecycle(query::LifecycleArgs),
    /// Explain an Agora code, e.g. `leave-code 6`, `status 20`, `upload-error 47`.
    Explain(explain::ExplainArgs),
    /// Delete events and sessions older than a date (what --retain does in the background).
    Purge(admin::PurgeArgs),
    /// Copy everything from one store to another (e.g. SQLite to PostgreSQL); safe to rerun.
    Copy(admin::CopyArgs),
    /// Work on the quarantine: `reprocess` re-reads kept bodies with this build's parser.
    Quarantine(quarantine::QuarantineArgs),
    /// Check a configuration file and print what `serve --config FILE` would run (secrets
    /// redacted); exits 2 with the line and the reason when it is wrong.
    CheckConfig(forward_cli::CheckConfigArgs),
    /// Forwarding destinations: state, lag, failures.
    Destinations(forward_cli::DestinationsArgs),
    /// A destination's messages and their attempts.
    Messages(forward_cli::MessagesArgs),
    /// Send a failed message (or every failed one) again.
    Retry(forward_cli::RetryArgs),
    /// Send a destination's history since a time again.
    Replay(forward_cli::ReplayArgs),
    /// A local receiver for wiring up a webhook: verifies Standard Webhooks signatures and
    /// prints what arrives.
    Listen(forward_cli::ListenArgs),
}

pub fn main() -> ExitCode {
    // A configuration file feeds the flags through their environment variables, so it is read
    // before they are parsed; a bad one stops here with the line and the reason.
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = crate::config_file::wanted(&args) {
        match crate::config_file::load(&path) {
            Ok(file) => file.export(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let cli = Cli::parse();
    let json_logs = matches!(&cli.command, Command::Serve(cfg) if cfg.log_format == "json");
    init_tracing(json_logs);
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(cfg) => serve::run(*cfg).await,
            Command::Send(a) => send::run(a).await,
            Command::Simulate(a) => simulate::run(a).await,
            Command::Sessions(a) => query::sessions(a).await,
            Command::Session(a) => query::session(a).await,
            Command::Events(a) => query::events(a).await,
            Command::Lifecycle(a) => query::lifecycle(a).await,
            Command::Explain(a) => explain::run(a),
            Command::Purge(a) => admin::purge(a).await,
            Command::Copy(a) => admin::copy(a).await,
            Command::Quarantine(a) => quarantine::run(a).await,
            Command::CheckConfig(a) => forward_cli::check_config(a),
            Command::Destinations(a) => forward_cli::destinations(a).await,
            Command::Messages(a) => forward_cli::messages(a).await,
            Command::Retry(a) => forward_cli::retry(a).await,
            Command::Replay(a) => forward_cli::replay(a).await,
            Command::Listen(a) => forward_cli::listen(a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime every subcommand runs on: multi-threaded, one worker per CPU. (The
/// benchmark's `ncsd-nostore` uses it too, so it measures the same server.)
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Only SQLite queries run on blocking threads, at most `max_running_queries` at once.
        // Without this cap the pool still grew past them (to 26 threads in a burst of session
        // reads): a permit is handed on before its thread is back in the pool, so the next
        // query found no idle thread and got a new one, each with its own allocator heap.
        .max_blocking_threads(crate::store::sqlite::max_running_queries())
        .build()
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NCSD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if json {
        // One JSON object per line, with the span's fields (the request id) in it.
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
        return;
    }
    // Colours only on a terminal: a log file or the journal gets plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    #[test]
    fn queries_never_run_on_more_blocking_threads_than_may_run_at_once() {
        let rt = super::runtime().unwrap();
        let seen = Arc::new(Mutex::new(HashSet::new()));
        rt.block_on(async {
            // Far more at once than the cap: uncapped, each would get a thread of its own.
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    let seen = seen.clone();
                    tokio::task::spawn_blocking(move || {
                        seen.lock().unwrap().insert(std::thread::current().id());
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let threads = seen.lock().unwrap().len();
        let cap = crate::store::sqlite::max_running_queries();
        assert!(
            (1..=cap).contains(&threads),
            "{threads} blocking threads, cap {cap}"
        );
    }
}
