//! The fold: distinct events, in order, applied one by one to a builder.
//!
//! "Latest" always means latest in `distinct_ordered` order (by sequence),
//! never latest to arrive. Flags that decide the phase are OR-ed over all
//! events, like the summary row kept at ingest (`crate::summary`), so the
//! list endpoint and this state agree on a session's phase.

use super::distinct::distinct_ordered;
use super::state::*;
use super::StoredEvent;
use agora_ncs::codes::{describe, describe_error, leave_reasons, CodeKind};
use agora_ncs::{FileEntry, RecordingEvent as E};
use std::collections::{BTreeMap, BTreeSet};

/// Fold every stored event of one sid into its state. Pure: the same set of
/// events, in any order and with any duplication, gives the same state.
pub fn fold(sid: &str, events: &[StoredEvent]) -> SessionState {
    let f = Folding::new(sid, events);
    f.b.finish(f.count)
}

/// A fold that can be carried forward: the builder after the last applied event, so events
/// stored later cost only their own parsing instead of a refold of the whole session.
///
/// Carrying forward gives exactly what a refold gives only when every new event sorts after
/// every event already applied (`distinct_ordered` order) and cannot be a copy of one of them:
/// each new event then has a higher `sequence` than any applied one (copies share their
/// original's sequence, and events without a sequence sort last). That is the live case: a
/// recording reports with increasing sequence numbers. Anything else (an event delivered late,
/// out of order) makes `extend` refuse, and the caller folds from scratch.
#[derive(Clone)]
pub struct Folding {
    b: Builder,
    /// Distinct events applied.
    count: usize,
    /// Highest sequence applied.
    max_sequence: Option<i64>,
    /// An event without a sequence was applied: it sorts last, so nothing can follow it.
    closed: bool,
}

impl Folding {
    /// Fold every stored event of one sid (any order, any duplication).
    pub fn new(sid: &str, events: &[StoredEvent]) -> Self {
        let mut b = Builder::default();
        b.s.sid = sid.to_owned();
        let mut f = Folding {
            b,
            count: 0,
            max_sequence: None,
            closed: false,
        };
        f.apply_all(events);
        f
    }

    /// Apply events stored after the ones folded so far. Returns false, changing nothing, when
    /// one of them could sort before an applied event (see the type's documentation); the
    /// caller must then fold from scratch.
    pub fn extend(&mut self, newer: &[StoredEvent]) -> bool {
        let after_all = |e: &StoredEvent| match (e.sequence, self.max_sequence) {
            (None, _) | (Some(_), None) => true,
            (Some(s), Some(max)) => s > max,
        };
        if self.closed {
            return newer.is_empty();
        }
        if !newer.iter().all(after_all) {
            return false;
        }
        self.apply_all(newer);
        true
    }

    /// The state as of the events applied so far.
    pub fn state(&self) -> SessionState {
        self.b.clone().finish(self.count)
    }

    fn apply_all(&mut self, events: &[StoredEvent]) {
        let distinct = distinct_ordered(events);
        for e in &distinct {
            self.b.apply(e, &e.details.typed(e.event_type));
            match e.sequence {
                Some(s) => self.max_sequence = self.max_sequence.max(Some(s)),
                None => self.closed = true,
            }
        }
        self.count += distinct.len();
    }
}

