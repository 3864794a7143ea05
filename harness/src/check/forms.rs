//! Serde forms shared by raw specs: a YAML scalar read as text, durations written as text,
//! finite numbers.

use serde::Serialize;
use std::time::Duration;

/// A YAML scalar taken as text (`3`, `true` and `abc` are all fine as values to compare with).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ScalarString(pub String);

impl schemars::JsonSchema for ScalarString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "number", "boolean"]})
    }
}

impl<'de> serde::Deserialize<'de> for ScalarString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Serializes a typed duration as humantime text (`5m 30s`) in plans and reports.
/// Serializes an optional `Duration` as text.
pub fn opt_duration_text<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => duration_text(d, s),
        None => s.serialize_none(),
    }
}

pub fn duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// A number that is one: `.nan` and `.inf` are refused where they are read, with the key's
/// path (JSON, which the variables pass through, cannot hold them: a limit would silently turn
/// into none).
pub fn finite<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = <f64 as serde::Deserialize>::deserialize(d)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!("{v} is not a number")))
    }
}

/// [`finite`], when the key may be left out.
pub fn finite_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match <Option<f64> as serde::Deserialize>::deserialize(d)? {
        Some(v) if !v.is_finite() => Err(serde::de::Error::custom(format!("{v} is not a number"))),
        v => Ok(v),
    }
}
