//! The fold's handling of extension services: ApsaraVideo VoD (60, 61), web
//! page recording (70–73, 100) and postponed transcoding (80, 81, 90, 1001).
//! Their sections of the state exist only once such an event was seen.

use super::fold::{add_files, Builder};
use super::state::*;
use super::StoredEvent;
use agora_ncs::codes::{describe, CodeKind};
use agora_ncs::RecordingEvent as E;

impl Builder {
    pub(super) fn apply_extension(&mut self, e: &StoredEvent, event: &E) {
        let s = &mut self.s;
        match event {
            E::VodStarted(d) => {
                let vod = s.vod.get_or_insert_with(Vod::default);
                let id = d.ali_vod_info.as_ref().and_then(|i| i.video_id.clone());
                vod.video_id = id.or(vod.video_id.take());
            }
            E::VodTriggered(_) => s.vod.get_or_insert_with(Vod::default).triggered = true,
            E::WebRecorderStarted(d) => {
                let web = web(s);
                web.started_ms = web.started_ms.or(d.recorder_start_time);
            }
            E::WebRecorderStopped(d) => {
                let files = d.file_list.as_deref().unwrap_or_default();
                add_files(&mut s.files, Some(files));
                web(s).stopped = Some(WebStopped {
                    code: d.code,
                    message: d.message.clone(),
                    description: d.code.and_then(|c| describe(CodeKind::WebRecorderStop, c)),
                    details: d.details.clone(),
                });
            }
            E::WebRecorderCapabilityLimit(d) => {
                web(s).capability_limits.extend(d.limit_type.clone())
            }
            E::WebRecorderReload(d) => web(s).reloads.extend(d.reason.clone()),
            E::RtmpPublishStatus(d) => {
                web(s);
                let url = d.rtmp_url.clone().unwrap_or_default();
                let status = RtmpStatus {
                    rtmp_url: url.clone(),
                    status: d.status.clone(),
                    since_ms: e.sendts,
                };
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
            // Recording events are handled by the core fold.
            _ => {}
        }
    }
}

fn web(s: &mut SessionState) -> &mut WebRecorder {
    s.web_recorder.get_or_insert_with(WebRecorder::default)
}

fn postponed(s: &mut SessionState) -> &mut PostponedTranscoding {
    s.postponed_transcoding
        .get_or_insert_with(PostponedTranscoding::default)
}
