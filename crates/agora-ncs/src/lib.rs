//! The Agora Notification Center Service (NCS) protocol, as a receiver sees it.
//!
//! This crate is the one place that knows what Agora sends: the envelope
//! ([`Envelope`]), the Cloud Recording payload and its typed events
//! ([`RecordingEvent`]), the Cloud Transcoder payload, the code tables
//! ([`codes`]) and the request signatures ([`signature`]). It does no I/O and
//! pulls in no runtime, so the service, the simulator and tests share the very
//! same parsing and signing code.
//!
//! Parsing is lenient wherever Agora's documentation disagrees with itself
//! (numbers sent as strings, `fileName`/`filename`, ...) and every field we do
//! not know survives a round trip, because Agora adds fields without notice.

pub mod codes;
pub mod envelope;
pub mod events;
pub mod lenient;
pub mod notice;
pub mod payload;
pub mod signature;
pub mod transcoder;

/// The channel name of the test deliveries Agora Console's "Check" button sends, one per
/// subscribed event type (spec §4). They must be answered 200 but describe no recording.
pub const HEALTH_CHECK_CNAME: &str = "test_webhook";

pub use codes::{describe, describe_error, leave_reason_description, leave_reasons, CodeKind};
pub use envelope::{Envelope, EnvelopeError};
pub use events::*;
pub use notice::{Notice, RecordingNotice};
pub use payload::RecordingPayload;
pub use signature::{sign, verify, Algorithm, Secret, VerifyError, HEADER_V1, HEADER_V2};
pub use transcoder::{TranscoderDetails, TranscoderPayload};
