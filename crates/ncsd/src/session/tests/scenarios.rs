//! Whole sessions, and the parts of the state built from several events.

use super::session;
use crate::session::*;
use serde_json::json;

#[test]
fn files_come_from_upload_reports_or_else_event_4() {
    let m3u8 = session(&[
        (4, json!({"fileList": "s_room.m3u8"})),
        (4, json!({"fileList": "s_room.m3u8"})),
    ]);
    let s = fold("s", &m3u8);
    assert_eq!(
        serde_json::to_value(&s.files).unwrap(),
        json!([{"fileName": "s_room.m3u8"}])
    );

    let entry = json!({"fileName": "a.m3u8", "trackType": "audio", "uid": "7", "mixedAllUser": false, "isPlayable": true, "sliceStartTime": 9});
    let list = json!([entry, {"fileName": "a.m3u8", "uid": "8"}]);
    let s = fold(
        "s",
        &session(&[
            (4, json!({"fileList": "a.m3u8"})),
            (31, json!({"status": 0, "fileList": list})),
            (
                32,
                json!({"status": "0", "fileList": [{"filename": "a.m3u8", "uid": "7"}, {"fileName": "b.mp4", "uid": "7"}]}),
            ),
        ]),
    );
    let names: Vec<(Option<&str>, Option<&str>)> = s
        .files
        .iter()
        .map(|f| (f.file_name.as_deref(), f.uid.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            (Some("a.m3u8"), Some("7")),
            (Some("a.m3u8"), Some("8")),
            (Some("b.mp4"), Some("7"))
        ]
    );
    assert_eq!(
        serde_json::to_value(&s.files[0]).unwrap(),
        entry,
        "Agora's field names"
    );
    assert!(s.upload.uploaded && s.upload.backuped);
}

#[test]
fn errors_and_warnings_are_decoded() {
    let s = fold(
        "s",
        &session(&[
            (
                1,
                json!({"module": 1, "errorLevel": 4, "errorCode": 47, "stat": 1, "errorMsg": "upload failed"}),
            ),
            (1, json!({"module": 2, "errorLevel": 3, "errorCode": 52})),
            (1, json!({"module": 0, "errorLevel": 3, "errorCode": 53})),
            (1, json!({"module": 0, "errorLevel": 3, "errorCode": 999})),
            (2, json!({"module": 1, "warnCode": 32})),
            (2, json!({"module": 0, "warnCode": 32})),
        ]),
    );
    let d: Vec<Option<&str>> = s.errors.iter().map(|e| e.description).collect();
    assert_eq!(d[0], Some("recording file upload failed"));
    assert_eq!(d[1], Some("cloud recording service start timeout"));
    assert!(d[2].unwrap().contains("task conflict"));
    assert_eq!(d[3], None);
    assert_eq!(
        (s.errors[0].sequence, s.errors[0].sendts, s.errors[0].stat),
        (Some(0), Some(1_000_000), Some(1))
    );
    assert_eq!(s.errors[0].error_msg.as_deref(), Some("upload failed"));
    assert_eq!(
        s.warnings[0].description,
        Some("re-uploading a slice to Agora Cloud Backup")
    );
    assert_eq!(
        s.warnings[1].description, None,
        "recorder warn codes are SDK codes, not in our tables"
    );
}

#[test]
fn extension_services() {
    let s = fold(
        "s",
        &session(&[
            (60, json!({"aliVodInfo": {"videoId": "v1"}})),
            (61, json!({})),
            (70, json!({"recorderStartTime": 123})),
            (72, json!({"limitType": "WebGL"})),
            (73, json!({"reason": "audio_silence"})),
            (100, json!({"rtmpUrl": "rtmp://b", "status": "connecting"})),
            (100, json!({"rtmpUrl": "rtmp://a", "status": "publishing"})),
            (100, json!({"rtmpUrl": "rtmp://b", "status": "publishing"})),
            (
                71,
                json!({"code": 1, "message": "max_recording_hour", "details": "4h", "fileList": [{"filename": "w.m3u8", "sliceStartTime": 1}]}),
            ),
            (80, json!({})),
            (
                90,
                json!({"vendor": 1, "region": 2, "bucket": "bk", "filename": "a.ts;b.ts"}),
            ),
            (
                81,
                json!({"result": "partial_success", "uids": [{"uid": "1", "result": "fail"}]}),
            ),
            (
                1001,
                json!({"result": "partial_success", "fileList": [{"fileName": "t.mp4"}]}),
            ),
            (45, json!({"fileName": "p/1.jpg"})),
        ]),
    );
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["vod"], json!({"video_id": "v1", "triggered": true}));
    let web = &v["web_recorder"];
    assert_eq!(web["started_ms"], json!(123));
    assert_eq!(web["stopped"]["code"], json!(1));
    assert!(web["stopped"]["description"]
        .as_str()
        .unwrap()
        .starts_with("max_recording_hour"));
    assert_eq!(web["capability_limits"], json!(["WebGL"]));
    assert_eq!(web["reloads"], json!(["audio_silence"]));
    assert_eq!(web["rtmp"][0]["rtmp_url"], json!("rtmp://a"));
    assert_eq!(
        (
            web["rtmp"][1]["status"].as_str(),
            web["rtmp"][1]["since_ms"].as_i64()
        ),
        (Some("publishing"), Some(1_007_000))
    );
    let pt = &v["postponed_transcoding"];
    assert_eq!(
        (
            pt["started"].as_bool(),
            pt["result"].as_str(),
            pt["final_result"].as_str()
        ),
        (Some(true), Some("partial_success"), Some("partial_success"))
    );
    assert_eq!(pt["uids"], json!([{"uid": "1", "result": "fail"}]));
    assert_eq!(pt["download_failures"][0]["files"], json!(["a.ts", "b.ts"]));
    assert_eq!(v["snapshots"], json!(["p/1.jpg"]));
    let names: Vec<&str> = s
        .files
        .iter()
        .filter_map(|f| f.file_name.as_deref())
        .collect();
    assert_eq!(names, ["w.m3u8", "t.mp4"]);
    assert_eq!(s.phase, Phase::Completed, "71 with files");
}

