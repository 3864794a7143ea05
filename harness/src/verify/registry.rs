//! The one list of verifiers. Everything that names verifiers follows from it: the raw spec a
//! scenario writes under `verify:` ([`RawVerify`]), the typed spec ([`VerifySpec`]), the names
//! ([`NAMES`]), validation, the `harness verify` flags, and dispatch.

use super::{Credentials, Need, Shape, Target, Verdict, Verifier, VerifyContext, VerifyFlags};
use super::{cassandra, dns, etcd, galera, http, memcache, workload};
use crate::check::Checker;
use crate::cluster::Endpoint;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! verifiers {
    ($($variant:ident: $($module:ident)::+),* $(,)?) => {
        /// A verifier's spec as written: a one-key map from its name to its raw spec.
        #[derive(Debug, Clone)]
        pub enum RawVerify {
            $($variant(<$($module)::+ as Verifier>::Raw)),*
        }

        /// A verifier's validated, typed spec.
        #[derive(Debug, Clone, Serialize)]
        pub enum VerifySpec {
            $($variant($($module)::+)),*
        }

        /// Every verifier's name, in registration order.
        pub const NAMES: &[&str] = &[$(<$($module)::+ as Verifier>::NAME),*];

        /// Every verifier's name with what it checks, in registration order.
        pub const DOCS: &[(&str, &str)] =
            &[$((<$($module)::+ as Verifier>::NAME, <$($module)::+ as Verifier>::CHECKS)),*];

        /// The verifiers `harness verify` can run (the others need a scenario).
        pub const FROM_VERIFY: &[(&str, bool)] =
            &[$((<$($module)::+ as Verifier>::NAME, <$($module)::+ as Verifier>::FROM_VERIFY)),*];

        /// A `verify:` value: exactly one verifier's name with its raw spec.
        impl schemars::JsonSchema for RawVerify {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "Verify".into()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mut properties = serde_json::Map::new();
                $(properties.insert(
                    <$($module)::+ as Verifier>::NAME.to_string(),
                    generator.subschema_for::<<$($module)::+ as Verifier>::Raw>().to_value(),
                );)*
                schemars::json_schema!({
                    "description": "One verifier: its name and its spec.",
                    "type": "object",
                    "properties": properties,
                    "additionalProperties": false,
                    "minProperties": 1,
                    "maxProperties": 1
                })
            }
        }

        impl RawVerify {
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$($module)::+ as Verifier>::NAME),*
                }
            }

            /// Validates into the typed spec; problems are reported under `path`.
            pub fn check(&self, cx: &mut Checker, path: &str) -> Option<VerifySpec> {
                let path = format!("{path}.{}", self.name());
                match self {
                    $(Self::$variant(raw) => {
                        <$($module)::+ as Verifier>::check(raw.clone(), cx, &path)
                            .map(VerifySpec::$variant)
                    })*
                }
            }

            /// The raw spec of verifier `name` from `harness verify` flags.
            pub fn from_flags(name: &str, flags: &VerifyFlags) -> Result<Self, String> {
                $(if name == <$($module)::+ as Verifier>::NAME {
                    return <$($module)::+ as Verifier>::from_flags(flags).map(Self::$variant);
                })*
                let hint = crate::diag::hint(name, NAMES.iter().copied());
                Err(format!("unknown verifier `{name}`{hint}; one of: {}", NAMES.join(", ")))
            }

            fn deserialize_value<'de, A: MapAccess<'de>>(
                name: &str,
                map: &mut A,
            ) -> Option<Result<Self, A::Error>> {
                $(if name == <$($module)::+ as Verifier>::NAME {
                    return Some(map.next_value().map(Self::$variant));
                })*
                None
            }
        }

        impl Serialize for RawVerify {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(1))?;
                match self {
                    $(Self::$variant(raw) => {
                        map.serialize_entry(<$($module)::+ as Verifier>::NAME, raw)?
                    })*
                }
                map.end()
            }
        }

        impl VerifySpec {
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$($module)::+ as Verifier>::NAME),*
                }
            }
            /// Each target with its key and the fewest endpoints it must resolve to.
            pub fn targets(&self) -> Vec<(&'static str, &Target, usize)> {
                match self {
                    $(Self::$variant(v) => {
                        let targets = v.targets();
                        <<$($module)::+ as Verifier>::Shape as Shape>::each::<Need<'_>>(&targets)
                            .into_iter()
                            .map(|(key, need)| (key, need.target, need.min))
                            .collect()
                    }),*
                }
            }
            pub fn credentials(&self) -> Option<&Credentials> {
                match self {
                    $(Self::$variant(v) => v.credentials()),*
                }
            }
            pub fn needs_cluster(&self) -> bool {
                match self {
                    $(Self::$variant(v) => v.needs_cluster()),*
                }
            }
            pub fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
                match self {
                    $(Self::$variant(v) => v.disrupts()),*
                }
            }
            pub fn lasts_at_least(&self) -> Option<(&'static str, std::time::Duration)> {
                match self {
                    $(Self::$variant(v) => v.lasts_at_least()),*
                }
            }
            pub fn workload_refs(&self) -> Vec<(&'static str, String)> {
                match self {
                    $(Self::$variant(v) => v.workload_refs()),*
                }
            }
            /// Runs the check with the endpoints each target resolved to (by key, as
            /// [`VerifySpec::targets`] listed them).
            pub async fn run(
                &self,
                cx: &VerifyContext<'_>,
                mut resolved: std::collections::BTreeMap<&'static str, Vec<Endpoint>>,
            ) -> Verdict {
                // Nothing to compare is never a PASS, whoever resolved the targets.
                for (key, _, min) in self.targets() {
                    let got = resolved.get(key).map_or(0, Vec::len);
                    if got < min {
                        return Verdict::fail(
                            format!(
                                "{}: `{key}` has {got} endpoint(s), but the check needs at least {min} to compare anything",
                                self.name()
                            ),
                            vec![],
                        );
                    }
                }
                match self {
                    $(Self::$variant(v) => {
                        let at = <<$($module)::+ as Verifier>::Shape as Shape>::map::<Need<'_>, Vec<Endpoint>>(
                            v.targets(),
                            // Every key was resolved: the step resolves what `targets` lists.
                            |key, _| resolved.remove(key).unwrap_or_default(),
                        );
                        v.run(cx, at).await
                    }),*
                }
            }
        }
    };
}

