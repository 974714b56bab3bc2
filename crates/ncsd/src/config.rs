//! `ncsd serve` configuration. Every option is a flag and an environment variable; the doc
//! comments are the `--help` text, so this file is the manual for operators.

use std::net::SocketAddr;
use std::path::PathBuf;

use agora_ncs::Secret;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// TOML file with the same settings as these flags (a key per flag: `listen`, `database`,
    /// `secret` as a list, ...) and the forwarding destinations (`[[destination]]`). Flags and
    /// environment variables override it; `${VAR}` in a value is read from the environment.
    #[arg(long, env = "NCSD_CONFIG")]
    pub config: Option<std::path::PathBuf>,

    /// Address to listen on for NCS deliveries (and the API unless --api-listen is given).
    #[arg(long, env = "NCSD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Storage URL: `sqlite://PATH` (embedded, the default) or `postgres://...` (shared by
    /// several instances).
    /// The variable's value is never shown in `--help`: a PostgreSQL URL may hold a password.
    #[arg(
        long = "database",
        env = "NCSD_DATABASE_URL",
        default_value = "sqlite://ncsd.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// NCS secret(s) used to verify `Agora-Signature-V2` / `Agora-Signature`. Repeat the flag,
    /// or separate with commas in the variable, to accept an old and a new secret while rotating.
    #[arg(
        long = "secret",
        env = "NCSD_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub secrets: Vec<SecretArg>,

    /// Accept deliveries without a signature (local testing only: anyone who can reach the port
    /// can then inject events). Refused together with a secret, and on a non-loopback --listen.
    #[arg(long, env = "NCSD_ALLOW_UNSIGNED")]
    pub allow_unsigned: bool,

    /// URL path NCS delivers to.
    #[arg(long, env = "NCSD_PATH", default_value = "/ncs")]
    pub path: String,

    /// PEM certificate chain for built-in HTTPS (Agora only delivers to HTTPS endpoints), on
    /// --listen and --api-listen alike. Read again, with the key, on SIGHUP.
    #[arg(long, env = "NCSD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "NCSD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Largest accepted request body, in bytes (larger bodies get 413).
    #[arg(long, env = "NCSD_MAX_BODY", default_value_t = 1024 * 1024)]
    pub max_body: usize,

    /// Bearer token required on /v1/* (ingest never needs it); at least 16 characters.
    #[arg(long, env = "NCSD_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<SecretArg>,

    /// Serve Prometheus metrics (`/metrics`) on this address instead of with the API. A
    /// non-loopback address needs --api-token (which /metrics then requires).
    #[arg(long, env = "NCSD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Serve the API (/v1/*) on this separate address instead of --listen.
    #[arg(long, env = "NCSD_API_LISTEN")]
    pub api_listen: Option<SocketAddr>,

    /// Most connections served at once. When full, the oldest connection with no request in
    /// progress (idle keep-alive, or stalled before sending its headers) is closed to make room.
    #[arg(long, env = "NCSD_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Deadline for a whole request (headers and body), in milliseconds; NCS gives up after 10 s.
    #[arg(long, env = "NCSD_REQUEST_TIMEOUT_MS", default_value_t = 5000)]
    pub request_timeout_ms: u64,

    /// Time a client gets to send its request headers, in milliseconds (slow or stalled clients
    /// are dropped after it).
    #[arg(long, env = "NCSD_HEADER_TIMEOUT_MS", default_value_t = 3000)]
    pub header_timeout_ms: u64,

    /// Largest total size of request headers in bytes; larger get 431.
    #[arg(long, env = "NCSD_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// Only accept deliveries from these networks (CIDRs or addresses, comma-separated), e.g. the
    /// NCS addresses Agora publishes. Empty: from anywhere (the signature still decides).
    #[arg(long = "allow-from", env = "NCSD_ALLOW_FROM", value_delimiter = ',', value_parser = parse_net)]
    pub allow_from: Vec<ipnet::IpNet>,

    /// Reverse proxies (CIDRs or addresses, comma-separated) whose `Forwarded` /
    /// `X-Forwarded-For` headers are believed: only when the TCP peer is one of them is the
    /// client address taken from those headers (the right-most address that is not a trusted
    /// proxy). The allow-list, logs and rate limits use that address. From any other peer the
    /// headers are ignored.
    #[arg(long = "trusted-proxies", env = "NCSD_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Log format: `text` (colour only on a terminal) or `json` (one object per line).
    #[arg(long, env = "NCSD_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Reject deliveries whose `notifyMs` is further than this from the local clock (e.g. `10m`),
    /// which bounds how long a captured request can be replayed. Off by default: clock skew or a
    /// slow resend would be refused (and NCS gives up after 3 retries).
    #[arg(long, env = "NCSD_MAX_NOTIFY_SKEW", value_parser = humantime::parse_duration)]
    pub max_notify_skew: Option<std::time::Duration>,

    /// No longer used: every session's state is kept in the store as its events are stored.
    /// Accepted (with a warning) so that an existing configuration still starts.
    #[arg(long, env = "NCSD_SESSION_CACHE_MB", hide = true)]
    pub session_cache_mb: Option<usize>,

    /// No longer used, like `--session-cache-mb`.
    #[arg(long, env = "NCSD_SESSION_CACHE_WARM", hide = true, action = clap::ArgAction::Set)]
    pub session_cache_warm: Option<bool>,

    /// Nice value for the SQLite writer thread, which every delivery waits for: below the rest
    /// of ncsd so that on busy CPUs commits are not held up behind request handling. Lowering
    /// it needs CAP_SYS_NICE (or root); without that the writer keeps normal priority. 0 leaves
    /// it alone.
    #[arg(long, env = "NCSD_WRITER_NICE", default_value_t = -10, allow_hyphen_values = true,
          value_parser = clap::value_parser!(i32).range(-20..=19))]
    pub writer_nice: i32,

    /// Nice value for the forwarding threads: above the rest of ncsd, so that when the CPUs are
    /// busy, ingest answers (which NCS waits on) go before forwarding (which is durable and
    /// catches up). 0 leaves them alone.
    #[arg(long, env = "NCSD_FORWARD_NICE", default_value_t = 10, allow_hyphen_values = true,
          value_parser = clap::value_parser!(i32).range(-20..=19))]
    pub forward_nice: i32,

    /// A recording that is not finished and gets no delivery for this long is stalled: it gets
    /// `stalled` in `attention` and one `recording.stalled` lifecycle event (NCS reports upload
    /// progress every minute while recording).
    #[arg(long, env = "NCSD_STALL_AFTER", default_value = "5m", value_parser = parse_stall_after)]
    pub stall_after: std::time::Duration,

    /// Keep events and sessions this long (e.g. `30d`), purging older ones in the background.
    /// A session goes as a whole once its last activity is older. Off by default.
    #[arg(long, env = "NCSD_RETAIN", value_parser = humantime::parse_duration)]
    pub retain: Option<std::time::Duration>,
}

