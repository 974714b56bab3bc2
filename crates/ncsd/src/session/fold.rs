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
    let distinct = distinct_ordered(events);
    let mut b = Builder::new(sid);
    for e in &distinct {
        b.apply(e, &E::parse(e.event_type, &e.details));
    }
    b.finish(distinct.len())
}

#[derive(Default)]
struct Flags {
    failed: bool,
    exit_ok: bool,
    uploaded: bool,
    web_stopped_with_files: bool,
    uploading: bool,
    recording: bool,
}

struct Builder {
    s: SessionState,
    flags: Flags,
    sequences: BTreeSet<i64>,
    /// Event 4 M3U8 names: the file list until 31/32/71/1001 bring one.
    m3u8: Vec<String>,
    streams: BTreeMap<(StreamKey, &'static str), Stream>,
    rtmp: BTreeMap<String, RtmpStatus>,
}

/// Numeric uids sort numerically ("9" before "10"), others after, as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct StreamKey(Option<u64>, String);

impl Builder {
    fn new(sid: &str) -> Self {
        Builder {
            s: SessionState {
                sid: sid.to_owned(),
                cname: None,
                uid: None,
                phase: Phase::Starting,
                status: None,
                status_description: None,
                recording_mode: None,
                event_count: 0,
                max_sequence: None,
                missing_sequences: Vec::new(),
                missing_count: 0,
                first_event_ms: None,
                last_event_ms: None,
                recorder: Recorder::default(),
                upload: Upload::default(),
                exit_status: None,
                files: Vec::new(),
                slices: Vec::new(),
                streams: Vec::new(),
                failover_uids: Vec::new(),
                errors: Vec::new(),
                warnings: Vec::new(),
                snapshots: Vec::new(),
                vod: None,
                web_recorder: None,
                postponed_transcoding: None,
            },
            flags: Flags::default(),
            sequences: BTreeSet::new(),
            m3u8: Vec::new(),
            streams: BTreeMap::new(),
            rtmp: BTreeMap::new(),
        }
    }

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
        let f = &mut self.flags;
        match event {
            E::Error(d) => {
                f.failed |= d.error_level == Some(5);
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
                description: d
                    .warn_code
                    .filter(|_| d.module == Some(1))
                    .and_then(|c| describe(CodeKind::UploadWarning, c)),
            }),
            E::StatusUpdate(d) => {
                f.failed |= d.status == Some(20);
                s.status = d.status.or(s.status);
                s.recording_mode = d.recording_mode.or(s.recording_mode);
            }
            E::FileInfos(d) => {
                if let Some(name) = &d.file_list {
                    if !self.m3u8.contains(name) {
                        self.m3u8.push(name.clone());
                    }
                }
            }
            E::SessionExit(d) => {
                f.uploading = true;
                f.exit_ok |= d.exit_status == Some(0);
                f.failed |= d.exit_status == Some(1);
                s.exit_status = d.exit_status.or(s.exit_status);
            }
            E::SessionFailover(d) => s.failover_uids.extend(d.new_uid.map(|u| u.to_string())),
            E::Uploaded(d) | E::Backuped(d) => {
                f.uploaded = true;
                if matches!(event, E::Uploaded(_)) {
                    s.upload.uploaded = true;
                } else {
                    s.upload.backuped = true;
                }
                add_files(&mut s.files, d.file_list.as_deref());
            }
            E::UploadingProgress(d) => s.upload.progress = d.progress.max(s.upload.progress),
            E::RecorderStarted(_) => {
                f.recording = true;
                s.recorder.started_ms = s.recorder.started_ms.or(e.sendts);
            }
            E::RecorderLeave(d) => {
                f.uploading = true;
                s.recorder.leave_code = d.leave_code.or(s.recorder.leave_code);
            }
            E::SliceStart(d) => {
                f.recording = true;
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
                let kind = if matches!(event, E::AudioStreamStateChanged(_)) { "audio" } else { "video" };
                // Without a uid or a state the change says nothing we can show.
                if let (Some(uid), Some(state)) = (&d.stream_uid, d.state) {
                    let key = StreamKey(uid.parse().ok(), uid.clone());
                    let stream = Stream { uid: uid.clone(), kind, receiving: state == 0, since_ms: d.utc_ms };
                    self.streams.insert((key, kind), stream);
                }
            }
            E::SnapshotFile(d) => s.snapshots.extend(d.file_name.clone()),
            E::VodStarted(d) => {
                let vod = s.vod.get_or_insert_with(Vod::default);
                vod.video_id = d.ali_vod_info.as_ref().and_then(|i| i.video_id.clone()).or(vod.video_id.take());
            }
            E::VodTriggered(_) => s.vod.get_or_insert_with(Vod::default).triggered = true,
            E::WebRecorderStarted(d) => {
                let web = s.web_recorder.get_or_insert_with(WebRecorder::default);
                web.started_ms = web.started_ms.or(d.recorder_start_time);
            }
            E::WebRecorderStopped(d) => {
                let files = d.file_list.as_deref().unwrap_or_default();
                f.web_stopped_with_files |= !files.is_empty();
                add_files(&mut s.files, Some(files));
                s.web_recorder.get_or_insert_with(WebRecorder::default).stopped = Some(WebStopped {
                    code: d.code,
                    message: d.message.clone(),
                    description: d.code.and_then(|c| describe(CodeKind::WebRecorderStop, c)),
                    details: d.details.clone(),
                });
            }
            E::WebRecorderCapabilityLimit(d) => {
                let web = s.web_recorder.get_or_insert_with(WebRecorder::default);
                web.capability_limits.extend(d.limit_type.clone());
            }
            E::WebRecorderReload(d) => {
                let web = s.web_recorder.get_or_insert_with(WebRecorder::default);
                web.reloads.extend(d.reason.clone());
            }
            E::RtmpPublishStatus(d) => {
                s.web_recorder.get_or_insert_with(WebRecorder::default);
                let url = d.rtmp_url.clone().unwrap_or_default();
                let status = RtmpStatus { rtmp_url: url.clone(), status: d.status.clone(), since_ms: e.sendts };
                self.rtmp.insert(url, status);
            }
            E::TranscoderStarted(_) => postponed(s).started = true,
            E::TranscoderCompleted(d) => {
                let p = postponed(s);
                p.result = d.result.clone().or(p.result.take());
                if let Some(uids) = &d.uids {
                    p.uids = uids.clone();
                }
            }
            E::DownloadFailed(d) => postponed(s).download_failures.push(DownloadFailure {
                vendor: d.vendor,
                region: d.region,
                bucket: d.bucket.clone(),
                files: d.file_names().into_iter().map(str::to_owned).collect(),
            }),
            E::PostponeTranscodeFinalResult(d) => {
                add_files(&mut s.files, d.file_list.as_deref());
                let p = postponed(s);
                p.final_result = d.result.clone().or(p.final_result.take());
            }
            // Counted in event_count, nothing else: we do not know what they mean.
            E::UploaderStarted(_) | E::Unknown { .. } => {}
        }
    }

    fn finish(mut self, event_count: usize) -> SessionState {
        let f = &self.flags;
        let s = &mut self.s;
        s.phase = if f.failed {
            Phase::Failed
        } else if (f.exit_ok && f.uploaded) || f.web_stopped_with_files {
            Phase::Completed
        } else if f.uploading {
            Phase::Uploading
        } else if f.recording {
            Phase::Recording
        } else {
            Phase::Starting
        };
        s.event_count = event_count;
        s.status_description = s.status.and_then(|c| describe(CodeKind::ServiceStatus, c));
        s.recorder.leave_reasons = s.recorder.leave_code.map(leave_reasons).unwrap_or_default();
        s.max_sequence = self.sequences.last().copied();
        (s.missing_sequences, s.missing_count) = missing(&self.sequences);
        if s.files.is_empty() {
            s.files = self.m3u8.into_iter().map(|n| FileEntry { file_name: Some(n), ..Default::default() }).collect();
        }
        s.streams = self.streams.into_values().collect();
        if let Some(web) = &mut s.web_recorder {
            web.rtmp = self.rtmp.into_values().collect();
        }
        self.s
    }
}

fn postponed(s: &mut SessionState) -> &mut PostponedTranscoding {
    s.postponed_transcoding.get_or_insert_with(PostponedTranscoding::default)
}

/// Append the entries of a `fileList`, skipping a (fileName, uid) already listed.
fn add_files(files: &mut Vec<FileEntry>, list: Option<&[FileEntry]>) {
    for entry in list.unwrap_or_default() {
        if !files.iter().any(|f| f.file_name == entry.file_name && f.uid == entry.uid) {
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
