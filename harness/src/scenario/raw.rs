//! Raw scenario types: exactly what a scenario file may say, deserialized with serde
//! (`deny_unknown_fields` everywhere). Durations and counts stay loosely typed here so that the
//! validator can report every bad value at once instead of stopping at the first.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Deserialize)]
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
}

/// What the scenario needs from a cluster. `required: false` marks a scenario that only talks to
/// static endpoints (no Kubernetes at all).
#[derive(Debug, Clone, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariableDefMap {
    value: Option<ScalarString>,
    env: Option<String>,
    default: Option<ScalarString>,
    #[serde(default)]
    secret: bool,
}

/// A YAML scalar taken as text (`3`, `true` and `abc` are all fine as variable values).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ScalarString(pub String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        d.deserialize_any(V)
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
/// and a per-kind value overrides `step` for that kind.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub scenario: Option<String>,
    pub step: Option<String>,
    pub apply: Option<String>,
    pub delete: Option<String>,
    pub scale: Option<String>,
    pub wait: Option<String>,
    pub exec: Option<String>,
    pub fault: Option<String>,
    pub verify: Option<String>,
}

/// One step: common keys plus exactly one step-kind key.
#[derive(Debug, Clone)]
pub struct RawStep {
    pub id: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<String>,
    pub continue_on_error: bool,
    pub action: RawAction,
}

#[derive(Debug, Clone)]
pub enum RawAction {
    Apply(ApplySpec),
    Delete(DeleteSpec),
    Scale(ScaleSpec),
    Wait(WaitSpec),
    Exec(ExecSpec),
    Fault(FaultSpec),
    Verify(crate::verify::VerifySpec),
    Sleep(String),
}

impl RawAction {
    pub const KINDS: [&'static str; 8] = [
        "apply", "delete", "scale", "wait", "exec", "fault", "verify", "sleep",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            RawAction::Apply(_) => "apply",
            RawAction::Delete(_) => "delete",
            RawAction::Scale(_) => "scale",
            RawAction::Wait(_) => "wait",
            RawAction::Exec(_) => "exec",
            RawAction::Fault(_) => "fault",
            RawAction::Verify(_) => "verify",
            RawAction::Sleep(_) => "sleep",
        }
    }
}

/// An externally tagged enum written as a one-key map (`rollout: {...}`); serde_yaml 0.9 would
/// otherwise expect a YAML tag (`!rollout`).
struct Singleton<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Singleton<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_yaml::with::singleton_map::deserialize(d).map(Singleton)
    }
}

const STEP_COMMON_KEYS: [&str; 4] = ["id", "description", "timeout", "continue_on_error"];

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStep;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a step: a map with one of `{}`",
                    RawAction::KINDS.join("`, `")
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawStep, A::Error> {
                let (mut id, mut description, mut timeout, mut continue_on_error) =
                    (None, None, None, false);
                let mut action: Option<RawAction> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let next = match key.as_str() {
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
                        "apply" => RawAction::Apply(map.next_value()?),
                        "delete" => RawAction::Delete(map.next_value()?),
                        "scale" => RawAction::Scale(map.next_value()?),
                        "wait" => RawAction::Wait(map.next_value::<Singleton<_>>()?.0),
                        "exec" => RawAction::Exec(map.next_value()?),
                        "fault" => RawAction::Fault(map.next_value::<Singleton<_>>()?.0),
                        "verify" => RawAction::Verify(map.next_value::<Singleton<_>>()?.0),
                        "sleep" => RawAction::Sleep(map.next_value()?),
                        other => {
                            let known = STEP_COMMON_KEYS
                                .iter()
                                .chain(RawAction::KINDS.iter())
                                .copied();
                            let hint = crate::diag::did_you_mean(other, known)
                                .map(|s| format!(" (did you mean `{s}`?)"))
                                .unwrap_or_default();
                            return Err(de::Error::custom(format!(
                                "unknown step key `{other}`{hint}; a step takes one of `{}` plus `{}`",
                                RawAction::KINDS.join("`, `"),
                                STEP_COMMON_KEYS.join("`, `")
                            )));
                        }
                    };
                    if let Some(previous) = &action {
                        return Err(de::Error::custom(format!(
                            "a step has exactly one kind, but this one has both `{}` and `{}`",
                            previous.kind(),
                            next.kind()
                        )));
                    }
                    action = Some(next);
                }
                let action = action.ok_or_else(|| {
                    de::Error::custom(format!(
                        "this step has no kind: add one of `{}`",
                        RawAction::KINDS.join("`, `")
                    ))
                })?;
                Ok(RawStep {
                    id,
                    description,
                    timeout,
                    continue_on_error,
                    action,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// Manifests to apply: from one file, every `*.yaml`/`*.yml` in a directory, or inline text.
/// Paths are relative to the scenario file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplySpec {
    pub file: Option<String>,
    pub dir: Option<String>,
    pub inline: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteSpec {
    pub kind: String,
    pub name: Option<String>,
    pub selector: Option<String>,
    /// Wait until the objects are gone (bounded by the step timeout).
    #[serde(default = "yes")]
    pub wait: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    pub kind: String,
    pub name: String,
    pub replicas: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum WaitSpec {
    /// StatefulSet/Deployment/DaemonSet/ReplicaSet/ReplicationController fully rolled out.
    Rollout { kind: String, name: String },
    /// At least `count` ready replicas.
    ReadyReplicas {
        kind: String,
        name: String,
        count: i64,
    },
    /// A named pod, or `count` pods of a selector (all of them if no count), Ready.
    PodReady {
        name: Option<String>,
        selector: Option<String>,
        count: Option<i64>,
    },
    /// At least `count` ready addresses in the EndpointSlices of a Service.
    Endpoints { service: String, count: i64 },
    /// A field of an object (JSON path such as `.status.phase`) equal to a value.
    Field {
        kind: String,
        name: String,
        path: String,
        equals: ScalarString,
    },
}

impl WaitSpec {
    /// The object this wait watches, for the "no step creates it" check.
    pub fn target(&self) -> Option<(&str, &str)> {
        match self {
            WaitSpec::Rollout { kind, name }
            | WaitSpec::ReadyReplicas { kind, name, .. }
            | WaitSpec::Field { kind, name, .. } => Some((kind, name)),
            WaitSpec::PodReady { .. } => None,
            WaitSpec::Endpoints { service, .. } => Some(("Service", service)),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    pub pod: Option<String>,
    /// Run in every pod matching this label selector.
    pub selector: Option<String>,
    pub container: Option<String>,
    pub command: Vec<String>,
    pub stdin: Option<String>,
    #[serde(default)]
    pub expect: ExecExpect,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[derive(Default)]
pub struct ExecExpect {
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(default)]
    pub not_contains: Vec<String>,
    #[serde(default)]
    pub regex: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum FaultSpec {
    /// Delete a pod; by default wait for a replacement (new UID) to be Ready.
    DeletePod {
        name: String,
        #[serde(default = "yes")]
        wait_for_replacement: bool,
    },
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    /// Scale a workload to zero, wait until its pods are gone, scale it back and wait for rollout.
    ScaleToZeroAndBack {
        kind: String,
        name: String,
    },
}
