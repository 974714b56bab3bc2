//! One case per documented event type (spec §6.1): details in, typed fields
//! out, and `to_details(parse(d)) == d` including a field Agora may add later.

use agora_ncs::{event_name, RecordingEvent as E, EVENT_TYPES};
use serde_json::{json, Value};

/// Parse `details` (plus an unknown field) as `event_type`, check the round
/// trip and the name, and hand the event to `check`.
fn case(event_type: u32, mut details: Value, check: impl FnOnce(&E)) {
    details["futureField"] = json!({"added": "later"});
    let event = E::parse(event_type, &details);
    assert!(
        !matches!(event, E::Unknown { .. }),
        "{event_type}: {event:?}"
    );
    assert_eq!(event.event_type(), event_type);
    assert_eq!(Some(event.name()), event_name(event_type));
    assert_eq!(event.to_details(), details, "{event_type} round trip");
    check(&event);
}

#[test]
fn service_events() {
    case(
        1,
        json!({"msgName": "cloud_recording_error", "module": 1, "errorLevel": 5, "errorCode": 47, "stat": 1, "errorMsg": "upload failed"}),
        |e| {
            let E::Error(d) = e else { panic!("{e:?}") };
            assert_eq!(
                (d.module, d.error_level, d.error_code, d.stat),
                (Some(1), Some(5), Some(47), Some(1))
            );
            assert_eq!(d.error_msg.as_deref(), Some("upload failed"));
            assert_eq!(d.extra["futureField"], json!({"added": "later"}));
        },
    );
    case(
        2,
        json!({"msgName": "cloud_recording_warning", "module": 1, "warnCode": 31}),
        |e| {
            let E::Warning(d) = e else { panic!("{e:?}") };
            assert_eq!((d.module, d.warn_code), (Some(1), Some(31)));
        },
    );
    case(
        3,
        json!({"msgName": "cloud_recording_status_update", "status": 20, "recordingMode": 1, "fileList": "a.m3u8"}),
        |e| {
            let E::StatusUpdate(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(
                (d.status, d.recording_mode, d.file_list.as_deref()),
                (Some(20), Some(1), Some("a.m3u8"))
            );
        },
    );
    case(
        4,
        json!({"msgName": "cloud_recording_file_infos", "fileList": "sid_cname.m3u8"}),
        |e| {
            let E::FileInfos(d) = e else { panic!("{e:?}") };
            assert_eq!(d.file_list.as_deref(), Some("sid_cname.m3u8"));
        },
    );
    case(
        11,
        json!({"msgName": "session_exit", "exitStatus": 1}),
        |e| {
            let E::SessionExit(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(d.exit_status, Some(1));
        },
    );
    case(
        12,
        json!({"msgName": "session_failover", "newUid": 2839174}),
        |e| {
            let E::SessionFailover(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(d.new_uid, Some(2839174));
        },
    );
}

#[test]
fn uploader_events() {
    case(
        30,
        json!({"msgName": "uploader_started", "status": 0}),
        |e| {
            let E::UploaderStarted(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(d.status, Some(0));
        },
    );
    let list = json!([{"fileName": "a.m3u8", "trackType": "video", "uid": "9", "mixedAllUser": false, "isPlayable": true, "sliceStartTime": 5, "size": 10}]);
    case(
        31,
        json!({"msgName": "uploaded", "status": 0, "fileList": list}),
        |e| {
            let E::Uploaded(d) = e else { panic!("{e:?}") };
            let f = &d.file_list.as_ref().unwrap()[0];
            assert_eq!(
                (f.track_type.as_deref(), f.uid.as_deref(), f.is_playable),
                (Some("video"), Some("9"), Some(true))
            );
            assert_eq!(f.extra["size"], json!(10), "unknown file field kept");
        },
    );
    case(
        32,
        json!({"msgName": "backuped", "status": 0, "fileList": list}),
        |e| {
            assert!(matches!(e, E::Backuped(d) if d.file_list.as_ref().unwrap().len() == 1));
        },
    );
    case(
        33,
        json!({"msgName": "uploading_progress", "progress": 10000}),
        |e| {
            let E::UploadingProgress(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(d.progress, Some(10000));
        },
    );
}

#[test]
fn recorder_events() {
    case(
        40,
        json!({"msgName": "recorder_started", "status": 0}),
        |e| assert!(matches!(e, E::RecorderStarted(d) if d.status == Some(0))),
    );
    case(
        41,
        json!({"msgName": "recorder_leave", "leaveCode": 24}),
        |e| {
            let E::RecorderLeave(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(d.leave_code, Some(24));
        },
    );
    case(
        42,
        json!({"msgName": "recorder_slice_start", "startUtcMs": 100, "discontinueUtcMs": 90, "mixedAllUser": true, "streamUid": "0", "trackType": "audio_and_video"}),
        |e| {
            let E::SliceStart(d) = e else { panic!("{e:?}") };
            assert_eq!(
                (d.start_utc_ms, d.discontinue_utc_ms, d.mixed_all_user),
                (Some(100), Some(90), Some(true))
            );
            assert_eq!(
                (d.stream_uid.as_deref(), d.track_type.as_deref()),
                (Some("0"), Some("audio_and_video"))
            );
        },
    );
    case(
        43,
        json!({"msgName": "recorder_audio_stream_state_changed", "streamUid": "77", "state": 1, "UtcMs": 123}),
        |e| {
            let E::AudioStreamStateChanged(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(
                (d.stream_uid.as_deref(), d.state, d.utc_ms),
                (Some("77"), Some(1), Some(123))
            );
        },
    );
    case(
        44,
        json!({"msgName": "recorder_video_stream_state_changed", "streamUid": "0", "state": 0, "UtcMs": 124}),
        |e| {
            assert!(
                matches!(e, E::VideoStreamStateChanged(d) if d.state == Some(0) && d.utc_ms == Some(124))
            );
        },
    );
    case(
        45,
        json!({"msgName": "recorder_snapshot_file", "fileName": "prefix/snap.jpg"}),
        |e| {
            assert!(
                matches!(e, E::SnapshotFile(d) if d.file_name.as_deref() == Some("prefix/snap.jpg"))
            );
        },
    );
}

#[test]
fn extension_events() {
    case(
        60,
        json!({"msgName": "vod_started", "aliVodInfo": {"videoId": "v-1", "other": 1}}),
        |e| {
            let E::VodStarted(d) = e else { panic!("{e:?}") };
            assert_eq!(
                d.ali_vod_info.as_ref().unwrap().video_id.as_deref(),
                Some("v-1")
            );
        },
    );
    case(61, json!({"msgName": "vod_triggered"}), |e| {
        assert!(matches!(e, E::VodTriggered(d) if d.msg_name.as_deref() == Some("vod_triggered")))
    });
    case(
        70,
        json!({"msgName": "web_recorder_started", "recorderStartTime": 1627613641393i64}),
        |e| {
            assert!(
                matches!(e, E::WebRecorderStarted(d) if d.recorder_start_time == Some(1627613641393))
            );
        },
    );
    case(
        71,
        json!({"msgName": "web_recorder_stopped", "code": 0, "message": "ok", "details": "stopped", "fileList": [{"fileName": "w.mp4", "sliceStartTime": 7}]}),
        |e| {
            let E::WebRecorderStopped(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(
                (d.code, d.message.as_deref(), d.details.as_deref()),
                (Some(0), Some("ok"), Some("stopped"))
            );
            assert_eq!(d.file_list.as_ref().unwrap()[0].slice_start_time, Some(7));
        },
    );
    case(
        72,
        json!({"msgName": "web_recorder_capability_limit", "limitType": "WebGL"}),
        |e| {
            assert!(
                matches!(e, E::WebRecorderCapabilityLimit(d) if d.limit_type.as_deref() == Some("WebGL"))
            );
        },
    );
    case(
        73,
        json!({"msgName": "web_recorder_reload", "reason": "audio_silence"}),
        |e| {
            assert!(
                matches!(e, E::WebRecorderReload(d) if d.reason.as_deref() == Some("audio_silence"))
            );
        },
    );
    case(
        100,
        json!({"msgName": "rtmp_publish_status", "rtmpUrl": "rtmp://x/y", "status": "publishing"}),
        |e| {
            let E::RtmpPublishStatus(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(
                (d.rtmp_url.as_deref(), d.status.as_deref()),
                (Some("rtmp://x/y"), Some("publishing"))
            );
        },
    );
}

#[test]
fn postponed_transcoding_events() {
    case(80, json!({"msgName": "transcoder_started"}), |e| {
        assert!(matches!(e, E::TranscoderStarted(_)))
    });
    case(
        81,
        json!({"msgName": "transcoder_completed", "result": "partial_success", "uids": [{"uid": "1", "result": "success", "fileList": [{"fileName": "1.mp4"}]}, {"uid": "2", "result": "fail"}]}),
        |e| {
            let E::TranscoderCompleted(d) = e else {
                panic!("{e:?}")
            };
            let uids = d.uids.as_ref().unwrap();
            assert_eq!(d.result.as_deref(), Some("partial_success"));
            assert_eq!(
                (uids[0].uid.as_deref(), uids[0].result.as_deref()),
                (Some("1"), Some("success"))
            );
            assert_eq!(
                uids[0].file_list.as_ref().unwrap()[0].file_name.as_deref(),
                Some("1.mp4")
            );
            assert_eq!(uids[1].file_list, None);
        },
    );
    case(
        90,
        json!({"msgName": "download_failed", "vendor": 1, "region": 3, "bucket": "b", "fileName": "a.m3u8;a_1.ts;"}),
        |e| {
            let E::DownloadFailed(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(
                (d.vendor, d.region, d.bucket.as_deref()),
                (Some(1), Some(3), Some("b"))
            );
            assert_eq!(d.file_names(), ["a.m3u8", "a_1.ts"]);
        },
    );
    case(
        1001,
        json!({"msgName": "postpone_transcode_final_result", "result": "total_success", "fileList": [{"fileName": "t.mp4"}]}),
        |e| {
            let E::PostponeTranscodeFinalResult(d) = e else {
                panic!("{e:?}")
            };
            assert_eq!(d.result.as_deref(), Some("total_success"));
        },
    );
}

#[test]
fn spellings_from_other_doc_vintages_are_accepted() {
    let E::AudioStreamStateChanged(d) =
        E::parse(43, &json!({"streamUid": 5, "state": "0", "utcMs": 9}))
    else {
        panic!()
    };
    assert_eq!(
        (d.stream_uid.as_deref(), d.state, d.utc_ms),
        (Some("5"), Some(0), Some(9))
    );
    let E::SessionExit(d) = E::parse(11, &json!({"leaveStatus": 0})) else {
        panic!()
    };
    assert_eq!(d.exit_status, Some(0));
    let E::DownloadFailed(d) = E::parse(90, &json!({"filename": "x.ts"})) else {
        panic!()
    };
    assert_eq!(d.file_name.as_deref(), Some("x.ts"));
    let E::PostponeTranscodeFinalResult(d) =
        E::parse(1001, &json!({"fileList": [{"filename": "y.mp4"}]}))
    else {
        panic!()
    };
    assert_eq!(d.file_list.unwrap()[0].file_name.as_deref(), Some("y.mp4"));
    let E::SessionFailover(d) = E::parse(12, &json!({"newUid": "42"})) else {
        panic!()
    };
    assert_eq!(d.new_uid, Some(42));
    let E::Uploaded(d) = E::parse(
        31,
        &json!({"fileList": [{"mixedAllUser": "true", "uid": 0}]}),
    ) else {
        panic!()
    };
    assert_eq!(d.file_list.as_ref().unwrap()[0].mixed_all_user, Some(true));
    assert_eq!(d.file_list.unwrap()[0].uid.as_deref(), Some("0"));
}

#[test]
fn what_does_not_fit_stays_raw() {
    let cases = [
        (13, json!({"msgName": "ha_register_success"})), // undocumented type
        (34, json!({"msgName": "STSExpired"})),
        (46, json!({})),
        (40, json!(null)), // not an object at all
        (40, json!([1, 2])),
        (61, json!("vod_triggered")),
    ];
    for (t, details) in cases {
        let e = E::parse(t, &details);
        assert_eq!(
            e,
            E::Unknown {
                event_type: t,
                details: details.clone()
            },
            "{t}: {details}"
        );
        assert_eq!((e.name(), e.event_type()), ("unknown", t));
        assert_eq!(e.to_details(), details);
    }
    // A documented type with a field of an impossible type keeps its type; the field reads as
    // absent and is noted.
    for (t, details, field) in [
        (31, json!({"status": {"x": 1}}), "status"),
        (41, json!({"leaveCode": "six"}), "leaveCode"),
        (43, json!({"state": 1.5}), "state"),
        (31, json!({"fileList": "a.m3u8"}), "fileList"),
    ] {
        let (e, dropped) = E::parse_noting(t, &details);
        assert_eq!(e.event_type(), t);
        assert_ne!(e.name(), "unknown", "{t}: {details}");
        assert_eq!(dropped, [field]);
    }
}

#[test]
fn catalogue_is_complete() {
    let documented = [
        1, 2, 3, 4, 11, 12, 30, 31, 32, 33, 40, 41, 42, 43, 44, 45, 60, 61, 70, 71, 72, 73, 80, 81,
        90, 100, 1001,
    ];
    assert_eq!(EVENT_TYPES, documented);
    for t in documented {
        // An empty object fits every documented type (all fields optional).
        assert_ne!(E::parse(t, &json!({})).name(), "unknown", "{t}");
    }
    for t in [0, 5, 13, 34, 46, 47, 110, 111, 112, 113] {
        assert_eq!(event_name(t), None, "{t}");
    }
    assert_eq!(event_name(41), Some("recorder_leave"));
    assert_eq!(event_name(1001), Some("postpone_transcode_final_result"));
}

#[test]
fn one_field_of_the_wrong_type_keeps_the_events_type_and_is_noted() {
    use agora_ncs::RecordingEvent;
    let details =
        serde_json::json!({"msgName": "session_exit", "exitStatus": {"oops": 1}, "extraField": 7});
    let (event, dropped) = RecordingEvent::parse_noting(11, &details);
    match event {
        RecordingEvent::SessionExit(d) => assert_eq!(d.exit_status, None),
        other => panic!("typed as {other:?}"),
    }
    assert_eq!(dropped, ["exitStatus"]);
    // 42 with a wrong-typed streamUid keeps its other fields.
    let details = serde_json::json!({"startUtcMs": 5, "streamUid": ["x"], "trackType": "audio"});
    let (event, dropped) = RecordingEvent::parse_noting(42, &details);
    match event {
        RecordingEvent::SliceStart(d) => {
            assert_eq!(
                (d.start_utc_ms, d.stream_uid, d.track_type.as_deref()),
                (Some(5), None, Some("audio"))
            );
        }
        other => panic!("typed as {other:?}"),
    }
    assert_eq!(dropped, ["streamUid"]);
    // A well-formed body notes nothing.
    assert!(
        RecordingEvent::parse_noting(11, &serde_json::json!({"exitStatus": 0}))
            .1
            .is_empty()
    );
}

#[test]
fn a_body_with_both_spellings_of_a_field_is_read() {
    use agora_ncs::RecordingEvent;
    let details = serde_json::json!({"streamUid": "7", "state": 0, "UtcMs": 100, "utcMs": 200});
    let (event, _) = RecordingEvent::parse_noting(43, &details);
    match event {
        RecordingEvent::AudioStreamStateChanged(d) => assert_eq!(d.utc_ms, Some(100)),
        other => panic!("typed as {other:?}"),
    }
    let details = serde_json::json!({"fileName": "p/a.jpg", "filename": "p/b.jpg"});
    assert!(matches!(
        RecordingEvent::parse(45, &details),
        RecordingEvent::SnapshotFile(_)
    ));
}
