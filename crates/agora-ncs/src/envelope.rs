//! The NCS envelope (spec §2): the outer JSON object of every callback.
//!
//! Parsing is lenient where Agora is inconsistent (ids as numeric strings,
//! the legacy ≤1.2.0 field names) and strict where a wrong value means we
//! cannot route the event at all. Errors name the field and what was found,
//! because a person reads them when a body is parked.
//!
//! Nothing is lost: every top-level field we do not model lands in `extra`
//! and [`Envelope::to_value`] writes it back.

use crate::lenient::parse_i64;
use crate::notice::{classify, Notice};
use serde_json::{Map, Value};

/// Product id of Cloud Recording; also assumed for legacy envelopes, which
/// predate `productId` (spec §2.3).
pub const CLOUD_RECORDING: u32 = 3;

/// One NCS notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `noticeId`, or legacy `notificationId`. Stable across resends.
    pub notice_id: String,
    /// `productId`; a legacy envelope without one is Cloud Recording (3).
    pub product_id: u32,
    pub event_type: u32,
    /// `notifyMs`: when NCS sent this delivery (changes on every resend).
    pub notify_ms: Option<i64>,
    /// Optional top-level `sid` (documented for RTC/STT, seen for CR).
    pub sid: Option<String>,
    pub payload: Map<String, Value>,
    /// True when the id came as `notificationId` (Cloud Recording REST ≤ 1.2.0).
    pub legacy: bool,
    /// Every other top-level field, in wire order (e.g. legacy `eventMs`, or a
    /// `null` `notifyMs`/`sid`, which we treat as absent but keep verbatim).
    pub extra: Map<String, Value>,
}

/// Why a body is not a usable NCS envelope.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum EnvelopeError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body is JSON but not an object (found {0}); NCS sends one JSON object per request")]
    NotObject(&'static str),
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` must be {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
}

const EXPECT_ID: &str = "a non-empty string";
const EXPECT_U32: &str =
    "a non-negative integer up to 4294967295 (a number, or a string of digits)";
const EXPECT_MS: &str = "an integer of Unix milliseconds (a number, or a string holding one)";

impl Envelope {
    /// Parse raw bytes (after the signature was checked on those same bytes).
    pub fn from_slice(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(EnvelopeError::NotJson("the body is empty".into()));
        }
        // serde_json keeps its recursion limit (128), so hostile nesting is an
        // error here, not a stack overflow.
        let value: Value =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        Self::from_value(value)
    }

    /// Validate an already-parsed JSON value.
    pub fn from_value(value: Value) -> Result<Envelope, EnvelopeError> {
        let mut map = match value {
            Value::Object(map) => map,
            other => return Err(EnvelopeError::NotObject(kind(&other))),
        };
        let (notice_id, legacy) = if let Some(v) = map.shift_remove("noticeId") {
            (notice_id("noticeId", v)?, false)
        } else if let Some(v) = map.shift_remove("notificationId") {
            (notice_id("notificationId", v)?, true)
        } else {
            return Err(EnvelopeError::Missing("noticeId"));
        };
        let product_id = match map.shift_remove("productId") {
            Some(v) => to_u32("productId", &v)?,
            None if legacy => CLOUD_RECORDING,
            None => return Err(EnvelopeError::Missing("productId")),
        };
        let event_type = match map.shift_remove("eventType") {
            Some(v) => to_u32("eventType", &v)?,
            None => return Err(EnvelopeError::Missing("eventType")),
        };
        let payload = match map.shift_remove("payload") {
            Some(Value::Object(p)) => p,
            Some(other) => return Err(wrong("payload", "an object", &other)),
            None => return Err(EnvelopeError::Missing("payload")),
        };
        let notify_ms = match map.get("notifyMs") {
            None | Some(Value::Null) => None,
            Some(v) => Some(to_i64("notifyMs", v)?),
        };
        if notify_ms.is_some() {
            map.shift_remove("notifyMs");
        }
        let sid = match map.get("sid") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => return Err(wrong("sid", "a string", other)),
        };
        if sid.is_some() {
            map.shift_remove("sid");
        }
        Ok(Envelope {
            notice_id,
            product_id,
            event_type,
            notify_ms,
            sid,
            payload,
            legacy,
            extra: map,
        })
    }

    /// Serialise back to JSON with every field, under its wire name.
    ///
    /// A legacy envelope keeps `notificationId` and gets no `productId` when it
    /// is the implied 3 (so a real legacy body round-trips; the one loss is an
    /// explicit `"productId":3` on a legacy body, a shape no doc shows).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        let id_key = if self.legacy {
            "notificationId"
        } else {
            "noticeId"
        };
        m.insert(id_key.into(), Value::String(self.notice_id.clone()));
        if !self.legacy || self.product_id != CLOUD_RECORDING {
            m.insert("productId".into(), self.product_id.into());
        }
        m.insert("eventType".into(), self.event_type.into());
        if let Some(ms) = self.notify_ms {
            m.insert("notifyMs".into(), ms.into());
        }
        if let Some(sid) = &self.sid {
            m.insert("sid".into(), Value::String(sid.clone()));
        }
        m.insert("payload".into(), Value::Object(self.payload.clone()));
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(m)
    }

    /// Classify the payload by (product, event type); see [`Notice`].
    pub fn notice(&self) -> Notice {
        classify(self.product_id, self.event_type, &self.payload)
    }

    /// The session id: `payload.sid` if a non-empty string, else top-level `sid`.
    pub fn session_id(&self) -> Option<&str> {
        self.payload
            .get("sid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| self.sid.as_deref().filter(|s| !s.is_empty()))
    }

    /// True for the canned events of the Console "Check" button (spec §4:
    /// `cname`/`channelName` `"test_webhook"`). They must be acked like any other.
    pub fn is_health_check(&self) -> bool {
        ["cname", "channelName"]
            .iter()
            .any(|k| self.payload.get(*k).and_then(Value::as_str) == Some("test_webhook"))
    }
}

fn notice_id(field: &'static str, v: Value) -> Result<String, EnvelopeError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s),
        other => Err(wrong(field, EXPECT_ID, &other)),
    }
}

fn to_u32(field: &'static str, v: &Value) -> Result<u32, EnvelopeError> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        // Only plain digits: "+3", " 3" or "-0" are not what NCS sends.
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    };
    n.and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong(field, EXPECT_U32, v))
}

fn to_i64(field: &'static str, v: &Value) -> Result<i64, EnvelopeError> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_i64(s),
        _ => None,
    }
    .ok_or_else(|| wrong(field, EXPECT_MS, v))
}

fn wrong(field: &'static str, expected: &'static str, found: &Value) -> EnvelopeError {
    EnvelopeError::WrongType {
        field,
        expected,
        found: describe(found),
    }
}

/// The JSON kind of a value, as an English noun phrase.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The kind plus the value for scalars, so the error shows what came.
fn describe(v: &Value) -> String {
    match v {
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.is_empty() => "an empty string".into(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("the string {:?}…", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("the string {s:?}"),
        other => kind(other).into(),
    }
}
