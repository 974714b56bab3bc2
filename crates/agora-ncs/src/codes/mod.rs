//! Agora's code tables (spec §7, plus the small enums of §5/§6.1), with an
//! English description for each code, so logs, the API and the CLI can say
//! what a number means instead of echoing it.

mod leave;
mod tables;

pub use leave::{leave_reason_description, leave_reasons, LEAVE_CODES};

/// Which table a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// `module` of events 1/2.
    Module,
    /// `errorLevel` of event 1.
    ErrorLevel,
    /// `errorCode` of event 1 with module 1 (§7.1).
    UploadError,
    /// `warnCode` of event 2 with module 1 (§7.2).
    UploadWarning,
    /// `errorCode` of event 1 with module 2 (§7.3).
    PlatformError,
    /// Service status: event 3 `status`, REST `query` (§7.4).
    ServiceStatus,
    /// `state` of events 43/44.
    StreamState,
    /// `payload.serviceType` (§5).
    ServiceType,
    /// REST response codes, also `errorCode` of event 1 for other modules (§7.5).
    RestStatus,
    /// `code` of event 71.
    WebRecorderStop,
    /// Single flags of event 41 `leaveCode` (decode a mask with [`leave_reasons`]).
    LeaveCode,
}

const ALL: &[CodeKind] = &[
    CodeKind::Module,
    CodeKind::ErrorLevel,
    CodeKind::UploadError,
    CodeKind::UploadWarning,
    CodeKind::PlatformError,
    CodeKind::ServiceStatus,
    CodeKind::StreamState,
    CodeKind::ServiceType,
    CodeKind::RestStatus,
    CodeKind::WebRecorderStop,
    CodeKind::LeaveCode,
];

impl CodeKind {
    /// Parse the kebab-case name used on the command line.
    pub fn from_name(s: &str) -> Option<CodeKind> {
        ALL.iter().copied().find(|k| k.name() == s)
    }

    /// Kebab-case name, as accepted by [`CodeKind::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            CodeKind::Module => "module",
            CodeKind::ErrorLevel => "error-level",
            CodeKind::UploadError => "upload-error",
            CodeKind::UploadWarning => "upload-warning",
            CodeKind::PlatformError => "platform-error",
            CodeKind::ServiceStatus => "status",
            CodeKind::StreamState => "stream-state",
            CodeKind::ServiceType => "service-type",
            CodeKind::RestStatus => "error-code",
            CodeKind::WebRecorderStop => "web-stop-code",
            CodeKind::LeaveCode => "leave-code",
        }
    }

    pub fn all() -> &'static [CodeKind] {
        ALL
    }

    /// The whole table, ascending by code (for listing).
    pub fn table(self) -> &'static [(i64, &'static str)] {
        match self {
            CodeKind::Module => tables::MODULE,
            CodeKind::ErrorLevel => tables::ERROR_LEVEL,
            CodeKind::UploadError => tables::UPLOAD_ERROR,
            CodeKind::UploadWarning => tables::UPLOAD_WARNING,
            CodeKind::PlatformError => tables::PLATFORM_ERROR,
            CodeKind::ServiceStatus => tables::SERVICE_STATUS,
            CodeKind::StreamState => tables::STREAM_STATE,
            CodeKind::ServiceType => tables::SERVICE_TYPE,
            CodeKind::RestStatus => tables::REST_STATUS,
            CodeKind::WebRecorderStop => tables::WEB_RECORDER_STOP,
            CodeKind::LeaveCode => LEAVE_CODES,
        }
    }
}

/// Describe `code` in `kind`'s table; `None` when the table has no such code.
/// For [`CodeKind::LeaveCode`] only single flags are described; use
/// [`leave_reasons`] for a mask.
pub fn describe(kind: CodeKind, code: i64) -> Option<&'static str> {
    kind.table()
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, d)| *d)
}

/// The table an event-1 `errorCode` belongs to depends on its `module`:
/// 1 uploader → upload errors, 2 service → platform errors, else REST codes.
pub fn error_table(module: Option<i64>) -> CodeKind {
    match module {
        Some(1) => CodeKind::UploadError,
        Some(2) => CodeKind::PlatformError,
        _ => CodeKind::RestStatus,
    }
}

/// Describe an event-1 `errorCode` using the table of its `module`.
pub fn describe_error(module: Option<i64>, code: i64) -> Option<&'static str> {
    describe(error_table(module), code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for k in CodeKind::all() {
            assert_eq!(CodeKind::from_name(k.name()), Some(*k));
        }
        let mut names: Vec<_> = CodeKind::all().iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CodeKind::all().len());
        assert_eq!(
            CodeKind::from_name("error-code"),
            Some(CodeKind::RestStatus)
        );
        assert_eq!(CodeKind::from_name("status"), Some(CodeKind::ServiceStatus));
        assert_eq!(CodeKind::from_name("Status"), None);
    }

    #[test]
    fn tables_are_ascending_without_duplicates() {
        for k in CodeKind::all() {
            let t = k.table();
            assert!(!t.is_empty(), "{} is empty", k.name());
            assert!(
                t.windows(2).all(|w| w[0].0 < w[1].0),
                "{} not ascending",
                k.name()
            );
        }
    }

    #[test]
    fn service_status_table_matches_spec() {
        let want = [
            (0, "not started"),
            (1, "initialised"),
            (2, "recorder starting"),
            (3, "uploader ready"),
            (4, "recorder ready"),
            (5, "first file uploaded"),
            (6, "recording stopped"),
            (7, "service stopped"),
            (8, "ready to exit"),
            (20, "abnormal exit"),
        ];
        for (code, words) in want {
            let d = describe(CodeKind::ServiceStatus, code).unwrap();
            assert!(d.to_lowercase().contains(words), "{code}: {d}");
        }
        assert_eq!(describe(CodeKind::ServiceStatus, 9), None);
        assert_eq!(CodeKind::ServiceStatus.table().len(), 10);
    }

    #[test]
    fn stream_state_and_rest_codes() {
        assert!(describe(CodeKind::StreamState, 0)
            .unwrap()
            .contains("receiving"));
        assert!(describe(CodeKind::StreamState, 1)
            .unwrap()
            .contains("not receiving"));
        for code in [
            2, 7, 8, 49, 53, 62, 65, 109, 110, 404, 432, 433, 435, 501, 1001, 1003, 1013, 1028,
        ] {
            assert!(
                describe(CodeKind::RestStatus, code).is_some(),
                "REST {code}"
            );
        }
    }

    #[test]
    fn error_code_table_depends_on_module() {
        assert!(describe_error(Some(1), 47).unwrap().contains("upload"));
        assert!(describe_error(Some(2), 52)
            .unwrap()
            .contains("start timeout"));
        assert!(describe_error(Some(0), 53).unwrap().contains("conflict"));
        assert!(describe_error(None, 2)
            .unwrap()
            .contains("invalid request parameters"));
        // 47 is only an upload error; under module 2 it is unknown.
        assert_eq!(describe_error(Some(2), 47), None);
        assert_eq!(describe_error(Some(1), 53), None);
    }
}
