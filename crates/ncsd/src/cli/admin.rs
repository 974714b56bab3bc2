//! Offline maintenance on a store, without a running server: `ncsd purge` and `ncsd copy`.

use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::clock::now_ms;
use crate::store::{self, EventQuery, ImportBatch, ImportCounts};

/// The store an offline command works on.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// Storage URL, as for `serve` (the variable's value is never shown: it may hold a password).
    #[arg(
        long = "database",
        env = "NCSD_DATABASE_URL",
        default_value = "sqlite://ncsd.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Delete what is older than this: an RFC 3339 time (2026-01-31T00:00:00Z), a date
    /// (2026-01-31), Unix milliseconds, or an age such as `30d`.
    #[arg(long)]
    pub before: String,
}

/// The cut-off in Unix ms for `--before`.
pub fn parse_before(s: &str, now: i64) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(age) = humantime::parse_duration(s) {
        return Ok(now - age.as_millis() as i64);
    }
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    let t = humantime::parse_rfc3339_weak(&full).map_err(|_| {
        anyhow::anyhow!(
            "--before {s:?}: use 2026-01-31, 2026-01-31T00:00:00Z, Unix ms, or an age like 30d"
        )
    })?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64)
}

pub async fn purge(a: PurgeArgs) -> anyhow::Result<ExitCode> {
    let cutoff = parse_before(&a.before, now_ms())?;
    let store = store::open(&a.store.database_url).await?;
    let n = store.purge_before(cutoff).await?;
    println!("purged {n} events older than {cutoff} ms");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source storage URL, e.g. sqlite://ncsd.db
    #[arg(long)]
    pub from: String,
    /// Destination storage URL, e.g. postgres://postgres@127.0.0.1/ncsd
    #[arg(long)]
    pub to: String,
    /// Records per transaction.
    #[arg(long, default_value_t = 1000)]
    pub batch: i64,
}

/// Copy events, repeat deliveries and quarantine; rerunning copies nothing twice (every record
/// has a natural key the destination enforces).
pub async fn copy(a: CopyArgs) -> anyhow::Result<ExitCode> {
    let from = store::open(&a.from).await?;
    let to = store::open(&a.to).await?;
    let total = from.latest_seq().await?.max(0) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut copied = ImportCounts::default();
    let mut read = ImportCounts::default();
    let mut after = 0;
    loop {
        let events = from
            .events(&EventQuery {
                after,
                limit: a.batch,
                ..Default::default()
            })
            .await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            break;
        };
        read.events += events.len() as u64;
        let n = to
            .import(ImportBatch {
                events,
                ..Default::default()
            })
            .await?;
        copied.events += n.events;
        bar.set_position(last as u64);
        after = last;
    }
    let mut after = 0;
    loop {
        let deliveries = from.repeat_deliveries(after, a.batch).await?;
        let Some(last) = deliveries.last().map(|d| d.id) else {
            break;
        };
        read.deliveries += deliveries.len() as u64;
        copied.deliveries += to
            .import(ImportBatch {
                deliveries,
                ..Default::default()
            })
            .await?
            .deliveries;
        after = last;
    }
    let mut after = 0;
    loop {
        let quarantine = from.quarantined(after, a.batch).await?;
        let Some(last) = quarantine.last().map(|q| q.id) else {
            break;
        };
        read.quarantine += quarantine.len() as u64;
        copied.quarantine += to
            .import(ImportBatch {
                quarantine,
                ..Default::default()
            })
            .await?
            .quarantine;
        after = last;
    }
    bar.finish_and_clear();
    println!(
        "copied {} of {} events, {} of {} repeat deliveries, {} of {} quarantined bodies (the rest were already there)",
        copied.events, read.events, copied.deliveries, read.deliveries, copied.quarantine, read.quarantine
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_before;

    #[test]
    fn before_accepts_dates_times_ms_and_ages() {
        assert_eq!(parse_before("1000", 0).unwrap(), 1000);
        assert_eq!(parse_before("1970-01-02", 0).unwrap(), 86_400_000);
        assert_eq!(parse_before("1970-01-01T00:00:01Z", 0).unwrap(), 1000);
        assert_eq!(
            parse_before("1d", 100_000_000).unwrap(),
            100_000_000 - 86_400_000
        );
        assert!(parse_before("last tuesday", 0).is_err());
    }
}
