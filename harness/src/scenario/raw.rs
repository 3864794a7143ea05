//! Raw scenario types: exactly what a scenario file may say, deserialized with serde
//! (`deny_unknown_fields` everywhere). Durations and counts stay loosely typed here so that the
//! validator can report every bad value at once instead of stopping at the first.

use crate::steps::{KINDS, RawAction};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

pub use crate::check::ScalarString;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub cluster: ClusterNeeds,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDef>,
    #[serde(default)]
    pub timeouts: Timeouts,
    pub steps: Vec<RawStep>,
    #[serde(default)]
    pub finally: Vec<RawStep>,
    /// Conditions watched for the whole run.
    #[serde(default)]
    pub guards: Vec<crate::guards::RawGuard>,
}

/// What the scenario needs from a cluster. `required: false` marks a scenario that only talks to
/// static endpoints (no Kubernetes at all).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterNeeds {
    #[serde(default = "yes")]
    pub required: bool,
    /// Worker nodes needed (DaemonSet-per-node and anti-affinity flows need several).
    #[serde(default)]
    pub workers: Option<i64>,
    #[serde(default)]
    pub kubernetes: Option<VersionRange>,
}

fn yes() -> bool {
    true
}

impl Default for ClusterNeeds {
    fn default() -> Self {
        Self {
            required: true,
            workers: None,
            kubernetes: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRange {
    pub min: Option<String>,
    pub max: Option<String>,
}

/// A variable: a plain scalar, or `{ value | env, default, secret }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariableDef {
    pub value: Option<String>,
    pub env: Option<String>,
    pub default: Option<String>,
    /// Secret values are masked in every log, plan and report.
    pub secret: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct VariableDefMap {
    value: Option<ScalarString>,
    env: Option<String>,
    default: Option<ScalarString>,
    #[serde(default)]
    secret: bool,
}

/// A variable: a scalar, or a map with `value`, `env`, `default`, `secret`.
impl schemars::JsonSchema for VariableDef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Variable".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let scalar = generator.subschema_for::<ScalarString>();
        let map = generator.subschema_for::<VariableDefMap>();
        schemars::json_schema!({"anyOf": [scalar, map]})
    }
}

impl<'de> Deserialize<'de> for VariableDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VariableDef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar value or a map with `value`, `env`, `default`, `secret`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VariableDef, E> {
                Ok(VariableDef {
                    value: Some(v.to_string()),
                    ..Default::default()
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<VariableDef, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VariableDef, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<VariableDef, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<VariableDef, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<VariableDef, A::Error> {
                let m = VariableDefMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(VariableDef {
                    value: m.value.map(|s| s.0),
                    env: m.env,
                    default: m.default.map(|s| s.0),
                    secret: m.secret,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Timeouts as written: `scenario` bounds the whole run of steps, `step` is the default per step,
/// and a step kind's name (`wait: 10m`) overrides `step` for that kind. Checked by the validator
/// against the registered kinds.
pub type Timeouts = BTreeMap<String, String>;

/// One step: common keys plus exactly one step-kind key.
#[derive(Debug, Clone)]
pub struct RawStep {
    pub id: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<String>,
    pub continue_on_error: bool,
    pub retry: Option<RawRetry>,
    pub action: RawAction,
}

/// `retry: { every: 2s, for: 1m }`: repeat a failing `exec` or `verify` until it passes or the
/// time is up.
#[derive(Debug, Clone, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub every: String,
    #[serde(rename = "for")]
    pub for_: String,
}

/// A step: its common keys and exactly one kind, from the step registry.
impl schemars::JsonSchema for RawStep {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut properties = serde_json::Map::new();
        properties.insert(
            "id".into(),
            serde_json::json!({"type": "string", "pattern": "^[a-z0-9-]+$"}),
        );
        properties.insert("description".into(), serde_json::json!({"type": "string"}));
        properties.insert(
            "timeout".into(),
            serde_json::json!({"type": "string", "description": "a duration such as 90s or 5m"}),
        );
        properties.insert(
            "continue_on_error".into(),
            serde_json::json!({"type": "boolean"}),
        );
        properties.insert(
            "retry".into(),
            generator.subschema_for::<RawRetry>().to_value(),
        );
        let mut one_kind = vec![];
        for (kind, schema) in crate::steps::kind_schemas(generator) {
            properties.insert(kind.into(), schema.to_value());
            one_kind.push(serde_json::json!({"required": [kind]}));
        }
        schemars::json_schema!({
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
            "oneOf": one_kind
        })
    }
}

const STEP_COMMON_KEYS: [&str; 5] = ["id", "description", "timeout", "continue_on_error", "retry"];

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStep;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a step: a map with one of `{}`", KINDS.join("`, `"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawStep, A::Error> {
                let (mut id, mut description, mut timeout, mut continue_on_error) =
                    (None, None, None, false);
                let mut retry = None;
                let mut action_seen: Option<RawAction> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "id" => {
                            id = Some(map.next_value()?);
                            continue;
                        }
                        "description" => {
                            description = Some(map.next_value()?);
                            continue;
                        }
                        "timeout" => {
                            timeout = Some(map.next_value()?);
                            continue;
                        }
                        "continue_on_error" => {
                            continue_on_error = map.next_value()?;
                            continue;
                        }
                        "retry" => {
                            retry = Some(map.next_value()?);
                            continue;
                        }
                        other => {
                            if let Some(action) = RawAction::next_value(other, &mut map) {
                                let next = action?;
                                if let Some(previous) = &action_seen {
                                    return Err(de::Error::custom(format!(
                                        "a step has exactly one kind, but this one has both `{}` and `{}`",
                                        previous.kind(),
                                        next.kind()
                                    )));
                                }
                                action_seen = Some(next);
                                continue;
                            }
                            let known = STEP_COMMON_KEYS.iter().chain(KINDS.iter()).copied();
                            let hint = crate::diag::hint(other, known);
                            return Err(de::Error::custom(format!(
                                "unknown step key `{other}`{hint}; a step takes one of `{}` plus `{}`",
                                KINDS.join("`, `"),
                                STEP_COMMON_KEYS.join("`, `")
                            )));
                        }
                    }
                }
                let action = action_seen.ok_or_else(|| {
                    de::Error::custom(format!(
                        "this step has no kind: add one of `{}`",
                        KINDS.join("`, `")
                    ))
                })?;
                Ok(RawStep {
                    id,
                    description,
                    timeout,
                    continue_on_error,
                    retry,
                    action,
                })
            }
        }
        d.deserialize_map(V)
    }
}
