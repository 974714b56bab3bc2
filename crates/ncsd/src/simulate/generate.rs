//! One recording session as the Cloud Recording service would report it.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Composite,
    Individual,
    Web,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Composite, Mode::Individual, Mode::Web];
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    pub event_type: u32,
    pub sequence: i64,
    pub sendts: i64,
    pub service_type: i64,
    pub details: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimSession {
    pub sid: String,
    pub cname: String,
    pub uid: String,
    pub mode: Mode,
    /// Ends with an abnormal exit instead of a normal one.
    pub fails: bool,
    pub events: Vec<SimEvent>,
    /// Files reported by event 31 (or 71 for web page recording).
    pub files: usize,
}

struct Builder {
    start: i64,
    events: Vec<SimEvent>,
}

impl Builder {
    fn push(&mut self, event_type: u32, service_type: i64, details: Value) {
        let sequence = self.events.len() as i64;
        let sendts = self.start + sequence * 1000;
        self.events.push(SimEvent {
            event_type,
            sequence,
            sendts,
            service_type,
            details,
        });
    }
}

/// Details as Agora writes them: `msgName` first, then the event's fields.
/// Audio (43) and video (44) state of one stream, in the order a recorder reports them.
fn push_streams(b: &mut Builder, uid: &str, state: u8, at_ms: i64, video_first: bool) {
    let audio = (43, "recorder_audio_stream_state_changed");
    let video = (44, "recorder_video_stream_state_changed");
    let order = if video_first {
        [video, audio]
    } else {
        [audio, video]
    };
    for (event_type, name) in order {
        b.push(
            event_type,
            1,
            msg(
                name,
                json!({"streamUid": uid, "state": state, "UtcMs": at_ms}),
            ),
        );
    }
}

fn track_type(mode: Mode) -> &'static str {
    if mode == Mode::Composite {
        "audio_and_video"
    } else {
        "audio"
    }
}

fn msg(name: &str, fields: Value) -> Value {
    let mut details = serde_json::Map::new();
    details.insert("msgName".into(), json!(name));
    if let Value::Object(f) = fields {
        details.extend(f);
    }
    Value::Object(details)
}

pub fn generate_session<R: Rng>(rng: &mut R, mode: Mode, fails: bool, start_ms: i64) -> SimSession {
    let sid: String = (0..32)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect();
    let cname = format!("room-{}", rng.random_range(1..=50));
    let uid = rng.random_range(100_000..999_999u32).to_string();
    let mut b = Builder {
        start: start_ms,
        events: Vec::new(),
    };
    let users: Vec<String> = match mode {
        Mode::Individual => (0..rng.random_range(2..=3))
            .map(|i| (1000 + i).to_string())
            .collect(),
        _ => vec!["0".to_string()],
    };
    if mode == Mode::Web {
        b.push(
            70,
            6,
            msg(
                "web_recorder_started",
                json!({"recorderStartTime": start_ms}),
            ),
        );
        b.push(30, 2, msg("uploader_started", json!({"status": 0})));
    } else {
        b.push(40, 1, msg("recorder_started", json!({"status": 0})));
        b.push(30, 2, msg("uploader_started", json!({"status": 0})));
        for u in &users {
            push_streams(&mut b, u, 0, start_ms + 500, true);
            let track = track_type(mode);
            b.push(42, 1, msg("recorder_slice_start", json!({"startUtcMs": start_ms + 800, "discontinueUtcMs": start_ms + 800, "mixedAllUser": mode == Mode::Composite, "streamUid": u, "trackType": track})));
            b.push(
                4,
                0,
                msg(
                    "cloud_recording_file_infos",
                    json!({"fileList": format!("{sid}_{}.m3u8", u)}),
                ),
            );
        }
    }
    for i in 1..=rng.random_range(1..=4) {
        b.push(
            33,
            2,
            msg("uploading_progress", json!({"progress": 2000 * i})),
        );
    }
    if fails {
        b.push(1, 0, msg("cloud_recording_error", json!({"module": 1, "errorLevel": 5, "errorCode": 47, "stat": 1, "errorMsg": "upload failed"})));
        b.push(11, 0, msg("session_exit", json!({"exitStatus": 1})));
        return SimSession {
            sid,
            cname,
            uid,
            mode,
            fails,
            events: b.events,
            files: 0,
        };
    }
    if mode == Mode::Web {
        let list: Vec<Value> = (0..2)
            .map(
                |i| json!({"fileName": format!("{sid}_{i}.mp4"), "sliceStartTime": start_ms + 800}),
            )
            .collect();
        let files = list.len();
        b.push(
            71,
            6,
            msg(
                "web_recorder_stopped",
                json!({"code": 0, "message": "ok", "details": "stopped by user", "fileList": list}),
            ),
        );
        b.push(33, 2, msg("uploading_progress", json!({"progress": 10000})));
        b.push(31, 2, msg("uploaded", json!({"status": 0})));
        b.push(11, 0, msg("session_exit", json!({"exitStatus": 0})));
        SimSession {
            sid,
            cname,
            uid,
            mode,
            fails,
            events: b.events,
            files,
        }
    } else {
        let leave = *[2, 4, 6, 16].choose(rng).unwrap_or(&2);
        b.push(41, 1, msg("recorder_leave", json!({"leaveCode": leave})));
        b.push(33, 2, msg("uploading_progress", json!({"progress": 10000})));
        b.push(11, 0, msg("session_exit", json!({"exitStatus": 0})));
        // Stream changes after the recorder left are normal (spec §4).
        for u in &users {
            push_streams(&mut b, u, 1, start_ms + 60_000, false);
        }
        let list: Vec<Value> = users
            .iter()
            .map(|u| {
                let track = track_type(mode);
                json!({"fileName": format!("{sid}_{u}.m3u8"), "trackType": track, "uid": u,
                       "mixedAllUser": mode == Mode::Composite, "isPlayable": true, "sliceStartTime": start_ms + 800})
            })
            .collect();
        let files = list.len();
        b.push(
            31,
            2,
            msg("uploaded", json!({"status": 0, "fileList": list})),
        );
        SimSession {
            sid,
            cname,
            uid,
            mode,
            fails,
            events: b.events,
            files,
        }
    }
}