#[derive(Default, Clone)]
pub(super) struct Builder {
    pub s: SessionState,
    /// Phase bits, OR-ed exactly as the summary row kept at ingest (`crate::summary`).
    pub flags: i64,
    sequences: BTreeSet<i64>,
    /// Event 4 M3U8 names: the file list until 31/32/71/1001 bring one.
    m3u8: Vec<String>,
    streams: BTreeMap<(StreamKey, &'static str), Stream>,
    /// Latest event-100 status per RTMP URL.
    pub rtmp: BTreeMap<String, RtmpStatus>,
}

/// Numeric uids sort numerically ("9" before "10"), others after, as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct StreamKey(Option<u64>, String);

impl Builder {
    fn apply(&mut self, e: &StoredEvent, event: &E) {
        let s = &mut self.s;
        // Events come lowest sequence first, so the first value seen is the one wanted.
        s.cname = s.cname.take().or_else(|| e.cname.clone());
        s.uid = s.uid.take().or_else(|| e.uid.clone());
        if let Some(ts) = e.sendts {
            s.first_event_ms = Some(s.first_event_ms.map_or(ts, |m| m.min(ts)));
            s.last_event_ms = Some(s.last_event_ms.map_or(ts, |m| m.max(ts)));
        }
        if let Some(seq) = e.sequence {
            self.sequences.insert(seq);
        }
        self.flags |= crate::summary::flags_for(event);
        match event {
            E::Error(d) => {
                s.errors.push(ErrorEntry {
                    sequence: e.sequence,
                    sendts: e.sendts,
                    module: d.module,
                    error_level: d.error_level,
                    error_code: d.error_code,
                    description: d.error_code.and_then(|c| describe_error(d.module, c)),
                    error_msg: d.error_msg.clone(),
                    stat: d.stat,
                });
            }
            E::Warning(d) => s.warnings.push(WarningEntry {
                sequence: e.sequence,
                sendts: e.sendts,
                module: d.module,
                warn_code: d.warn_code,
                // Recorder (module 0) codes are SDK warnings, not in our tables.
                description: d
                    .warn_code
                    .filter(|_| d.module == Some(1))
                    .and_then(|c| describe(CodeKind::UploadWarning, c)),
            }),
            E::StatusUpdate(d) => {
                s.status = d.status.or(s.status);
                s.recording_mode = d.recording_mode.or(s.recording_mode);
            }
            E::FileInfos(d) => {
                if let Some(name) = d.file_list.as_ref().filter(|n| !self.m3u8.contains(n)) {
                    self.m3u8.push(name.clone());
                }
            }
            E::SessionExit(d) => {
                s.exit_status = d.exit_status.or(s.exit_status);
            }
            E::SessionFailover(d) => s.failover_uids.extend(d.new_uid.map(|u| u.to_string())),
            E::Uploaded(d) | E::Backuped(d) => {
                if matches!(event, E::Uploaded(_)) {
                    s.upload.uploaded = true;
                } else {
                    s.upload.backuped = true;
                }
                add_files(&mut s.files, d.file_list.as_deref());
            }
            E::UploadingProgress(d) => s.upload.progress = d.progress.max(s.upload.progress),
            E::RecorderStarted(_) => {
                s.recorder.started_ms = s.recorder.started_ms.or(e.sendts);
            }
            E::RecorderLeave(d) => {
                s.recorder.leave_code = d.leave_code.or(s.recorder.leave_code);
            }
            E::SliceStart(d) => {
                s.slices.push(Slice {
                    sequence: e.sequence,
                    start_ms: d.start_utc_ms,
                    discontinue_ms: d.discontinue_utc_ms,
                    stream_uid: d.stream_uid.clone(),
                    track_type: d.track_type.clone(),
                    mixed_all_user: d.mixed_all_user,
                });
            }
            E::AudioStreamStateChanged(d) | E::VideoStreamStateChanged(d) => {
                let kind = match event {
                    E::AudioStreamStateChanged(_) => "audio",
                    _ => "video",
                };
                // Without a uid or a state the change says nothing we can show.
                if let (Some(uid), Some(state)) = (&d.stream_uid, d.state) {
                    let stream = Stream {
                        uid: uid.clone(),
                        kind,
                        receiving: state == 0,
                        since_ms: d.utc_ms,
                    };
                    let key = StreamKey(uid.parse().ok(), uid.clone());
                    self.streams.insert((key, kind), stream);
                }
            }
            E::SnapshotFile(d) => s.snapshots.extend(d.file_name.clone()),
            // Counted in event_count, nothing else: 30 adds nothing the state
            // shows, and we do not know what undocumented events mean.
            E::UploaderStarted(_) | E::Unknown { .. } => {}
            // VoD, web page recording, postponed transcoding.
            _ => self.apply_extension(e, event),
        }
    }

    fn finish(mut self, event_count: usize) -> SessionState {
        let s = &mut self.s;
        s.phase = crate::summary::phase(self.flags);
        s.event_count = event_count;
        s.status_description = s.status.and_then(|c| describe(CodeKind::ServiceStatus, c));
        s.recorder.leave_reasons = s.recorder.leave_code.map(leave_reasons).unwrap_or_default();
        s.max_sequence = self.sequences.last().copied();
        (s.missing_sequences, s.missing_count) = missing(&self.sequences);
        if s.files.is_empty() {
            s.files = (self.m3u8.into_iter())
                .map(|n| FileEntry {
                    file_name: Some(n),
                    ..Default::default()
                })
                .collect();
        }
        s.streams = self.streams.into_values().collect();
        if let Some(web) = &mut s.web_recorder {
            web.rtmp = self.rtmp.into_values().collect();
        }
        self.s
    }
}

/// Append the entries of a `fileList`, skipping a (fileName, uid) already listed.
pub(super) fn add_files(files: &mut Vec<FileEntry>, list: Option<&[FileEntry]>) {
    for entry in list.unwrap_or_default() {
        if !files
            .iter()
            .any(|f| f.file_name == entry.file_name && f.uid == entry.uid)
        {
            files.push(entry.clone());
        }
    }
}

/// Sequences in `0..max` not seen: up to `MAX_MISSING_LISTED` of them, and how
/// many in all. Walks the gaps, so a huge sequence costs nothing.
fn missing(seen: &BTreeSet<i64>) -> (Vec<i64>, i64) {
    let (mut listed, mut count, mut next) = (Vec::new(), 0i64, 0i64);
    for &seq in seen.range(0..) {
        count = count.saturating_add(seq - next);
        while next < seq && listed.len() < MAX_MISSING_LISTED {
            listed.push(next);
            next += 1;
        }
        next = seq.saturating_add(1);
    }
    (listed, count)
}
