//! Every fixture file parses as what it is (see tests/fixtures/SOURCES.md):
//! full envelopes, `*-details.json` (typed by the event type in the name),
//! and Cloud Transcoder `*-payload.json`.

mod common;

use agora_ncs::{
    transcoder::transcoder_event_name, Envelope, FileEntry, RecordingEvent, TranscoderPayload,
};
use common::{event_type_of, fixture, fixture_json, fixture_names};
use serde_json::json;

#[test]
fn every_fixture_is_covered() {
    let names = fixture_names();
    assert!(names.len() >= 17, "fixtures missing: {names:?}");
    for name in &names {
        let kind = if name.ends_with("-details.json") {
            "details"
        } else if name.contains("-ct-") {
            "transcoder payload"
        } else if name.ends_with("-payload.json") {
            "other payload"
        } else {
            "envelope"
        };
        match kind {
            "details" => {
                let event = RecordingEvent::parse(event_type_of(name), &fixture_json(name));
                assert!(
                    !matches!(event, RecordingEvent::Unknown { .. }),
                    "{name}: {event:?}"
                );
                assert_eq!(event.event_type(), event_type_of(name));
                // Typed straight from the text (how stored events are folded): the same.
                let text = serde_json::to_string(&fixture_json(name)).unwrap();
                assert_eq!(
                    RecordingEvent::parse_str(event_type_of(name), &text),
                    event,
                    "{name}"
                );
            }
            "transcoder payload" => {
                let p: TranscoderPayload = serde_json::from_value(fixture_json(name)).unwrap();
                assert_eq!(
                    p.details.event.as_deref(),
                    transcoder_event_name(event_type_of(name)),
                    "{name}"
                );
            }
            "other payload" => assert!(fixture_json(name).is_object(), "{name}"),
            _ => {
                Envelope::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}

fn files(event: &RecordingEvent) -> &[FileEntry] {
    match event {
        RecordingEvent::Uploaded(d) | RecordingEvent::Backuped(d) => {
            d.file_list.as_deref().unwrap_or_default()
        }
        RecordingEvent::WebRecorderStopped(d) => d.file_list.as_deref().unwrap_or_default(),
        other => panic!("no file list in {other:?}"),
    }
}

fn parse(name: &str) -> RecordingEvent {
    RecordingEvent::parse(event_type_of(name), &fixture_json(name))
}

#[test]
fn uploaded_individual() {
    let e = parse("07-cr-31-uploaded-individual-details.json");
    let RecordingEvent::Uploaded(d) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(d.status, Some(0));
    let f = files(&e);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].file_name.as_deref(), Some("xxx.m3u8"));
    assert_eq!(f[0].track_type.as_deref(), Some("audio"));
    assert_eq!(f[0].uid.as_deref(), Some("57297"));
    assert_eq!(
        (f[0].mixed_all_user, f[0].is_playable),
        (Some(false), Some(true))
    );
    assert_eq!(f[1].slice_start_time, Some(1619172871099));
    assert_eq!(
        e.to_details(),
        fixture_json("07-cr-31-uploaded-individual-details.json")
    );
}

#[test]
fn uploaded_composite() {
    for name in [
        "08-cr-31-uploaded-composite-hls-details.json",
        "09-cr-31-uploaded-composite-mp4-details.json",
    ] {
        let e = parse(name);
        let f = files(&e);
        assert!(
            f.iter()
                .all(|f| f.uid.as_deref() == Some("0") && f.mixed_all_user == Some(true)),
            "{name}"
        );
        assert!(f
            .iter()
            .all(|f| f.track_type.as_deref() == Some("audio_and_video")));
        assert_eq!(e.to_details(), fixture_json(name));
    }
    assert_eq!(
        files(&parse("09-cr-31-uploaded-composite-mp4-details.json"))[0]
            .file_name
            .as_deref(),
        Some("xxx.mp4")
    );
}

#[test]
fn uploaded_web_has_no_file_list() {
    let RecordingEvent::Uploaded(d) = parse("10-cr-31-uploaded-web-details.json") else {
        panic!()
    };
    assert_eq!((d.status, d.file_list), (Some(0), None));
}

#[test]
fn status_as_string_is_accepted() {
    let RecordingEvent::Uploaded(d) =
        parse("11-cr-31-uploaded-web-cn2021-status-string-details.json")
    else {
        panic!()
    };
    assert_eq!(d.status, Some(0));
    let f = d.file_list.unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(
        (f[2].file_name.as_deref(), f[2].slice_start_time),
        (Some("xxx.mp4"), Some(1562732171000))
    );
    assert_eq!(f[0].track_type, None);

    let e = parse("12-cr-32-backuped-individual-cn2021-status-string-details.json");
    let RecordingEvent::Backuped(d) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(d.status, Some(0));
    assert_eq!(
        files(&e)
            .iter()
            .map(|f| f.uid.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["123", "456"]
    );
    assert_eq!(e.name(), "backuped");
    // Normalised on the way out: status becomes the documented number.
    assert_eq!(e.to_details()["status"], json!(0));
}

#[test]
fn web_recorder_stopped_with_lowercase_filename() {
    let e = parse("13-cr-71-web_recorder_stopped-details.json");
    let RecordingEvent::WebRecorderStopped(d) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (d.code, d.message.as_deref()),
        (Some(1), Some("max_recording_hour"))
    );
    assert_eq!(d.details.as_deref(), Some("max recording hour is 4"));
    let f = files(&e);
    assert_eq!(f[0].file_name.as_deref(), Some("test_p1627613634_www.m3u8"));
    assert_eq!(
        f[1].file_name.as_deref(),
        Some("test_p1627613634_www_0.mp4")
    );
    assert_eq!(f[1].slice_start_time, Some(1627613641393));
    assert!(
        f[0].extra.is_empty(),
        "`filename` was taken as fileName, not kept as unknown"
    );
    // Written back under the documented name.
    assert_eq!(
        e.to_details()["fileList"][0]["fileName"],
        json!("test_p1627613634_www.m3u8")
    );
}

#[test]
fn transcoder_payloads() {
    let p: TranscoderPayload = serde_json::from_value(fixture_json(
        "14-ct-110-cloud_transcoder_started-payload.json",
    ))
    .unwrap();
    assert_eq!(
        (p.task_id.as_deref(), p.instance_id.as_deref()),
        (Some("1234"), Some("123"))
    );
    assert_eq!((p.sequence, p.sendts), (Some(123), Some(1656573243385)));
    assert_eq!(p.service_scene.as_deref(), Some("rtsc/cloud-transcoder"));
    assert_eq!(p.details.state.as_deref(), Some("Transcoder success"));
    assert_eq!(p.details.create_ts, Some(1658112464000));
    assert_eq!(
        p.details.transcoder.as_ref().unwrap()["inputs"][1]["rtcUid"],
        json!(456)
    );

    let p: TranscoderPayload = serde_json::from_value(fixture_json(
        "15-ct-111-cloud_transcoder_stopped-payload.json",
    ))
    .unwrap();
    assert_eq!(p.details.stop_reason.as_deref(), Some("Stop request"));
    assert_eq!(p.details.update_ts, Some(1658112464000));
    assert_eq!(p.details.transcoder, None);

    for name in [
        "16-ct-112-cloud_transcoder_status-payload.json",
        "17-ct-113-cloud_transcoder_updated-payload.json",
    ] {
        let raw = fixture_json(name);
        let p: TranscoderPayload = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(p.details.state.as_deref(), Some("running"));
        assert_eq!(serde_json::to_value(&p).unwrap(), raw, "{name} round trip");
    }
}
