//! `ncsd explain KIND VALUE`: decode an Agora code from the tables of the protocol crate.

use std::process::ExitCode;

use agora_ncs::codes::{describe, leave_reason_description, leave_reasons, CodeKind};
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Which table: leave-code, status, upload-error, upload-warning, platform-error, module,
    /// error-level, stream-state, service-type, error-code, web-stop-code
    pub kind: String,
    /// The numeric value to explain.
    pub value: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let Some(kind) = CodeKind::from_name(&a.kind) else {
        let names: Vec<&str> = CodeKind::all().iter().map(|k| k.name()).collect();
        anyhow::bail!(
            "unknown code kind {:?}; use one of: {}",
            a.kind,
            names.join(", ")
        );
    };
    if kind == CodeKind::LeaveCode {
        let reasons: Vec<_> = leave_reasons(a.value)
            .into_iter()
            .map(|r| {
                let d = leave_reason_description(r.as_ref()).unwrap_or("not documented");
                (r.to_string(), d)
            })
            .collect();
        if a.json {
            let list: Vec<_> = reasons
                .iter()
                .map(|(n, d)| json!({"name": n, "description": d}))
                .collect();
            println!(
                "{}",
                json!({"kind": kind.name(), "value": a.value, "reasons": list})
            );
        } else {
            println!("leave-code {} =", a.value);
            for (n, d) in reasons {
                if d.starts_with(n.as_str()) {
                    println!("  {d}");
                } else {
                    println!("  {n}: {d}");
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let description = describe(kind, a.value);
    if a.json {
        println!(
            "{}",
            json!({"kind": kind.name(), "value": a.value, "description": description})
        );
    } else {
        match description {
            Some(d) => println!("{} {}: {d}", kind.name(), a.value),
            None => println!(
                "{} {}: not in Agora's documented table",
                kind.name(),
                a.value
            ),
        }
    }
    Ok(if description.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
