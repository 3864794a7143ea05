//! Where a verifier's servers are, and how it logs in: the raw forms a scenario writes and the
//! typed forms verifiers use.

use crate::check::Checker;
use crate::cluster::{Endpoint, PodTarget, ProxyPods};
use serde::{Deserialize, Serialize};

/// The shape of a verifier's targets: which targets it has, by name, whatever each holds (the
/// [`Target`] as written with the fewest endpoints it must resolve to, or the endpoints it
/// resolved to). A verifier gets its endpoints in its own shape, so it cannot ask for a target
/// it does not have.
pub trait Shape {
    type Of<T: Send + Sync>: Send + Sync;
    /// Each target with its key, in a fixed order.
    fn each<T: Send + Sync>(of: &Self::Of<T>) -> Vec<(&'static str, &T)>;
    /// The same targets, each turned into something else.
    fn map<T: Send + Sync, U: Send + Sync>(
        of: Self::Of<T>,
        f: impl FnMut(&'static str, T) -> U,
    ) -> Self::Of<U>;
}

/// A target as a verifier declares it: where, and the fewest endpoints it must resolve to (a
/// check that would compare nothing is refused).
#[derive(Debug, Clone, Copy)]
pub struct Need<'a> {
    pub target: &'a Target,
    pub min: usize,
}

/// No target: the verifier works inside pods, or on what earlier steps recorded.
pub struct NoTargets;

impl Shape for NoTargets {
    type Of<T: Send + Sync> = ();
    fn each<T: Send + Sync>(_: &()) -> Vec<(&'static str, &T)> {
        vec![]
    }
    fn map<T: Send + Sync, U: Send + Sync>(_: (), _: impl FnMut(&'static str, T) -> U) {}
}

/// One target, `target`.
pub struct One<T> {
    pub target: T,
}

impl Shape for One<()> {
    type Of<T: Send + Sync> = One<T>;
    fn each<T: Send + Sync>(of: &One<T>) -> Vec<(&'static str, &T)> {
        vec![("target", &of.target)]
    }
    fn map<T: Send + Sync, U: Send + Sync>(
        of: One<T>,
        mut f: impl FnMut(&'static str, T) -> U,
    ) -> One<U> {
        One {
            target: f("target", of.target),
        }
    }
}

/// etcd members (`target`) and the Galera nodes they must list (`nodes`).
pub struct Registry<T> {
    pub target: T,
    pub nodes: T,
}

impl Shape for Registry<()> {
    type Of<T: Send + Sync> = Registry<T>;
    fn each<T: Send + Sync>(of: &Registry<T>) -> Vec<(&'static str, &T)> {
        vec![("target", &of.target), ("nodes", &of.nodes)]
    }
    fn map<T: Send + Sync, U: Send + Sync>(
        of: Registry<T>,
        mut f: impl FnMut(&'static str, T) -> U,
    ) -> Registry<U> {
        Registry {
            target: f("target", of.target),
            nodes: f("nodes", of.nodes),
        }
    }
}

/// Proxies and the servers behind them.
pub struct Proxied<T> {
    pub proxies: T,
    pub servers: T,
}

impl Shape for Proxied<()> {
    type Of<T: Send + Sync> = Proxied<T>;
    fn each<T: Send + Sync>(of: &Proxied<T>) -> Vec<(&'static str, &T)> {
        vec![("proxies", &of.proxies), ("servers", &of.servers)]
    }
    fn map<T: Send + Sync, U: Send + Sync>(
        of: Proxied<T>,
        mut f: impl FnMut(&'static str, T) -> U,
    ) -> Proxied<U> {
        Proxied {
            proxies: f("proxies", of.proxies),
            servers: f("servers", of.servers),
        }
    }
}

/// Pods of a selector in the scenario namespace (reached through port-forward bridges), or
/// fixed `host:port` endpoints (static targets, no cluster needed).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// Label selector of the pods, e.g. `app=galera`.
    pub pods: Option<String>,
    /// Container port on each pod.
    pub port: Option<i64>,
    /// Static `host:port` endpoints.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// Proxies reached from inside application pods (`via_pods` + `host_env` + `port`), or static
/// proxy endpoints.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProxyTarget {
    /// Label selector of the application pods that reach their node-local proxy.
    pub via_pods: Option<String>,
    /// Environment variable in those pods that names the host to dial (e.g. `NODE_NAME`).
    pub host_env: Option<String>,
    pub port: Option<i64>,
    /// Static proxy `host:port` endpoints.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// A verifier's servers, resolved to endpoints by the `verify` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Pods(PodTarget),
    ViaPods(ProxyPods),
    Endpoints(Vec<Endpoint>),
}

impl Default for Target {
    /// No servers (verifiers refuse to judge an empty target).
    fn default() -> Self {
        Target::Endpoints(vec![])
    }
}

impl Target {
    pub fn needs_cluster(&self) -> bool {
        !matches!(self, Target::Endpoints(_))
    }

    /// The selector of pod targets, for verifiers that also exec in those pods.
    pub fn pod_selector(&self) -> Option<&str> {
        match self {
            Target::Pods(p) => Some(&p.selector),
            _ => None,
        }
    }

    pub fn from_endpoints(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|e| Endpoint::parse(e).ok_or_else(|| format!("`{e}` is not HOST:PORT")))
            .collect::<Result<Vec<_>, _>>()
            .map(Target::Endpoints)
    }
}

/// Static endpoints: each `HOST:PORT`, none given twice, at least `min` of them.
fn endpoints(cx: &mut Checker, path: &str, list: &[String], min: usize) -> Option<Vec<Endpoint>> {
    let mut out: Vec<Endpoint> = vec![];
    // Where each (host, port) was first given: one look-up each, whatever the list's length.
    let mut first_at: std::collections::HashMap<(String, u16), usize> = Default::default();
    let mut ok = true;
    for (i, e) in list.iter().enumerate() {
        let at = format!("{path}.endpoints[{i}]");
        match cx.endpoint(&at, e) {
            Some(ep) => {
                let key = (ep.host.to_ascii_lowercase(), ep.port);
                if let Some(&first) = first_at.get(&key) {
                    cx.error(
                        &at,
                        format!("`{e}` is given twice (also at `endpoints[{first}]`): a check against one server named twice compares nothing"),
                    );
                    ok = false;
                } else {
                    first_at.insert(key, i);
                }
                out.push(ep);
            }
            None => ok = false,
        }
    }
    if ok && out.len() < min {
        cx.error(
            path,
            format!(
                "{} endpoint(s) given, but this check needs at least {min} to compare anything",
                out.len()
            ),
        );
        ok = false;
    }
    ok.then_some(out)
}

impl RawTarget {
    pub fn endpoints(list: &[String]) -> Self {
        Self {
            endpoints: list.to_vec(),
            ..Default::default()
        }
    }

    pub fn check(&self, cx: &mut Checker, path: &str, min: usize) -> Option<Target> {
        if !cx.exactly_one(
            path,
            &[
                ("pods", self.pods.is_some()),
                ("endpoints", !self.endpoints.is_empty()),
            ],
        ) {
            return None;
        }
        if let Some(sel) = &self.pods {
            let selector = cx.selector(&format!("{path}.pods"), sel);
            let port = match self.port {
                None => {
                    cx.error(path, "`pods` needs a `port`");
                    None
                }
                Some(p) => cx.port(&format!("{path}.port"), p),
            };
            return Some(Target::Pods(PodTarget {
                selector: selector?,
                port: port?,
            }));
        }
        if self.port.is_some() {
            cx.error(
                &format!("{path}.port"),
                "`port` goes with `pods`; endpoints carry their own port",
            );
        }
        endpoints(cx, path, &self.endpoints, min).map(Target::Endpoints)
    }
}

impl RawProxyTarget {
    pub fn check(&self, cx: &mut Checker, path: &str, min: usize) -> Option<Target> {
        if !cx.exactly_one(
            path,
            &[
                ("via_pods", self.via_pods.is_some()),
                ("endpoints", !self.endpoints.is_empty()),
            ],
        ) {
            return None;
        }
        if let Some(sel) = &self.via_pods {
            let (Some(host_env), Some(port)) = (&self.host_env, self.port) else {
                cx.error(
                    path,
                    "`via_pods` needs `host_env` (e.g. NODE_NAME) and `port` (e.g. 5000)",
                );
                return None;
            };
            let selector = cx.selector(&format!("{path}.via_pods"), sel);
            let port = cx.port(&format!("{path}.port"), port);
            return Some(Target::ViaPods(ProxyPods {
                via_pods: selector?,
                host_env: host_env.clone(),
                port: port?,
            }));
        }
        endpoints(cx, path, &self.endpoints, min).map(Target::Endpoints)
    }
}

/// A password from an environment variable of the harness, a scenario variable marked secret,
/// or a Kubernetes Secret in the scenario namespace. Never a literal.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum PasswordSource {
    Env(String),
    Var(String),
    Secret { name: String, key: String },
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCredentials {
    pub user: String,
    #[serde(default, with = "serde_yaml::with::singleton_map")]
    #[schemars(with = "Option<PasswordSource>")]
    pub password: Option<PasswordSource>,
}

/// A user and where its password comes from (checked: a `var` names a secret variable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Credentials {
    pub user: String,
    pub password: Option<PasswordSource>,
}

impl RawCredentials {
    pub fn check(&self, cx: &mut Checker, path: &str) -> Option<Credentials> {
        if let Some(PasswordSource::Env(name)) = &self.password {
            let at = format!("{path}.password.env");
            let posix = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !posix {
                cx.error(
                    &at,
                    "`env` names the environment variable that holds the password, but this value is no variable name (it is not shown: it may be the password itself)",
                );
                return None;
            }
            if cx.env_is_set(name) == Some(false) {
                cx.error(
                    &at,
                    format!(
                        "the password comes from the environment variable {}, which is not set: set it before the run",
                        crate::vars::env_name_shown(name)
                    ),
                );
                return None;
            }
        }
        if let Some(PasswordSource::Var(name)) = &self.password {
            let at = format!("{path}.password.var");
            if cx.values().get(name).is_none() {
                let hint = cx.var_hint(name);
                cx.error(&at, format!("unknown variable `{name}`{hint}"));
                return None;
            } else if !cx.values().is_secret(name) {
                cx.error(
                    &at,
                    format!("variable `{name}` holds a password but is not marked `secret: true`"),
                );
                return None;
            }
        }
        Some(Credentials {
            user: self.user.clone(),
            password: self.password.clone(),
        })
    }

    /// From `--user` and `--password-env`.
    pub fn from_flags(flags: &super::VerifyFlags) -> Result<Self, String> {
        Ok(Self {
            user: flags.user.clone().ok_or("this verifier needs --user")?,
            password: flags.password_env.clone().map(PasswordSource::Env),
        })
    }
}
