//! NCS's own address list (`[agora] allow_ncs_ips = true`): Agora publishes the addresses NCS
//! delivers from (`GET {api_base}/v2/ncs/ip`, HTTP Basic with the Customer ID and Secret; spec
//! §4) and advises refreshing it at least daily. ncsd fetches it at start and on an interval,
//! keeps the last good list in the store (a restart while Agora is unreachable still has one),
//! and on a failed refresh keeps the old list, logs why and counts it.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::store::DynStore;

const KEY: &str = "ncs_ip_list";

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgoraConfig {
    pub customer_id: String,
    pub customer_secret: String,
    #[serde(default)]
    pub allow_ncs_ips: bool,
    #[serde(default = "default_api_base")]
    pub api_base: String,
    #[serde(default = "default_refresh")]
    pub refresh: String,
}

fn default_api_base() -> String {
    "https://api.agora.io".into()
}
fn default_refresh() -> String {
    "12h".into()
}

impl std::fmt::Debug for AgoraConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agora")
            .field("customer_id", &self.customer_id)
            .field("customer_secret", &"[redacted]")
            .field("allow_ncs_ips", &self.allow_ncs_ips)
            .field("api_base", &self.api_base)
            .field("refresh", &self.refresh)
            .finish()
    }
}

impl AgoraConfig {
    pub fn check(&self) -> Result<(), String> {
        reqwest::Url::parse(&self.api_base).map_err(|e| format!("api_base: {e}"))?;
        let r = self.refresh_every()?;
        if r < Duration::from_secs(1) {
            return Err("refresh must be at least 1s".into());
        }
        Ok(())
    }

    pub fn refresh_every(&self) -> Result<Duration, String> {
        humantime::parse_duration(&self.refresh).map_err(|e| format!("refresh: {e}"))
    }
}

/// The addresses NCS delivers from; None until a list was fetched or read from the store.
#[derive(Default)]
pub struct NcsIps {
    list: RwLock<Option<Vec<IpAddr>>>,
}

impl NcsIps {
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.list
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|l| l.contains(&ip))
    }

    fn set(&self, list: Vec<IpAddr>) {
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = Some(list);
    }
}

#[derive(Deserialize)]
struct Answer {
    data: AnswerData,
}
#[derive(Deserialize)]
struct AnswerData {
    service: Service,
}
#[derive(Deserialize)]
struct Service {
    hosts: Vec<Host>,
}
#[derive(Deserialize)]
struct Host {
    #[serde(rename = "primaryIP")]
    primary_ip: String,
}

async fn fetch(client: &reqwest::Client, cfg: &AgoraConfig) -> Result<Vec<IpAddr>, String> {
    let url = format!("{}/v2/ncs/ip", cfg.api_base.trim_end_matches('/'));
    let res = client
        .get(&url)
        .basic_auth(&cfg.customer_id, Some(&cfg.customer_secret))
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("{url} answered {}", res.status()));
    }
    let answer: Answer = res
        .json()
        .await
        .map_err(|e| format!("{url} did not answer the documented JSON: {e}"))?;
    let list: Vec<IpAddr> = answer
        .data
        .service
        .hosts
        .iter()
        .filter_map(|h| h.primary_ip.trim().parse().ok())
        .collect();
    if list.is_empty() {
        return Err(format!("{url} listed no address"));
    }
    Ok(list)
}

/// Read the last good list from the store, then refresh from Agora now and every `refresh`.
pub fn spawn(
    store: DynStore,
    cfg: AgoraConfig,
    ips: Arc<NcsIps>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Ok(Some(stored)) = store.meta_get(KEY).await {
            let list: Vec<IpAddr> = serde_json::from_str(&stored).unwrap_or_default();
            if !list.is_empty() {
                tracing::info!(
                    addresses = list.len(),
                    "NCS address list read from the store"
                );
                ips.set(list);
            }
        }
        let every = cfg
            .refresh_every()
            .unwrap_or(Duration::from_secs(12 * 3600));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        loop {
            match fetch(&client, &cfg).await {
                Ok(list) => {
                    tracing::info!(addresses = list.len(), "NCS address list refreshed");
                    let text = serde_json::to_string(&list).unwrap_or_default();
                    if let Err(e) = store.meta_set(KEY, &text).await {
                        tracing::warn!(error = %e, "cannot keep the NCS address list in the store");
                    }
                    ips.set(list);
                }
                Err(e) => {
                    metrics::counter!("ncsd_ncs_ip_refresh_failures_total").increment(1);
                    tracing::warn!(error = %e, "NCS address list not refreshed; keeping the one in use");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    })
}
