//! `ncsd quarantine reprocess`: read quarantined bodies again with this build's parser, and move
//! those that now read into the events, as if delivered when they first arrived. Safe to rerun:
//! an event is stored once by its `noticeId`, and a moved body leaves the quarantine.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::store::{self, NewDelivery};

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    pub command: QuarantineCommand,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Re-read every quarantined body; move those that now read into the events.
    Reprocess(ReprocessArgs),
}

#[derive(Debug, Args)]
pub struct ReprocessArgs {
    #[command(flatten)]
    pub store: super::admin::StoreArg,
}

pub async fn run(a: QuarantineArgs) -> anyhow::Result<ExitCode> {
    let QuarantineCommand::Reprocess(a) = a.command;
    let store = store::open(&a.store.database_url).await?;
    let (mut after, mut seen, mut moved) = (0, 0u64, 0u64);
    loop {
        let page = store.quarantined(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let mut readable = Vec::new();
        for q in &page {
            seen += 1;
            if let Some(d) = reread(&q.body, &q.headers, q.received_at_ms) {
                store.ingest(d).await?;
                readable.push(q.id);
            }
        }
        if !readable.is_empty() {
            moved += store.unquarantine(readable).await?;
        }
    }
    println!(
        "reprocessed {seen} quarantined bodies: {moved} now read and moved to the events, {} still \
         quarantined",
        seen - moved
    );
    Ok(ExitCode::SUCCESS)
}

/// The delivery a quarantined body makes with the current parser, or None if it still does not
/// read (the same checks as ingest).
pub fn reread(body: &[u8], headers: &str, received_at_ms: i64) -> Option<NewDelivery> {
    let env = agora_ncs::Envelope::from_slice(body).ok()?;
    if env.notice_id.contains('\0') {
        return None;
    }
    Some(crate::ingest::to_delivery(
        &env,
        body.to_vec(),
        headers.to_string(),
        received_at_ms,
    ))
}