verifiers! {
    CassandraRing: cassandra::ring::CassandraRingSpec,
    CassandraIdentity: cassandra::identity::CassandraIdentitySpec,
    CassandraSnapshot: cassandra::snapshot::CassandraSnapshotSpec,
    Cql: cassandra::cql::CqlSpec,
    GaleraStatus: galera::status::GaleraStatusSpec,
    GaleraSync: galera::sync::GaleraSyncSpec,
    GaleraAckWrites: galera::acknowledged_writes::GaleraAckWritesSpec,
    GaleraReadiness: galera::readiness::GaleraReadinessSpec,
    EtcdKeys: etcd::keys::EtcdKeysSpec,
    MemcachePool: memcache::pool::MemcachePoolSpec,
    MemcacheProxy: memcache::proxy::MemcacheProxySpec,
    Http: http::check::HttpSpec,
    DnsService: dns::service::DnsServiceSpec,
    Workload: workload::check::WorkloadSpec,
}

impl<'de> Deserialize<'de> for RawVerify {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawVerify;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a map with one verifier: one of `{}`",
                    NAMES.join("`, `")
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawVerify, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!(
                        "name a verifier: one of `{}`",
                        NAMES.join("`, `")
                    )));
                };
                let Some(raw) = RawVerify::deserialize_value(&name, &mut map) else {
                    // Raised inside the value, so the error's key path names the unknown key.
                    return map
                        .next_value_seed(Refuse(unknown_verifier(&name)))
                        .map(|never| match never {});
                };
                let raw = raw?;
                if let Some(other) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "a verify step runs one verifier, but this one names both `{name}` and `{other}`"
                    )));
                }
                Ok(raw)
            }
        }
        d.deserialize_map(V)
    }
}

fn unknown_verifier(name: &str) -> String {
    format!(
        "unknown variant `{name}`, expected one of `{}`",
        NAMES.join("`, `")
    )
}

/// A value that is refused with a given error whatever it holds.
struct Refuse(String);

enum Never {}

impl<'de> de::DeserializeSeed<'de> for Refuse {
    type Value = Never;
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<Never, D::Error> {
        Err(<D::Error as de::Error>::custom(self.0))
    }
}
