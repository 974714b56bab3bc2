//! The fold: distinct events, in order, applied one by one to a builder.
//!
//! "Latest" always means latest in `distinct_ordered` order (by sequence),
//! never latest to arrive. The bits that decide the phase are OR-ed over all
//! events and the exits merged with max, like the summary row kept at ingest
//! (`crate::summary`), so the list endpoint and this state agree on a phase.

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
    /// Exits merged with max, as the summary row's `exit_key`.
    exit_key: Option<i64>,
    /// Sequence of the event 33 whose progress is shown.
    progress_sequence: Option<i64>,
    stream_changes: Vec<StreamChange>,
    /// Earliest `sendts` of an event that shows recording, and latest of an event 41.
    recording_from: Option<i64>,
    left_at: Option<i64>,
    sequences: BTreeSet<i64>,
    /// Event 4 M3U8 names: the file list until 31/32/71/1001 bring one.
    m3u8: Vec<String>,
    streams: BTreeMap<(StreamKey, &'static str), Stream>,
    /// Latest event-100 status per RTMP URL.
    pub rtmp: BTreeMap<String, RtmpStatus>,
}

/// One 43/44 change: (uid, kind, its own time, sequence, receiving).
type StreamChange = (String, &'static str, Option<i64>, Option<i64>, bool);

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
        let bits = crate::summary::flags_for(event);
        self.flags |= bits;
        let key = crate::summary::exit_key(i64::from(e.event_type), e.sequence, bits);
        self.exit_key = self.exit_key.max(Some(key));
        if bits & crate::summary::RECORDING != 0 {
            if let Some(ts) = e.sendts {
                self.recording_from = Some(self.recording_from.map_or(ts, |m| m.min(ts)));
            }
        }
        if bits & crate::summary::ABNORMAL_STATUS != 0 {
            s.errors.push(ErrorEntry {
                event_type: e.event_type,
                status: abnormal_status(event),
                sequence: e.sequence,
                sendts: e.sendts,
                module: None,
                error_level: None,
                error_code: None,
                description: Some("the event reports an abnormal status (not 0)"),
                error_msg: None,
                stat: None,
            });
        }
        match event {
            E::Error(d) => {
                s.errors.push(ErrorEntry {
                    event_type: e.event_type,
                    status: None,
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
                // Its M3U8 name, a fallback file list like event 4's.
                if let Some(name) = d.file_list.as_ref().filter(|n| !self.m3u8.contains(n)) {
                    self.m3u8.push(name.clone());
                }
            }
            E::FileInfos(d) => {
                if let Some(name) = d.file_list.as_ref().filter(|n| !self.m3u8.contains(n)) {
                    self.m3u8.push(name.clone());
                }
            }
            E::SessionExit(d) => {
                s.exit_status = d.exit_status.or(s.exit_status);
            }
            E::SessionFailover(d) => s.failover_uids.extend(d.new_uid),
            E::Uploaded(d) | E::Backuped(d) => {
                // An abnormal status does not say the files are there.
                let normal = bits & crate::summary::UPLOADED != 0;
                if matches!(event, E::Uploaded(_)) {
                    s.upload.uploaded |= normal;
                } else {
                    s.upload.backuped |= normal;
                }
                add_files(&mut s.files, d.file_list.as_deref());
            }
            E::UploadingProgress(d) => {
                // Events come in sequence order: the last one applied is the highest sequence.
                if d.progress.is_some() && e.sequence >= self.progress_sequence {
                    s.upload.progress = d.progress;
                    self.progress_sequence = e.sequence;
                }
            }
            E::RecorderStarted(_) => {
                s.recorder.started_ms = s.recorder.started_ms.or(e.sendts);
            }
            E::RecorderLeave(d) => {
                s.recorder.leave_code = d.leave_code.or(s.recorder.leave_code);
                if let Some(ts) = e.sendts {
                    self.left_at = Some(self.left_at.map_or(ts, |m| m.max(ts)));
                }
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
                    self.stream_changes.push((
                        uid.clone(),
                        kind,
                        d.utc_ms.or(e.sendts),
                        e.sequence,
                        state == 0,
                    ));
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
        let exit_key = self.exit_key.unwrap_or(crate::summary::NO_EXIT);
        s.phase = crate::summary::phase(self.flags, exit_key);
        s.duration_ms = self.recording_from.and_then(|from| {
            let to = self.left_at.or(s.last_event_ms)?;
            Some((to - from).max(0))
        });
        s.event_count = event_count;
        s.status_description = s.status.and_then(|c| describe(CodeKind::ServiceStatus, c));
        s.recorder.leave_reasons = s.recorder.leave_code.map(leave_reasons).unwrap_or_default();
        s.max_sequence = self.sequences.last().copied();
        (s.missing_sequences, s.missing_count) = missing(&self.sequences);
        s.attention = crate::summary::attention_bits(self.flags);
        if s.missing_count > 0 {
            s.attention.push("gap");
        }
        s.stream_intervals = intervals(std::mem::take(&mut self.stream_changes));
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

/// The `status` that made an event abnormal (see `summary::ABNORMAL_STATUS`).
fn abnormal_status(event: &E) -> Option<i64> {
    match event {
        E::Uploaded(d) | E::Backuped(d) => d.status,
        E::UploaderStarted(d) | E::RecorderStarted(d) => d.status,
        _ => None,
    }
}

/// Receiving intervals per (uid, kind): changes ordered by their own time (then sequence); a
/// "receiving" opens an interval unless one is open, a "not receiving" closes the open one.
fn intervals(mut changes: Vec<StreamChange>) -> Vec<StreamInterval> {
    changes.sort_by(|a, b| {
        let key = |c: &StreamChange| {
            (
                StreamKey(c.0.parse().ok(), c.0.clone()),
                c.1,
                (c.2.is_none(), c.2),
                (c.3.is_none(), c.3),
                !c.4,
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out: Vec<StreamInterval> = Vec::new();
    let mut open: Option<usize> = None;
    let mut current: Option<(String, &'static str)> = None;
    for (uid, kind, at, _, receiving) in changes {
        if current.as_ref() != Some(&(uid.clone(), kind)) {
            current = Some((uid.clone(), kind));
            open = None;
        }
        match (receiving, open) {
            (true, None) => {
                out.push(StreamInterval {
                    uid,
                    kind,
                    from_ms: at,
                    to_ms: None,
                });
                open = Some(out.len() - 1);
            }
            (false, Some(i)) => {
                out[i].to_ms = at;
                open = None;
            }
            _ => {}
        }
    }
    out
}

/// Append the entries of a `fileList`, skipping one already listed: the same name and uid, and
/// the same slice start where both give one (the same name with another `sliceStartTime` is
/// another file).
pub(super) fn add_files(files: &mut Vec<FileEntry>, list: Option<&[FileEntry]>) {
    for entry in list.unwrap_or_default() {
        if !files.iter().any(|f| {
            f.file_name == entry.file_name
                && f.uid == entry.uid
                && (f.slice_start_time == entry.slice_start_time
                    || f.slice_start_time.is_none()
                    || entry.slice_start_time.is_none())
        }) {
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
