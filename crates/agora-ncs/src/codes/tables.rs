//! The code tables themselves, as data (spec §5, §6.1, §7). Ascending by code.

pub const MODULE: &[(i64, &str)] = &[
    (0, "recorder"),
    (1, "uploader"),
    (2, "cloud recording service"),
    (6, "web page recording service"),
];

pub const ERROR_LEVEL: &[(i64, &str)] = &[
    (1, "debug"),
    (2, "minor"),
    (3, "medium"),
    (4, "major"),
    (5, "fatal: the service may exit; call query to check"),
];

pub const UPLOAD_ERROR: &[(i64, &str)] = &[
    (32, "third-party cloud storage configuration error"),
    (47, "recording file upload failed"),
    (51, "error while the uploader processed files"),
];

pub const UPLOAD_WARNING: &[(i64, &str)] = &[
    (31, "re-uploading a slice to your cloud storage"),
    (32, "re-uploading a slice to Agora Cloud Backup"),
];

pub const PLATFORM_ERROR: &[(i64, &str)] = &[
    (50, "upload timeout"),
    (52, "cloud recording service start timeout"),
];

pub const SERVICE_STATUS: &[(i64, &str)] = &[
    (0, "not started"),
    (1, "initialised"),
    (2, "recorder starting"),
    (3, "uploader ready"),
    (4, "recorder ready"),
    (5, "first file uploaded (recording)"),
    (6, "recording stopped"),
    (7, "service stopped"),
    (8, "ready to exit"),
    (20, "abnormal exit"),
];

pub const STREAM_STATE: &[(i64, &str)] = &[(0, "receiving"), (1, "not receiving")];

pub const SERVICE_TYPE: &[(i64, &str)] = &[
    (0, "cloud recording service"),
    (1, "recorder"),
    (2, "uploader"),
    (3, "content recognition (legacy)"),
    (4, "extension services (ApsaraVideo VoD)"),
    (6, "web page recording"),
    (7, "postponed transcoding"),
    (8, "download"),
];

/// REST response codes (S10 status-codes page and the deleted common-errors
/// page). Where the two pages use one number for two things, both are given.
pub const REST_STATUS: &[(i64, &str)] = &[
    (2, "invalid request parameters"),
    (
        7,
        "recording already running: duplicate start with the same resource ID",
    ),
    (
        8,
        "bad HTTP request header (content type, URL, method) or body not JSON",
    ),
    (
        49,
        "invalid operation: the task is already exiting (e.g. duplicate stop)",
    ),
    (
        53,
        "task conflict: a task with the same cname and uid already exists",
    ),
    (
        62,
        "request timeout (on acquire: cloud recording not enabled)",
    ),
    (
        65,
        "request not completed (network jitter); retry with backoff",
    ),
    (109, "RTC channel token expired"),
    (110, "RTC channel token invalid"),
    (400, "invalid App ID (acquire)"),
    (401, "invalid channel name (acquire)"),
    (
        404,
        "failed to find worker: the task does not exist or has exited",
    ),
    (405, "App status abnormal, e.g. overdue account (acquire)"),
    (406, "concurrent task limit exceeded (acquire)"),
    (432, "request parameter does not match the resource ID"),
    (
        433,
        "resource ID expired: start within 5 minutes of acquire",
    ),
    (435, "no recorded data: no user sent a stream"),
    (500, "internal server error"),
    (
        501,
        "no resources available (acquire), or the recording service is exiting",
    ),
    (502, "failed to allocate worker"),
    (504, "allocation timed out (acquire)"),
    (1001, "failed to parse the resource ID"),
    (1003, "App ID or sid does not match the resource ID"),
    (1013, "invalid channel name"),
    (1028, "invalid updateLayout parameters"),
];

pub const WEB_RECORDER_STOP: &[(i64, &str)] = &[
    (0, "ok: stopped by the user"),
    (1, "max_recording_hour: maximum recording length reached"),
    (2, "capability_limit: the page uses an unsupported feature"),
    (3, "start_engine_failed"),
    (4, "page_load_timeout"),
    (5, "access_url_failed"),
    (6, "recorder_error"),
];
