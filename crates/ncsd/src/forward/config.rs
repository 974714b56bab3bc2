//! One `[[destination]]` of the configuration file, checked: where messages go, which ones, and
//! how deliveries are retried.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Webhook,
    Nats,
    Rabbitmq,
    Redis,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Nats => "nats",
            Kind::Rabbitmq => "rabbitmq",
            Kind::Redis => "redis",
        }
    }
}

/// Where a new destination begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// With what is stored from now on.
    Now,
    /// With everything stored.
    Beginning,
    /// With what was stored (received) at or after this time, Unix ms.
    At(i64),
}

#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    pub name: String,
    pub kind: Kind,
    pub url: Option<String>,
    /// Standard Webhooks signing secrets (`whsec_<base64>`); several while rotating.
    secret: Option<OneOrMany>,
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    pub cname: Option<String>,
    /// Only these Agora projects' events and lifecycle events (default: every project).
    pub projects: Option<Vec<String>>,
    #[serde(default = "default_start")]
    start: String,
    #[serde(default = "default_retry")]
    retry: Vec<String>,
    #[serde(default = "default_timeout")]
    timeout: String,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub ordered: bool,
    #[serde(default)]
    pub allow_private: bool,
    /// nats: subject template (default `ncsd.{type}`).
    pub subject: Option<String>,
    /// rabbitmq: exchange and routing key template.
    pub exchange: Option<String>,
    pub routing_key: Option<String>,
    /// redis: stream key template, and an approximate cap on its length.
    pub stream: Option<String>,
    pub maxlen: Option<u64>,
}

fn default_events() -> Vec<String> {
    vec!["recording.*".into()]
}
fn default_start() -> String {
    "now".into()
}
fn default_retry() -> Vec<String> {
    [
        "5s", "30s", "2m", "10m", "30m", "1h", "3h", "6h", "12h", "24h",
    ]
    .map(String::from)
    .to_vec()
}
fn default_timeout() -> String {
    "15s".into()
}
fn default_concurrency() -> usize {
    8
}

impl DestinationConfig {
    /// Everything a start would refuse, said once, here.
    pub fn check(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err("name must be [a-z0-9-]+".into());
        }
        let url = self.url.as_deref().ok_or("url is required")?;
        let u = reqwest::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
        let schemes: &[&str] = match self.kind {
            Kind::Webhook => &["http", "https"],
            Kind::Nats => &["nats", "tls"],
            Kind::Rabbitmq => &["amqp", "amqps"],
            Kind::Redis => &["redis", "rediss"],
        };
        if !schemes.contains(&u.scheme()) {
            return Err(format!(
                "url {url:?} must start with {} for kind {}",
                schemes.join(":// or "),
                self.kind.as_str()
            ));
        }
        if self.kind == Kind::Webhook {
            self.secrets()?;
        }
        if self.kind == Kind::Rabbitmq && self.exchange.is_none() {
            return Err(
                "exchange is required for kind rabbitmq (\"\" is the default exchange)".into(),
            );
        }
        for glob in self.events.iter().chain(self.cname.iter()) {
            glob::Pattern::new(glob).map_err(|e| format!("glob {glob:?}: {e}"))?;
        }
        self.start()?;
        self.retry_schedule()?;
        self.timeout()?;
        if self.concurrency == 0 {
            return Err("concurrency must be at least 1".into());
        }
        Ok(())
    }

    /// The signing keys, decoded from `whsec_<base64>`.
    pub fn secrets(&self) -> Result<Vec<Vec<u8>>, String> {
        let list = match &self.secret {
            None => return Err("secret is required (whsec_<base64>)".into()),
            Some(OneOrMany::One(s)) => vec![s.clone()],
            Some(OneOrMany::Many(v)) => v.clone(),
        };
        if list.is_empty() {
            return Err("secret is required (whsec_<base64>)".into());
        }
        list.iter().map(|s| super::sign::decode_secret(s)).collect()
    }

    pub fn start(&self) -> Result<Start, String> {
        match self.start.as_str() {
            "now" => Ok(Start::Now),
            "beginning" => Ok(Start::Beginning),
            t => humantime::parse_rfc3339_weak(t)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| Start::At(d.as_millis() as i64))
                .ok_or_else(|| format!("start {t:?}: use now, beginning or an RFC 3339 time")),
        }
    }

    /// Delay before each retry; after the last, a message is failed.
    pub fn retry_schedule(&self) -> Result<Vec<Duration>, String> {
        self.retry
            .iter()
            .map(|r| humantime::parse_duration(r).map_err(|e| format!("retry {r:?}: {e}")))
            .collect()
    }

    pub fn timeout(&self) -> Result<Duration, String> {
        humantime::parse_duration(&self.timeout).map_err(|e| format!("timeout: {e}"))
    }

    /// Whether a message of `kind` (`recording.completed`, `ncs.31`) from channel `cname`
    /// goes to this destination.
    /// Whether any stored NCS event (`ncs.<eventType>`) can match `events`: when none can, the
    /// feeder need not read the event log at all (a destination of lifecycle events only).
    pub fn takes_ncs_events(&self) -> bool {
        // Agora's event types are small numbers (1 to 1001 in the spec).
        let kinds: Vec<String> = (0..=1100).map(|t| format!("ncs.{t}")).collect();
        self.events
            .iter()
            .any(|g| glob::Pattern::new(g).is_ok_and(|p| kinds.iter().any(|k| p.matches(k))))
    }

    pub fn wants(&self, kind: &str, cname: Option<&str>, project: &str) -> bool {
        let matches = |glob: &str, s: &str| glob::Pattern::new(glob).is_ok_and(|p| p.matches(s));
        self.projects
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p == project))
            && self.events.iter().any(|g| matches(g, kind))
            && self
                .cname
                .as_deref()
                .is_none_or(|g| cname.is_some_and(|c| matches(g, c)))
    }
}

/// Everything but the secrets, for `ncsd check-config` and logs.
impl fmt::Debug for DestinationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("kind", &self.kind.as_str())
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("events", &self.events)
            .field("cname", &self.cname)
            .field("projects", &self.projects)
            .field("start", &self.start)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("ordered", &self.ordered)
            .field("allow_private", &self.allow_private)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::DestinationConfig;

    fn with_events(events: &str) -> DestinationConfig {
        toml::from_str(&format!(
            "name = \"d\"\nkind = \"webhook\"\nurl = \"https://a.example/h\"\nevents = {events}\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_destination_of_lifecycle_events_only_takes_no_ncs_event() {
        assert!(!with_events(r#"["recording.*"]"#).takes_ncs_events());
        assert!(with_events(r#"["recording.*", "ncs.31"]"#).takes_ncs_events());
        assert!(with_events(r#"["ncs.*"]"#).takes_ncs_events());
        assert!(with_events(r#"["*"]"#).takes_ncs_events());
        assert!(with_events(r#"["ncs.1?"]"#).takes_ncs_events());
    }

    #[test]
    fn wants_checks_type_channel_and_project() {
        let mut d = with_events(r#"["ncs.3?"]"#);
        assert!(d.wants("ncs.31", None, "default"));
        assert!(!d.wants("ncs.40", None, "default"));
        d.projects = Some(vec!["prod".into()]);
        assert!(!d.wants("ncs.31", None, "default"));
        assert!(d.wants("ncs.31", None, "prod"));
    }
}
