//! Prometheus metrics (`GET /metrics`). Counters and histograms are recorded where things
//! happen (ingest, the store writers, forwarding, the live stream); gauges that describe stored
//! state (sessions by phase, attention, forwarding lag, lifecycle events recorded) are read
//! from the store at each scrape, so they agree across instances sharing a database.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

struct Telemetry {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static TELEMETRY: OnceLock<Option<Telemetry>> = OnceLock::new();

/// Buckets for the `_seconds` histograms: from 100 µs (a commit) to 30 s (a slow webhook).
const SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];
/// Buckets for events per commit.
const BATCH: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Install the process-wide recorder (once); None if another recorder was installed first.
fn telemetry() -> Option<&'static Telemetry> {
    TELEMETRY
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
                .ok()?
                .set_buckets_for_metric(Matcher::Full("ncsd_store_batch_events".into()), &BATCH)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            let process = metrics_process::Collector::default();
            process.describe();
            Some(Telemetry { handle, process })
        })
        .as_ref()
}

/// Make sure metrics are recorded from now on (call at start-up).
pub fn init() {
    let _ = telemetry();
}

/// The Prometheus text of everything recorded, with the process metrics read now.
pub fn render() -> String {
    match telemetry() {
        Some(t) => {
            t.process.collect();
            t.handle.render()
        }
        None => String::new(),
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "ncsd_deliveries_total",
        "NCS deliveries by outcome: stored, duplicate, copy, quarantined, unauthorized, forbidden, too_large, unavailable"
    );
    describe_histogram!(
        "ncsd_ingest_seconds",
        Unit::Seconds,
        "Time from a delivery's first byte to its answer"
    );
    describe_histogram!(
        "ncsd_store_commit_seconds",
        Unit::Seconds,
        "Time of one write transaction, commit included"
    );
    describe_histogram!(
        "ncsd_store_batch_events",
        "Jobs committed by one write transaction"
    );
    describe_gauge!("ncsd_sessions", "Recording sessions stored, by phase");
    describe_gauge!(
        "ncsd_attention_sessions",
        "Recording sessions needing attention, by reason"
    );
    describe_counter!(
        "ncsd_lifecycle_events_total",
        "Lifecycle events recorded, by type"
    );
    describe_counter!(
        "ncsd_forward_messages_total",
        "Forwarding attempts by destination and result: delivered, retried, failed"
    );
    describe_gauge!(
        "ncsd_forward_lag_messages",
        "Messages not yet delivered, by destination"
    );
    describe_histogram!(
        "ncsd_forward_seconds",
        Unit::Seconds,
        "Time of one forwarding attempt, by destination"
    );
    describe_gauge!("ncsd_stream_clients", "Open /v1/stream connections");
}