fn parse_stall_after(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (e.g. 5m, 90s)"))?;
    if d < std::time::Duration::from_secs(1) {
        return Err(format!("{s:?} is shorter than 1s"));
    }
    Ok(d)
}

/// Shortest API token accepted: a short one can be guessed over the network.
pub const MIN_API_TOKEN_CHARS: usize = 16;

/// A network (`10.0.0.0/8`) or a single address (`203.0.113.7`).
pub fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR (10.0.0.0/8) or an IP address"))
}

/// A secret given on the command line: redacted in `Debug`, so `{:?}` of the config is safe to log.
#[derive(Clone)]
pub struct SecretArg(pub Secret);

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for SecretArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("a secret must not be empty".into());
        }
        Ok(SecretArg(Secret::new(s)))
    }
}

/// For tests and embedding: parse `serve` flags from a list, as the command line would.
#[derive(Debug, clap::Parser)]
pub struct ServeOnly {
    #[command(flatten)]
    config: ServeConfig,
}

impl ServeConfig {
    pub fn from_args<I, T>(args: I) -> Result<ServeConfig, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        let argv = std::iter::once("serve".into()).chain(args.into_iter().map(Into::into));
        ServeOnly::try_parse_from(argv).map(|s| s.config)
    }

    pub fn secrets(&self) -> Vec<Secret> {
        self.secrets.iter().map(|s| s.0.clone()).collect()
    }

    /// Start-up checks that need more than one flag; each message says how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        if self.allow_unsigned && !self.secrets.is_empty() {
            return Err(
                "--allow-unsigned (NCSD_ALLOW_UNSIGNED) is set together with a secret: unsigned \
                 deliveries would bypass the secret. Remove --allow-unsigned (or unset \
                 NCSD_ALLOW_UNSIGNED); with a secret every delivery must be signed"
                    .into(),
            );
        }
        if self.allow_unsigned && !self.listen.ip().is_loopback() {
            return Err(format!(
                "--allow-unsigned is for local testing only, but --listen {} is not a loopback \
                 address: anyone who reaches it could inject events. Listen on 127.0.0.1, or \
                 configure --secret",
                self.listen
            ));
        }
        if let Some(token) = &self.api_token {
            let n = token.0.expose().chars().count();
            if n < MIN_API_TOKEN_CHARS {
                return Err(format!(
                    "--api-token (NCSD_API_TOKEN) is {n} characters long; use at least \
                     {MIN_API_TOKEN_CHARS} (e.g. `openssl rand -hex 24`)"
                ));
            }
        }
        if let Some(m) = self.metrics_listen {
            if !m.ip().is_loopback() && self.api_token.is_none() {
                return Err(format!(
                    "--metrics-listen {m} is not a loopback address and no --api-token is set: \
                     set NCSD_API_TOKEN or listen on 127.0.0.1"
                ));
            }
        }
        let projects = crate::projects::configured(self);
        if projects && (!self.secrets.is_empty() || self.allow_unsigned) {
            return Err(
                "the configuration file names projects ([[project]]), each with its own secrets: \
                 remove --secret / NCSD_SECRET and --allow-unsigned, which would apply to none \
                 of them"
                    .into(),
            );
        }
        if self.secrets.is_empty() && !self.allow_unsigned && !projects {
            return Err(
                "no NCS secret configured: pass --secret (or NCSD_SECRET) with the secret \
                 shown in Agora Console, or --allow-unsigned for local testing"
                    .into(),
            );
        }
        if !self.path.starts_with('/') {
            return Err(format!("--path must start with '/', got {:?}", self.path));
        }
        if self.path.starts_with("/v1") || self.path == "/healthz" {
            return Err(format!("--path {:?} collides with the API", self.path));
        }
        if let Some(api) = self.api_listen {
            if !api.ip().is_loopback() && self.api_token.is_none() {
                return Err(format!(
                    "--api-listen {api} is not a loopback address and no --api-token is set: \
                     set NCSD_API_TOKEN or listen on 127.0.0.1"
                ));
            }
        } else if !self.listen.ip().is_loopback() && self.api_token.is_none() {
            return Err(format!(
                "ncsd listens on {} (not loopback) without an API token, which would publish \
                 every stored event: set --api-token (NCSD_API_TOKEN), or move the API to a \
                 loopback address with --api-listen 127.0.0.1:PORT",
                self.listen
            ));
        }
        Ok(())
    }
}
