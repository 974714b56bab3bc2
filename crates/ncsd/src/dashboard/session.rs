//! `/sessions/{sid}`: one recording, from the same answer as `GET /v1/sessions/{sid}`, plus
//! its events as stored (for the timeline by sequence and the upload progress over time).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;

use super::charts::{self, Line, Timeline};
use super::format::{duration, When};
use super::{respond, Frame};
use crate::api::sessions::answer;
use crate::api::AppState;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::session::{distinct_ordered, stored_event, StoredEvent};

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    frame: Frame,
    sid: String,
    project: String,
    cname: String,
    uid: String,
    phase: String,
    attention: Vec<String>,
    duration: String,
    first: When,
    last: When,
    status: String,
    exit_status: String,
    leave_reasons: Vec<String>,
    upload: String,
    files: Vec<FileLine>,
    progress: Line,
    progress_from: When,
    progress_to: When,
    timeline: Timeline,
    events: Vec<EventLine>,
    event_count: i64,
    missing_count: i64,
    duplicates: i64,
    copies: i64,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    lifecycle: Vec<LifecycleLine>,
}

struct FileLine {
    name: String,
    track_type: String,
    uid: String,
    playable: String,
}

/// A row of the event timeline: an event, or a run of sequences never received.
struct EventLine {
    gap: Option<String>,
    sequence: String,
    event_type: i64,
    name: String,
    notice_id: String,
    when: When,
    deliveries: i64,
    copies: i64,
}

struct Problem {
    sequence: String,
    when: When,
    what: String,
    description: String,
}

struct LifecycleLine {
    kind: String,
    id: String,
    when: When,
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}

fn rfc3339_ms(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64)
}

pub async fn page(State(st): State<AppState>, Path(sid): Path<String>) -> Response {
    respond(&st, build(&st, sid).await)
}

