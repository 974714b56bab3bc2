//! `ncsd simulate`: realistic recordings delivered like NCS does, with a progress bar and a
//! summary. What a user runs to watch ncsd work, and what our tests and benchmarks drive.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::clock::now_ms;
use crate::config::SecretArg;
use crate::simulate::{deliver::deliver, generate_session, plan, Faults, Mode};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// NCS endpoint to deliver to.
    #[arg(
        long,
        env = "NCSD_URL_INGEST",
        default_value = "http://127.0.0.1:8080/ncs"
    )]
    pub url: String,
    /// Secret to sign with.
    #[arg(long, env = "NCSD_SECRET", hide_env_values = true)]
    pub secret: SecretArg,
    /// Number of recording sessions.
    #[arg(long, default_value_t = 10)]
    pub sessions: usize,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Share of events NCS sends twice with the same noticeId (0..1).
    #[arg(long, default_value_t = 0.1)]
    pub duplicates: f64,
    /// Share of events also sent under a second noticeId (redundant notifications, 0..1).
    #[arg(long, default_value_t = 0.0)]
    pub copies: f64,
    /// Share of events lost entirely (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Deliver in random order.
    #[arg(long)]
    pub shuffle: bool,
    /// Share of sessions that end in an abnormal exit (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Recording modes to mix: composite, individual, web.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "composite,individual,web"
    )]
    pub modes: Vec<String>,
    /// Random seed, for a reproducible run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Print the summary (and every generated session) as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_modes(names: &[String]) -> anyhow::Result<Vec<Mode>> {
    names
        .iter()
        .map(|n| match n.trim() {
            "composite" => Ok(Mode::Composite),
            "individual" => Ok(Mode::Individual),
            "web" => Ok(Mode::Web),
            other => anyhow::bail!("unknown mode {other:?}: use composite, individual or web"),
        })
        .collect()
}

pub async fn run(a: SimulateArgs) -> anyhow::Result<ExitCode> {
    for (name, v) in [
        ("duplicates", a.duplicates),
        ("copies", a.copies),
        ("drop", a.drop),
        ("fail-rate", a.fail_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            anyhow::bail!("--{name} must be between 0 and 1, got {v}");
        }
    }
    let modes = parse_modes(&a.modes)?;
    let seed = a.seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let start = now_ms() - 3_600_000;
    let sessions: Vec<_> = (0..a.sessions)
        .map(|i| {
            let mode = modes[i % modes.len()];
            let fails = rng.random_bool(a.fail_rate);
            generate_session(&mut rng, mode, fails, start + i as i64 * 10)
        })
        .collect();
    let faults = Faults {
        duplicates: a.duplicates,
        copies: a.copies,
        drop: a.drop,
        shuffle: a.shuffle,
    };
    let planned = plan(&mut rng, &sessions, faults);
    let total = planned.deliveries.len() as u64;
    let bar = if a.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} deliveries {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(a.insecure)
        .build()?;
    let began = Instant::now();
    let tally = deliver(
        client,
        &a.url,
        &a.secret.0,
        planned.deliveries,
        a.concurrency,
        bar,
    )
    .await;
    let secs = began.elapsed().as_secs_f64();
    let events: usize = sessions.iter().map(|s| s.events.len()).sum();
    let summary = json!({
        "seed": seed,
        "sessions": sessions.len(),
        "events": events,
        "lost_on_purpose": planned.dropped,
        "deliveries": total,
        "requests": tally.sent.load(Ordering::Relaxed),
        "ok": tally.ok.load(Ordering::Relaxed),
        "duplicates_acknowledged": tally.duplicates.load(Ordering::Relaxed),
        "copies_recognised": tally.copies.load(Ordering::Relaxed),
        "retries": tally.retries.load(Ordering::Relaxed),
        "failed": tally.failed.load(Ordering::Relaxed),
        "seconds": (secs * 1000.0).round() / 1000.0,
        "per_second": (total as f64 / secs.max(1e-9)).round(),
    });
    if a.json {
        let detail: Vec<_> = sessions
            .iter()
            .zip(&planned.delivered)
            .map(|(s, got)| {
                json!({
                    "sid": s.sid, "cname": s.cname, "mode": format!("{:?}", s.mode).to_lowercase(),
                    "events": s.events.len(), "delivered_sequences": got, "files": s.files,
                    "expected_phase": s.expected_phase(&|q| got.contains(&q)),
                })
            })
            .collect();
        println!("{}", json!({"summary": summary, "sessions": detail}));
    } else {
        println!(
            "{} sessions, {} events ({} lost on purpose), {} deliveries in {:.2}s ({}/s): {} ok, {} duplicates acknowledged, {} copies recognised, {} retries, {} failed (seed {seed})",
            summary["sessions"], summary["events"], summary["lost_on_purpose"], total, secs,
            summary["per_second"], summary["ok"], summary["duplicates_acknowledged"],
            summary["copies_recognised"], summary["retries"], summary["failed"]
        );
    }
    Ok(if tally.failed.load(Ordering::Relaxed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
