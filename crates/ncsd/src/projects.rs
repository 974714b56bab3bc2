//! Several Agora projects on one ncsd (`[[project]]` in the configuration file): each has a
//! name, the path NCS posts to and its own secrets. A delivery is verified only with its
//! project's secrets, and everything stored from it carries the project's name. Without
//! `[[project]]`, `--path` and `--secret` define one project named `default`, so an existing
//! setup and store go on as before.

use std::sync::Arc;

use agora_ncs::Secret;
use serde::Deserialize;

use crate::config::ServeConfig;
use crate::store::DEFAULT_PROJECT;

/// One `[[project]]` table, as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// `[a-z0-9-]+`.
    pub name: String,
    /// Where NCS posts this project's deliveries.
    pub path: String,
    /// One or more (several while rotating).
    #[serde(deserialize_with = "one_or_many")]
    pub secret: Vec<String>,
}

/// Everything but the secrets, for `ncsd check-config` and logs.
impl std::fmt::Debug for ProjectConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("secret", &format!("[{} redacted]", self.secret.len()))
            .finish()
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Whether `name` is a project (or destination) name: `[a-z0-9-]+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether an ingest path is usable: absolute, and clear of the API and the dashboard.
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path must start with '/', got {path:?}"));
    }
    const TAKEN: [&str; 9] = [
        "/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/sessions",
        "/events",
        "/quarantine",
        "/destinations",
        "/sign-in",
    ];
    if path.starts_with("/v1") || path.starts_with("/assets") || TAKEN.contains(&path) {
        return Err(format!(
            "path {path:?} collides with the API or the dashboard"
        ));
    }
    Ok(())
}

impl ProjectConfig {
    pub fn check(&self) -> Result<(), String> {
        if !valid_name(&self.name) {
            return Err(format!(
                "name {:?} must be lower-case letters, digits and '-'",
                self.name
            ));
        }
        check_path(&self.path)?;
        if self.secret.is_empty() || self.secret.iter().any(|s| s.is_empty()) {
            return Err("needs at least one secret, none empty".into());
        }
        Ok(())
    }
}

/// A project as ingest uses it.
#[derive(Clone)]
pub struct Project {
    pub name: Arc<str>,
    pub path: String,
    pub secrets: Vec<Secret>,
}

/// The projects `serve` runs: the file's `[[project]]` tables, or else `default` from
/// `--path` and `--secret`.
pub fn projects(cfg: &ServeConfig) -> Result<Vec<Project>, String> {
    let from_file = match &cfg.config {
        Some(path) => crate::config_file::load(path)?.projects,
        None => Vec::new(),
    };
    if from_file.is_empty() {
        return Ok(vec![Project {
            name: Arc::from(DEFAULT_PROJECT),
            path: cfg.path.clone(),
            secrets: cfg.secrets(),
        }]);
    }
    Ok(from_file
        .into_iter()
        .map(|p| Project {
            name: Arc::from(p.name.as_str()),
            path: p.path,
            secrets: p.secret.iter().map(|s| Secret::new(s.as_str())).collect(),
        })
        .collect())
}

/// Whether the configuration file names projects (then `--secret` is not used).
pub fn configured(cfg: &ServeConfig) -> bool {
    cfg.config
        .as_ref()
        .and_then(|p| crate::config_file::load(p).ok())
        .is_some_and(|f| !f.projects.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_checked() {
        assert!(valid_name("prod-1"));
        assert!(!valid_name("Prod") && !valid_name("") && !valid_name("a_b"));
        assert!(check_path("/ncs/prod").is_ok());
        for bad in ["ncs", "/v1/x", "/", "/sessions", "/assets/app.css"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
