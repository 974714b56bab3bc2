//! Send a plan's deliveries to an endpoint with N concurrent workers, retrying a failed delivery
//! the way NCS does (at most 3 retries), and count the outcome.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agora_ncs::Secret;
use indicatif::ProgressBar;
use tokio::sync::Mutex;

use super::post_signed;
use super::Delivery;

#[derive(Debug, Default)]
pub struct Tally {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub duplicates: AtomicU64,
    pub copies: AtomicU64,
    pub retries: AtomicU64,
}

pub async fn deliver(
    client: reqwest::Client,
    url: &str,
    secret: &Secret,
    deliveries: Vec<Delivery>,
    concurrency: usize,
    progress: ProgressBar,
) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let queue = Arc::new(Mutex::new(deliveries.into_iter()));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (queue, tally, client, url, secret, progress) = (
            queue.clone(),
            tally.clone(),
            client.clone(),
            url.to_string(),
            secret.clone(),
            progress.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().await.next();
                let Some(d) = next else { break };
                send_one(&client, &url, &secret, d, &tally).await;
                progress.inc(1);
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    progress.finish_and_clear();
    tally
}

async fn send_one(
    client: &reqwest::Client,
    url: &str,
    secret: &Secret,
    d: Delivery,
    tally: &Tally,
) {
    for attempt in 0..4u32 {
        if attempt > 0 {
            tally.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        tally.sent.fetch_add(1, Ordering::Relaxed);
        match post_signed(client, url, secret, d.body.clone()).await {
            Ok((200, text)) => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
                if text.contains("\"duplicate\":true") {
                    tally.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                if text.contains("\"copy_of\":\"") {
                    tally.copies.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            Ok((status, text)) => tracing::debug!(status, %text, "delivery refused"),
            Err(e) => tracing::debug!(error = %e, "delivery failed"),
        }
    }
    tally.failed.fetch_add(1, Ordering::Relaxed);
}