impl SimSession {
    /// The NCS body for one event, as NCS would send it at `notify_ms`.
    pub fn body(&self, e: &SimEvent, notice_id: &str, notify_ms: i64) -> Vec<u8> {
        json!({
            "noticeId": notice_id,
            "productId": 3,
            "eventType": e.event_type,
            "notifyMs": notify_ms,
            "sid": self.sid,
            "payload": {
                "cname": self.cname,
                "uid": self.uid,
                "sid": self.sid,
                "sequence": e.sequence,
                "sendts": e.sendts,
                "serviceType": e.service_type,
                "details": e.details,
            }
        })
        .to_string()
        .into_bytes()
    }

    /// The phase the receiver should report, given which sequences it got: an independent
    /// statement of the phase table (README "Phases"), for tests.
    pub fn expected_phase(&self, got: &dyn Fn(i64) -> bool) -> &'static str {
        let received: Vec<&SimEvent> = self.events.iter().filter(|e| got(e.sequence)).collect();
        let num = |e: &SimEvent, k: &str| e.details[k].as_i64();
        let any = |f: &dyn Fn(&SimEvent) -> bool| received.iter().any(|e| f(e));
        let completed = any(&|e| e.event_type == 11 && num(e, "exitStatus") == Some(0))
            || any(&|e| matches!(e.event_type, 31 | 32) && num(e, "status").unwrap_or(0) == 0)
            || any(&|e| {
                e.event_type == 71
                    && e.details["fileList"]
                        .as_array()
                        .is_some_and(|l| !l.is_empty())
            });
        let failed = any(&|e| e.event_type == 11 && num(e, "exitStatus") == Some(1))
            || any(&|e| e.event_type == 3 && num(e, "status") == Some(20))
            || any(&|e| e.event_type == 41 && num(e, "leaveCode") == Some(0));
        let last_exit = received
            .iter()
            .filter(|e| e.event_type == 11)
            .max_by_key(|e| e.sequence)
            .and_then(|e| num(e, "exitStatus"));
        match (completed, failed) {
            (true, true) if last_exit == Some(1) => return "failed",
            (true, _) => return "completed",
            (false, true) => return "failed",
            _ => {}
        }
        if any(&|e| {
            (e.event_type == 41 && num(e, "leaveCode") != Some(0))
                || (e.event_type == 3 && matches!(num(e, "status"), Some(6..=8)))
        }) {
            "uploading"
        } else if any(&|e| {
            (e.event_type == 40 && num(e, "status").unwrap_or(0) == 0)
                || matches!(e.event_type, 4 | 33 | 42 | 43 | 44 | 45)
                || (e.event_type == 3 && matches!(num(e, "status"), Some(1..=5)))
        }) {
            "recording"
        } else {
            "starting"
        }
    }
}