async fn build(st: &AppState, sid: String) -> Result<SessionPage, ApiError> {
    let Some(json) = answer(st, &sid).await? else {
        return Err(ApiError::not_found(format!(
            "no recording session with sid {sid:?} is stored"
        )));
    };
    let v: Value = serde_json::from_slice(&json).unwrap_or(Value::Null);
    let records = st.store.session_events(&sid).await?;
    let now = now_ms();
    let stored: Vec<StoredEvent> = records.iter().filter_map(stored_event).collect();
    let distinct = distinct_ordered(&stored);
    let by_id: std::collections::HashMap<&str, &crate::store::EventRecord> =
        records.iter().map(|r| (r.notice_id.as_str(), r)).collect();

    // Copies per original, duplicates as deliveries beyond the first.
    let mut copies_of: std::collections::HashMap<&str, i64> = Default::default();
    for r in &records {
        if let Some(of) = r.copy_of.as_deref() {
            *copies_of.entry(of).or_default() += 1;
        }
    }
    let duplicates: i64 = records.iter().map(|r| (r.deliveries - 1).max(0)).sum();
    let copies: i64 = copies_of.values().sum();

    let mut events = Vec::new();
    let mut last_seq: Option<i64> = None;
    for e in &distinct {
        if let (Some(prev), Some(seq)) = (last_seq, e.sequence) {
            if seq > prev + 1 {
                let run = if seq == prev + 2 {
                    format!("sequence {} never received", prev + 1)
                } else {
                    format!("sequences {}–{} never received", prev + 1, seq - 1)
                };
                events.push(EventLine {
                    gap: Some(run),
                    sequence: String::new(),
                    event_type: 0,
                    name: String::new(),
                    notice_id: String::new(),
                    when: When::default(),
                    deliveries: 0,
                    copies: 0,
                });
            }
        }
        last_seq = e.sequence.or(last_seq);
        let r = by_id.get(e.notice_id.as_str());
        events.push(EventLine {
            gap: None,
            sequence: e.sequence.map_or_else(String::new, |s| s.to_string()),
            event_type: i64::from(e.event_type),
            name: agora_ncs::event_name(e.event_type)
                .unwrap_or("")
                .to_string(),
            notice_id: e.notice_id.clone(),
            when: When::at(e.sendts, now),
            deliveries: r.map_or(1, |r| r.deliveries),
            copies: copies_of.get(e.notice_id.as_str()).copied().unwrap_or(0),
        });
    }

    // Upload progress (event 33, 0–10000) over time, by the event's own time.
    let points: Vec<(i64, f64)> = distinct
        .iter()
        .filter(|e| e.event_type == 33)
        .filter_map(|e| {
            let d = e.details.value();
            Some((e.sendts?, d.get("progress")?.as_f64()? / 100.0))
        })
        .collect();
    let progress = charts::line(&points, 100.0, 120.0);

    let intervals: Vec<charts::Interval> = v["stream_intervals"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        text(&i["uid"]),
                        text(&i["kind"]),
                        i["from_ms"].as_i64(),
                        i["to_ms"].as_i64(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let slices: Vec<(i64, String)> = v["slices"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    let at = s["start_ms"].as_i64()?;
                    Some((at, format!("slice {}", text(&s["sequence"]))))
                })
                .collect()
        })
        .unwrap_or_default();
    let problems = |key: &str, what: &dyn Fn(&Value) -> String| -> Vec<Problem> {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| Problem {
                        sequence: text(&e["sequence"]),
                        when: When::at(e["sendts"].as_i64(), now),
                        what: what(e),
                        description: text(&e["description"]),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let errors = problems("errors", &|e| {
        let mut s = format!("event {}", text(&e["event_type"]));
        for (label, key) in [
            ("module", "module"),
            ("level", "error_level"),
            ("code", "error_code"),
            ("status", "status"),
        ] {
            if !e[key].is_null() {
                s.push_str(&format!(", {label} {}", text(&e[key])));
            }
        }
        if let Some(m) = e["error_msg"].as_str() {
            s.push_str(&format!(": {m}"));
        }
        s
    });
    let warnings = problems("warnings", &|w| {
        format!(
            "module {}, code {}",
            text(&w["module"]),
            text(&w["warn_code"])
        )
    });
    let error_marks: Vec<(i64, String)> = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    Some((
                        e["sendts"].as_i64()?,
                        format!("error, event {}", text(&e["event_type"])),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let open_until = v["last_event_ms"].as_i64().unwrap_or(now).max(
        if matches!(v["phase"].as_str(), Some("recording" | "starting")) {
            now
        } else {
            0
        },
    );
    let timeline = charts::timeline(&intervals, &slices, &error_marks, open_until);

    let files = v["files"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| FileLine {
                    name: text(&f["fileName"]),
                    track_type: text(&f["trackType"]),
                    uid: text(&f["uid"]),
                    playable: match f["isPlayable"].as_bool() {
                        Some(true) => "yes".into(),
                        Some(false) => "no".into(),
                        None => String::new(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let lifecycle = v["lifecycle"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| LifecycleLine {
                    kind: text(&l["type"]),
                    id: text(&l["id"]),
                    when: When::at(l["timestamp"].as_str().and_then(rfc3339_ms), now),
                })
                .collect()
        })
        .unwrap_or_default();
    let progress_value = v["upload"]["progress"].as_i64();
    let upload = match (v["upload"]["uploaded"].as_bool(), progress_value) {
        (Some(true), _) => "every file uploaded".to_string(),
        (_, Some(p)) => format!("{:.0}%", p as f64 / 100.0),
        _ => String::new(),
    };
    let exit_status = match v["exit_status"].as_i64() {
        Some(0) => "0 (normal)".to_string(),
        Some(1) => "1 (abnormal)".to_string(),
        Some(n) => n.to_string(),
        None => String::new(),
    };
    let status = match (v["status"].as_i64(), v["status_description"].as_str()) {
        (Some(s), Some(d)) => format!("{s}: {d}"),
        (Some(s), None) => s.to_string(),
        _ => String::new(),
    };
    Ok(SessionPage {
        frame: Frame {
            title: format!("Session {sid}"),
            nav: "sessions",
            live: sid.clone(),
            signed_in: st.api_token.is_some(),
        },
        project: text(&v["project"]),
        cname: text(&v["cname"]),
        uid: text(&v["uid"]),
        phase: text(&v["phase"]),
        attention: strings(&v["attention"]),
        duration: duration(v["duration_ms"].as_i64()),
        first: When::at(v["first_event_ms"].as_i64(), now),
        last: When::at(v["last_event_ms"].as_i64(), now),
        status,
        exit_status,
        leave_reasons: strings(&v["recorder"]["leave_reasons"]),
        upload,
        files,
        progress_from: When::at(points.first().map(|p| p.0), now),
        progress_to: When::at(points.last().map(|p| p.0), now),
        progress,
        timeline,
        events,
        event_count: v["event_count"].as_i64().unwrap_or(0),
        missing_count: v["missing_count"].as_i64().unwrap_or(0),
        duplicates,
        copies,
        errors,
        warnings,
        lifecycle,
        sid,
    })
}
