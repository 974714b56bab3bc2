//! `ncsd send`: sign bodies exactly as given (both headers) and POST them, printing each answer.
//! Useful to replay a captured notification or to check an endpoint by hand.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::config::SecretArg;
use crate::simulate::post_signed;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// NCS endpoint, e.g. http://127.0.0.1:8080/ncs
    #[arg(
        long,
        env = "NCSD_URL_INGEST",
        default_value = "http://127.0.0.1:8080/ncs"
    )]
    pub url: String,
    /// Secret to sign with.
    #[arg(long, env = "NCSD_SECRET", hide_env_values = true)]
    pub secret: SecretArg,
    /// Accept any TLS certificate (self-signed test endpoints).
    #[arg(long)]
    pub insecure: bool,
    /// Files holding one body each; none or `-` reads one body from stdin.
    pub files: Vec<PathBuf>,
}

pub async fn run(a: SendArgs) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(a.insecure)
        .build()?;
    let inputs: Vec<(String, Vec<u8>)> = if a.files.is_empty() || a.files == [PathBuf::from("-")] {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read stdin")?;
        vec![("-".into(), buf)]
    } else {
        a.files
            .iter()
            .map(|p| {
                Ok((
                    p.display().to_string(),
                    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
                ))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut all_ok = true;
    for (name, body) in inputs {
        let (status, text) = post_signed(&client, &a.url, &a.secret.0, body).await?;
        // A quarantined body is acknowledged (200) but was not stored as an event.
        let quarantined = serde_json::from_str::<serde_json::Value>(&text)
            .is_ok_and(|v| v["quarantined"] == true);
        all_ok &= status == 200 && !quarantined;
        println!("{name}: {status} {text}");
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
