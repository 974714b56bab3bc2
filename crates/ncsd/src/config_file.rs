//! `ncsd serve --config FILE` (`NCSD_CONFIG`): the same settings as the flags, in TOML, plus
//! what only a file can hold well (forwarding destinations).
//!
//! Every `serve` flag has a key of the same name (`listen`, `database`, `api-token` or
//! `api_token`, `secret` as a list, ...). Precedence is flags, then environment variables, then
//! the file: a file value is handed to the flag parser as the flag's environment variable,
//! only when that variable is not set already. `${VAR}` inside a string is read from the
//! environment (for secrets). Every error names the file, the line and what is wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use serde::Deserialize;

use crate::forward::config::DestinationConfig;

/// A configuration file, read and checked.
#[derive(Debug, Clone)]
pub struct FileConfig {
    pub path: PathBuf,
    /// (flag name, environment variable, value as the variable would hold it), in file order.
    pub settings: Vec<(String, String, String)>,
    pub destinations: Vec<DestinationConfig>,
    /// `[agora]`: the Customer ID and Secret, for NCS's address list.
    pub agora: Option<crate::ncs_ips::AgoraConfig>,
    /// `[[project]]`: several Agora projects, each with its path and secrets.
    pub projects: Vec<crate::projects::ProjectConfig>,
}

/// The keys that are not flags.
const SECTIONS: [&str; 3] = ["destination", "agora", "project"];

#[derive(Deserialize)]
struct Sections {
    #[serde(default)]
    destination: Vec<DestinationConfig>,
    agora: Option<crate::ncs_ips::AgoraConfig>,
    #[serde(default)]
    project: Vec<crate::projects::ProjectConfig>,
}

pub fn load(path: &Path) -> Result<FileConfig, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let at = |key: &str| line_of(&text, key).map_or(String::new(), |n| format!(":{n}"));
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("{shown}: {}", one_line(&e.to_string())))?;
    expand(&mut table, &text).map_err(|e| format!("{shown}{e}"))?;
    let flags = serve_flags();
    let mut settings = Vec::new();
    for (key, value) in &table {
        if SECTIONS.contains(&key.as_str()) {
            continue;
        }
        let name = key.replace('_', "-");
        let Some(env) = flags.get(&name) else {
            let mut known: Vec<&str> = flags.keys().map(String::as_str).collect();
            known.extend(SECTIONS);
            return Err(format!(
                "{shown}{}: unknown key `{key}` (known: {})",
                at(key),
                known.join(", ")
            ));
        };
        let text_value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::new();
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s.clone()),
                        other => parts.push(other.to_string()),
                    }
                }
                parts.join(",")
            }
            other => {
                return Err(format!(
                    "{shown}{}: `{key}` must be a string, number, boolean or list, not a {}",
                    at(key),
                    other.type_str()
                ))
            }
        };
        settings.push((name, env.clone(), text_value));
    }
    let sections: Sections = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("{shown}: {}", one_line(&e.to_string())))?;
    let mut seen = std::collections::HashSet::new();
    for d in &sections.destination {
        d.check()
            .map_err(|e| format!("{shown}{}: destination {:?}: {e}", at(&d.name), d.name))?;
        if !seen.insert(d.name.clone()) {
            return Err(format!(
                "{shown}: two destinations are named {:?}; names must be unique",
                d.name
            ));
        }
    }
    let (mut names, mut paths) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    for p in &sections.project {
        p.check()
            .map_err(|e| format!("{shown}{}: project {:?}: {e}", at(&p.name), p.name))?;
        if !names.insert(p.name.clone()) {
            return Err(format!(
                "{shown}: two projects are named {:?}; names must be unique",
                p.name
            ));
        }
        if !paths.insert(p.path.clone()) {
            return Err(format!(
                "{shown}: two projects use the path {:?}; each needs its own",
                p.path
            ));
        }
    }
    let known: Vec<&str> = if sections.project.is_empty() {
        vec![crate::store::DEFAULT_PROJECT]
    } else {
        sections.project.iter().map(|p| p.name.as_str()).collect()
    };
    for d in &sections.destination {
        for p in d.projects.iter().flatten() {
            if !known.contains(&p.as_str()) {
                return Err(format!(
                    "{shown}{}: destination {:?} takes project {p:?}, which is not configured \
                     (projects: {})",
                    at(&d.name),
                    d.name,
                    known.join(", ")
                ));
            }
        }
    }
    if let Some(a) = &sections.agora {
        a.check()
            .map_err(|e| format!("{shown}{}: [agora]: {e}", at("customer_id")))?;
    }
    Ok(FileConfig {
        path: path.to_path_buf(),
        settings,
        destinations: sections.destination,
        agora: sections.agora,
        projects: sections.project,
    })
}

