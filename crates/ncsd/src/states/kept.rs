//! Finished recordings' answers kept in the database (`Store::keep_states`), so that after a
//! restart, or on another instance sharing the database, the first read of a finished
//! recording is two row look-ups instead of a fold of all its events.
//!
//! Only finished recordings (completed or failed) are kept: their answer changes only when a
//! late event arrives, and then the session's `last_seq` moves on and the kept answer is no
//! longer used. A kept answer is also ignored when it was written by a build that answers
//! differently (`format`). Writing happens in the background, batched and best-effort: this is
//! derived data, and a lost answer costs one fold.

use std::sync::LazyLock;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::session::{Folding, StoredEvent};
use crate::store::{DynStore, KeptState};

/// Marks the answers this build writes; an answer marked otherwise is folded again. Besides
/// the version and the phase rules' version it holds a digest of this build's answers for a
/// fixed set of recordings written out below (every kind of event, ending well and badly), so a
/// change to the fold or to the answer's JSON changes it even when nobody bumps a version.
pub fn format() -> &'static str {
    static FORMAT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "ncsd {} rules {} {}",
            env!("CARGO_PKG_VERSION"),
            crate::summary::RULES_VERSION,
            answers_digest()
        )
    });
    &FORMAT
}

/// The fixed recordings: (event type, details) in sequence order.
const RECORDINGS: [&[(u32, &str)]; 3] = [
    &[
        (30, r#"{"status":0}"#),
        (40, r#"{"status":0}"#),
        (3, r#"{"status":5,"recordingMode":1,"fileList":"r.m3u8"}"#),
        (
            42,
            r#"{"startUtcMs":1000,"discontinueUtcMs":1000,"streamUid":"0","trackType":"audio_and_video","mixedAllUser":true}"#,
        ),
        (43, r#"{"streamUid":"7","state":0,"UtcMs":1100}"#),
        (44, r#"{"streamUid":"7","state":0,"UtcMs":1200}"#),
        (4, r#"{"fileList":"r.m3u8"}"#),
        (33, r#"{"progress":5000}"#),
        (2, r#"{"module":1,"warnCode":31}"#),
        (45, r#"{"fileName":"p/a.jpg"}"#),
        (43, r#"{"streamUid":"7","state":1,"UtcMs":2100}"#),
        (41, r#"{"leaveCode":6}"#),
        (12, r#"{"newUid":4242}"#),
        (11, r#"{"exitStatus":0}"#),
        (
            31,
            r#"{"status":0,"fileList":[{"fileName":"r.m3u8","trackType":"audio_and_video","uid":"0","mixedAllUser":true,"isPlayable":true,"sliceStartTime":1000}]}"#,
        ),
        (33, r#"{"progress":10000}"#),
    ],
    &[
        (40, r#"{"status":0}"#),
        (
            1,
            r#"{"module":1,"errorLevel":5,"errorCode":47,"stat":1,"errorMsg":"upload failed"}"#,
        ),
        (3, r#"{"status":20}"#),
        (32, r#"{"status":1}"#),
        (11, r#"{"exitStatus":1}"#),
    ],
    &[
        (70, r#"{"recorderStartTime":1000}"#),
        (72, r#"{"limitType":"WebGL"}"#),
        (73, r#"{"reason":"audio_silence"}"#),
        (100, r#"{"rtmpUrl":"rtmp://x/y","status":"publishing"}"#),
        (60, r#"{"aliVodInfo":{"videoId":"v1"}}"#),
        (
            71,
            r#"{"code":0,"message":"ok","fileList":[{"fileName":"w.mp4","sliceStartTime":1000}]}"#,
        ),
        (80, r#"{}"#),
        (
            81,
            r#"{"result":"all_success","uids":[{"uid":"7","result":"success","fileList":[{"fileName":"t.mp4"}]}]}"#,
        ),
        (
            90,
            r#"{"vendor":1,"region":0,"bucket":"b","fileName":"a.ts;b.ts"}"#,
        ),
        (
            1001,
            r#"{"result":"total_success","fileList":[{"fileName":"t.mp4"}]}"#,
        ),
    ],
];

fn answers_digest() -> String {
    let mut digest = Sha256::new();
    for (i, recording) in RECORDINGS.iter().enumerate() {
        let sid = format!("digest-{i}");
        let events: Vec<StoredEvent> = recording
            .iter()
            .enumerate()
            .map(|(n, (event_type, details))| StoredEvent {
                notice_id: format!("{sid}-{n}"),
                event_type: *event_type,
                sequence: Some(n as i64),
                sendts: Some(1_700_000_000_000 + n as i64 * 1000),
                uid: Some("100".into()),
                cname: Some("room".into()),
                sid: sid.clone(),
                details: serde_json::from_str::<serde_json::Value>(details)
                    .unwrap_or_default()
                    .into(),
                received_at_ms: 1_700_000_000_000 + n as i64 * 1000,
            })
            .collect();
        let state = Folding::new(&sid, &events).state();
        // A state always serialises (it is plain data).
        digest.update(serde_json::to_vec(&state).unwrap_or_default());
    }
    hex::encode(&digest.finalize()[..8])
}
/// Answers written per store call (SQLite: per writer job, which shares its transaction with
/// ingest, so it stays small).
const BATCH: usize = 64;
/// Answers written per round: store calls of `BATCH` one after another, then `PAUSE`.
const ROUND: usize = 1024;
/// Answers waiting to be written; more are dropped (they will be folded again).
const QUEUE: usize = 4096;
/// Pause after each round. A start on a store full of finished recordings folds thousands of
/// them in seconds, and writing their answers slows the reads of those seconds; paced, at
/// most `ROUND` per pause (640 a second). The writes come in one burst per pause because what
/// the reads pay grows with the bursts, not with the answers (likely the background checkpoint
/// pass after each, and each reader finding the database changed): the same 640 answers a
/// second written as 64 every 100 ms had doubled the reads' p99 (docs/performance.md).
const PAUSE: std::time::Duration = std::time::Duration::from_millis(1600);

/// Queues finished sessions' answers for the store.
#[derive(Clone)]
pub struct Keeper {
    tx: mpsc::Sender<KeptState>,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
}

impl Keeper {
    /// Starts the background writer; it stops once every `Keeper` clone is gone.
    pub fn spawn(store: DynStore) -> Self {
        Self::spawn_with(store, PAUSE)
    }

    /// `spawn` with the pause between rounds given (tests use a long one).
    pub fn spawn_with(store: DynStore, pause: std::time::Duration) -> Self {
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let (flushes, mut flush_asked) = mpsc::channel::<oneshot::Sender<()>>(4);
        tokio::spawn(async move {
            let mut round = Vec::with_capacity(ROUND);
            loop {
                tokio::select! {
                    n = rx.recv_many(&mut round, ROUND) => {
                        if n == 0 {
                            return;
                        }
                        write(&store, &mut round).await;
                        // The pause, cut short by a flush.
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            Some(done) = flush_asked.recv() => {
                                flush(&store, &mut rx, &mut round, done).await;
                            }
                        }
                    }
                    Some(done) = flush_asked.recv() => flush(&store, &mut rx, &mut round, done).await,
                }
            }
        });
        Keeper { tx, flushes }
    }

    /// Writes every answer waiting now, without waiting for the next round; returns once they
    /// are written. `ncsd serve` calls it when it stops, so a round's worth of answers is not
    /// lost with the process (and folded again at the next start).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Queues the answer of a finished session folded at `last_seq`.
    pub fn keep(&self, sid: &str, last_seq: i64, json: &[u8]) {
        let _ = self.tx.try_send(KeptState {
            sid: sid.to_string(),
            last_seq,
            format: format().to_string(),
            json: json.to_vec(),
        });
    }
}

/// Writes `round` in store calls of `BATCH`, emptying it.
async fn write(store: &DynStore, round: &mut Vec<KeptState>) {
    while !round.is_empty() {
        let batch: Vec<_> = round.drain(..BATCH.min(round.len())).collect();
        if let Err(e) = store.keep_states(batch).await {
            tracing::debug!(error = %e, "could not keep session answers; they will be folded again");
        }
    }
}

/// Writes everything queued, then says so.
async fn flush(
    store: &DynStore,
    rx: &mut mpsc::Receiver<KeptState>,
    round: &mut Vec<KeptState>,
    done: oneshot::Sender<()>,
) {
    while let Ok(state) = rx.try_recv() {
        round.push(state);
    }
    write(store, round).await;
    let _ = done.send(());
}

/// A kept answer this build can serve (the store already matched its `last_seq` with the
/// session's newest).
pub fn usable(kept: KeptState) -> Option<Bytes> {
    (kept.format == format()).then(|| Bytes::from(kept.json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_the_same_every_time_it_is_computed() {
        // A digest that varied (a map's iteration order leaking into the JSON, say) would make
        // every kept answer unusable after a restart.
        assert_eq!(answers_digest(), answers_digest());
        let prefix = format!(
            "ncsd {} rules {} ",
            env!("CARGO_PKG_VERSION"),
            crate::summary::RULES_VERSION
        );
        assert!(format().starts_with(&prefix), "{}", format());
        assert_eq!(format().len(), prefix.len() + 16);
    }
}