/// The order a real handler logged (spec §4, G5): stream changes after 41 and
/// 11, two `4`s, and the upload report last.
#[test]
fn composite_recording_in_the_order_seen_in_real_traffic() {
    let av =
        |t: u32, state: i64, at: i64| (t, json!({"streamUid": "0", "state": state, "UtcMs": at}));
    let list = vec![
        (40, json!({"msgName": "recorder_started", "status": 0})),
        av(44, 0, 100),
        av(43, 0, 100),
        av(43, 1, 200),
        av(44, 1, 200),
        (4, json!({"fileList": "sid_room.m3u8"})),
        (4, json!({"fileList": "sid_room.m3u8"})),
        av(44, 0, 300),
        av(43, 0, 300),
        (
            42,
            json!({"startUtcMs": 310, "discontinueUtcMs": 310, "mixedAllUser": true, "streamUid": "0", "trackType": "audio_and_video"}),
        ),
        av(44, 1, 400),
        av(43, 1, 400),
        (41, json!({"leaveCode": 24})),
        av(43, 0, 500),
        av(44, 0, 500),
        av(44, 1, 600),
        (11, json!({"exitStatus": 0})),
        av(43, 1, 600),
        (
            31,
            json!({"status": 0, "fileList": [{"fileName": "sid_room.m3u8", "trackType": "audio_and_video", "uid": "0", "mixedAllUser": true, "isPlayable": true, "sliceStartTime": 310}]}),
        ),
    ];
    let events = session(&list);
    let s = fold("s", &events);
    assert_eq!(s.phase, Phase::Completed);
    assert_eq!(
        (s.event_count, s.max_sequence, s.missing_count),
        (19, Some(18), 0)
    );
    assert_eq!(
        (s.cname.as_deref(), s.uid.as_deref()),
        (Some("room"), Some("100"))
    );
    assert_eq!(
        (s.first_event_ms, s.last_event_ms),
        (Some(1_000_000), Some(1_018_000))
    );
    assert_eq!((s.exit_status, s.recorder.leave_code), (Some(0), Some(24)));
    assert!(s.upload.uploaded && !s.upload.backuped);
    assert_eq!(s.slices.len(), 1);
    assert_eq!(
        (
            s.slices[0].sequence,
            s.slices[0].start_ms,
            s.slices[0].mixed_all_user
        ),
        (Some(9), Some(310), Some(true))
    );
    let streams: Vec<(&str, bool, Option<i64>)> = s
        .streams
        .iter()
        .map(|x| (x.kind, x.receiving, x.since_ms))
        .collect();
    assert_eq!(
        streams,
        [("audio", false, Some(600)), ("video", false, Some(600))]
    );
    assert_eq!(s.files.len(), 1, "31's list replaces event 4's M3U8 name");

    // The contract's JSON field names.
    let v = serde_json::to_value(&s).unwrap();
    for key in [
        "sid",
        "cname",
        "uid",
        "phase",
        "status",
        "recording_mode",
        "event_count",
        "max_sequence",
        "missing_sequences",
        "first_event_ms",
        "last_event_ms",
        "recorder",
        "upload",
        "exit_status",
        "files",
        "slices",
        "streams",
        "failover_uids",
        "errors",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(v["phase"], json!("completed"));
    assert_eq!(
        v["recorder"],
        json!({"started_ms": 1_000_000, "leave_code": 24, "leave_reasons": ["LEAVE_CODE_TIMER_CATCH", "LEAVE_CODE_CLIENT_LEAVE"]})
    );
    assert_eq!(
        v["upload"],
        json!({"progress": null, "uploaded": true, "backuped": false})
    );
    assert_eq!(
        v["streams"][0],
        json!({"uid": "0", "kind": "audio", "receiving": false, "since_ms": 600})
    );
    assert_eq!(
        v["slices"][0],
        json!({"sequence": 9, "start_ms": 310, "discontinue_ms": 310, "stream_uid": "0", "track_type": "audio_and_video", "mixed_all_user": true})
    );
    assert!(v.get("vod").is_none() && v.get("web_recorder").is_none());

    // Delivered backwards, the state is the same.
    let mut reversed = events.clone();
    reversed.reverse();
    assert_eq!(fold("s", &reversed), s);
}

#[test]
fn failover_uids_in_sequence_order() {
    let mut events = session(&[
        (40, json!({})),
        (12, json!({"newUid": 555})),
        (12, json!({"newUid": "666"})),
    ]);
    events.swap(1, 2);
    events[2].uid = Some("555".into());
    let s = fold("s", &events);
    assert_eq!(s.failover_uids, [555, 666]);
    assert_eq!(
        s.uid.as_deref(),
        Some("100"),
        "the uid of the lowest sequence"
    );
}
