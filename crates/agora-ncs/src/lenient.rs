//! Serde helpers for values Agora sends with inconsistent JSON types.
//!
//! Spec §9.2: numbers sometimes arrive as strings (`"status":"0"`), uids as
//! numbers where strings are documented, and so on. Each helper accepts the
//! documented type plus the obvious look-alike, maps `null` to `None`, and
//! rejects anything else (so a details object that really does not fit is
//! reported as such instead of being silently mangled).
//!
//! Use with `#[serde(default, deserialize_with = "lenient::opt_i64")]`.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// `Option<i64>` from an integer, an integral float, or a string holding an integer.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(I64Visitor)
}

/// `Option<bool>` from a boolean or the strings `"true"` / `"false"`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(BoolVisitor)
}

/// `Option<String>` from a string or a number (kept as its decimal text).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(StringVisitor)
}

/// Parse the text of an integer as Agora may send it (`"0"`, `" 12 "`).
pub fn parse_i64(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

struct I64Visitor;

impl<'de> Visitor<'de> for I64Visitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string holding an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `1.0` is an integer written oddly; `1.5` is not an integer at all.
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
            Ok(Some(v as i64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_i64(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean or \"true\"/\"false\"")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Type a details object that does not fit `T` as a whole: keep every field that fits and drop
/// the ones that do not (a wrong type, a second spelling of a field already read), so one bad
/// field does not cost the event its type. Returns the typed value, if even that fails, and the
/// names of the fields dropped.
pub fn salvage<T: serde::de::DeserializeOwned>(
    details: &serde_json::Map<String, serde_json::Value>,
) -> (Option<T>, Vec<String>) {
    let mut kept = serde_json::Map::new();
    let mut dropped = Vec::new();
    for (k, v) in details {
        kept.insert(k.clone(), v.clone());
        if T::deserialize(serde_json::Value::Object(kept.clone())).is_err() {
            kept.remove(k);
            dropped.push(k.clone());
        }
    }
    (
        T::deserialize(serde_json::Value::Object(kept)).ok(),
        dropped,
    )
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq)]
    struct T {
        #[serde(default, deserialize_with = "super::opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "super::opt_bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "super::opt_string")]
        s: Option<String>,
    }

    fn t(v: serde_json::Value) -> Result<T, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn accepts_documented_and_look_alike_types() {
        let got = t(json!({"n": "0", "b": "true", "s": 57297})).unwrap();
        assert_eq!(
            got,
            T {
                n: Some(0),
                b: Some(true),
                s: Some("57297".into())
            }
        );
        let got = t(json!({"n": -7, "b": false, "s": "x"})).unwrap();
        assert_eq!(
            got,
            T {
                n: Some(-7),
                b: Some(false),
                s: Some("x".into())
            }
        );
        assert_eq!(t(json!({"n": 3.0})).unwrap().n, Some(3));
        assert_eq!(t(json!({"n": " 12 "})).unwrap().n, Some(12));
    }

    #[test]
    fn null_and_absent_are_none() {
        assert_eq!(
            t(json!({"n": null, "b": null, "s": null})).unwrap(),
            t(json!({})).unwrap()
        );
        assert_eq!(t(json!({})).unwrap().n, None);
    }

    #[test]
    fn rejects_what_does_not_fit() {
        assert!(t(json!({"n": "abc"})).is_err());
        assert!(t(json!({"n": 1.5})).is_err());
        assert!(t(json!({"n": u64::MAX})).is_err());
        assert!(t(json!({"n": true})).is_err());
        assert!(t(json!({"b": "yes"})).is_err());
        assert!(t(json!({"b": 1})).is_err());
        assert!(t(json!({"s": {"a": 1}})).is_err());
        assert!(t(json!({"s": [1]})).is_err());
    }
}