impl FileConfig {
    /// Hand the file's settings to the flag parser: each as its flag's environment variable,
    /// unless the environment already sets it (flags and the environment win over the file).
    /// Runs before any thread is started.
    pub fn export(&self) {
        for (_, env, value) in &self.settings {
            if std::env::var_os(env).is_none() {
                std::env::set_var(env, value);
            }
        }
    }
}

/// The `--config` of a `serve` or `check-config` command line (or `NCSD_CONFIG`), read before
/// the flags are parsed so the file can feed them.
pub fn wanted(args: &[String]) -> Option<PathBuf> {
    let command = args.iter().skip(1).find(|a| !a.starts_with('-'))?;
    match command.as_str() {
        "serve" => {}
        "check-config" => {
            let i = args.iter().position(|a| a == "check-config")?;
            return args.get(i + 1).map(PathBuf::from);
        }
        _ => return None,
    }
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("NCSD_CONFIG").map(PathBuf::from)
}

/// Flag name → environment variable, for every `serve` flag that has one.
fn serve_flags() -> BTreeMap<String, String> {
    let cmd = crate::config::ServeOnly::command();
    cmd.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let env = a.get_env()?.to_str()?;
            (long != "config").then(|| (long.to_string(), env.to_string()))
        })
        .collect()
}

/// `${VAR}` in every string, from the environment; an unset variable is an error.
fn expand(table: &mut toml::Table, text: &str) -> Result<(), String> {
    fn walk(v: &mut toml::Value, text: &str) -> Result<(), String> {
        match v {
            toml::Value::String(s) => {
                *s = expand_str(s, text)?;
                Ok(())
            }
            toml::Value::Array(items) => items.iter_mut().try_for_each(|i| walk(i, text)),
            toml::Value::Table(t) => t.iter_mut().try_for_each(|(_, i)| walk(i, text)),
            _ => Ok(()),
        }
    }
    table.iter_mut().try_for_each(|(_, v)| walk(v, text))
}

fn expand_str(s: &str, text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!(": `${{` without a closing `}}` in {s:?}"))?;
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| {
            let line = text
                .lines()
                .position(|l| l.contains(&format!("${{{name}}}")))
                .map_or(String::new(), |n| format!(":{}", n + 1));
            format!("{line}: environment variable {name} is not set (used as ${{{name}}})")
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The 1-based line where `key = ...` or `name = "key"` first appears.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            (l.starts_with(key) && l[key.len()..].trim_start().starts_with('='))
                || (l.starts_with("name") && l.contains(&format!("\"{key}\"")))
        })
        .map(|n| n + 1)
}

/// toml's errors span several lines (the source excerpt); a log line wants one.
fn one_line(e: &str) -> String {
    e.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ncsd.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn settings_become_the_flags_variables() {
        let (_d, p) = file(
            "listen = \"127.0.0.1:9000\"\nsecret = [\"a\", \"b\"]\napi_token = \"0123456789abcdef\"\nmax-body = 2048\n",
        );
        let c = load(&p).unwrap();
        let got: Vec<(&str, &str)> = c
            .settings
            .iter()
            .map(|(_, env, v)| (env.as_str(), v.as_str()))
            .collect();
        assert!(got.contains(&("NCSD_LISTEN", "127.0.0.1:9000")));
        assert!(got.contains(&("NCSD_SECRET", "a,b")));
        assert!(got.contains(&("NCSD_API_TOKEN", "0123456789abcdef")));
        assert!(got.contains(&("NCSD_MAX_BODY", "2048")));
    }

    #[test]
    fn errors_name_the_line_and_the_reason() {
        let (_d, p) = file("listen = \"127.0.0.1:9000\"\n\nlistne = \"x\"\n");
        let e = load(&p).unwrap_err();
        assert!(
            e.contains(":3:") && e.contains("unknown key `listne`"),
            "{e}"
        );
        let (_d, p) = file("listen = \n");
        let e = load(&p).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let (_d, p) = file("\nsecret = \"${NCSD_TEST_SURELY_UNSET_VAR}\"\n");
        let e = load(&p).unwrap_err();
        assert!(
            e.contains(":2:") && e.contains("NCSD_TEST_SURELY_UNSET_VAR"),
            "{e}"
        );
    }

    #[test]
    fn variables_are_expanded() {
        std::env::set_var("NCSD_TEST_FILE_SECRET", "s3cret");
        let (_d, p) = file("secret = \"pre-${NCSD_TEST_FILE_SECRET}\"\n");
        let c = load(&p).unwrap();
        assert_eq!(c.settings[0].2, "pre-s3cret");
    }

    #[test]
    fn the_config_file_is_found_on_the_command_line() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            wanted(&args(&["ncsd", "serve", "--config", "x.toml"])),
            Some(PathBuf::from("x.toml"))
        );
        assert_eq!(
            wanted(&args(&["ncsd", "check-config", "y.toml"])),
            Some(PathBuf::from("y.toml"))
        );
        assert_eq!(wanted(&args(&["ncsd", "sessions", "--config", "z"])), None);
    }
}
