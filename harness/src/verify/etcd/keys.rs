//! `etcd.keys`: every etcd member is healthy and they agree on the member list; and the Galera
//! discovery layout `/galera/<cluster>/<ip>/...` holds exactly the Galera nodes' addresses,
//! read through the v2 keys API (what the seed's discovery uses) and/or the v3 JSON gateway.
//! etcd keeps v2 and v3 keys apart, so `api: any` accepts registrations found through either.

use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::http::client::request;
use crate::verify::{RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EtcdApi {
    V2,
    V3,
    /// Registrations found through v2, else v3 (etcd keeps the two key spaces apart).
    #[default]
    Any,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// etcd client endpoints (port 2379).
    pub target: RawTarget,
    /// Galera cluster name: registrations live under `/galera/<cluster>/<ip>/`.
    pub cluster: String,
    /// The Galera nodes whose addresses must be registered (pod IPs, or static addresses).
    pub nodes: RawTarget,
    #[serde(default)]
    pub api: EtcdApi,
}

#[derive(Debug, Clone, Serialize)]
pub struct EtcdKeysSpec {
    pub target: Target,
    pub cluster: String,
    pub nodes: Target,
    pub api: EtcdApi,
}

#[async_trait::async_trait]
impl Verifier for EtcdKeysSpec {
    const NAME: &'static str = "etcd.keys";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let nodes = raw.nodes.check(cx, &format!("{path}.nodes"), 1);
        if raw.cluster.is_empty() || raw.cluster.contains('/') {
            cx.error(
                &format!("{path}.cluster"),
                "the Galera cluster name must be non-empty and contain no `/`",
            );
            return None;
        }
        Some(Self {
            target: target?,
            cluster: raw.cluster,
            nodes: nodes?,
            api: raw.api,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        // A node given without a port is a Galera node on 3306 (only its address is compared).
        let nodes: Vec<String> = flags
            .nodes
            .iter()
            .map(|n| {
                if n.contains(':') {
                    n.clone()
                } else {
                    format!("{n}:3306")
                }
            })
            .collect();
        Ok(Raw {
            target: flags.target(),
            cluster: flags
                .cluster
                .clone()
                .ok_or("etcd.keys needs --cluster (the Galera cluster name)")?,
            nodes: RawTarget::endpoints(&nodes),
            api: EtcdApi::Any,
        })
    }

    fn targets(&self) -> Vec<(&'static str, &Target, usize)> {
        vec![("target", &self.target, 1), ("nodes", &self.nodes, 1)]
    }

    async fn run(&self, cx: &VerifyContext<'_>) -> Verdict {
        check(self, cx.get("target"), cx.get("nodes")).await
    }
}

pub async fn check(spec: &EtcdKeysSpec, members: &[Endpoint], galera: &[Endpoint]) -> Verdict {
    let mut problems = vec![];
    let mut evidence = vec![];
    let mut member_lists = BTreeSet::new();
    let mut ids: Vec<(&Endpoint, String)> = vec![];
    for m in members {
        match member_id(m).await {
            Ok(id) => {
                if let Some((first, _)) = ids.iter().find(|(_, other)| *other == id) {
                    problems.push(format!(
                        "{first} and {m} are the same etcd member (ID {id}): naming one member twice proves nothing about the cluster"
                    ));
                }
                ids.push((m, id));
            }
            Err(e) => problems.push(e),
        }
        match health(m).await {
            Ok(()) => evidence.push(format!("{m}: healthy")),
            Err(e) => problems.push(e),
        }
        match member_names(m).await {
            Ok(names) => {
                evidence.push(format!("{m}: members {names:?}"));
                member_lists.insert(names);
            }
            Err(e) => problems.push(e),
        }
    }
    if member_lists.len() > 1 {
        problems.push(format!(
            "members disagree on the member list: {member_lists:?}"
        ));
    }
    let expected: BTreeSet<String> = galera
        .iter()
        .map(|g| g.cluster_address().to_string())
        .collect();
    let mut found: Option<(String, BTreeSet<String>)> = None;
    let mut lookup_errors = vec![];
    let apis: &[&str] = match spec.api {
        EtcdApi::V2 => &["v2"],
        EtcdApi::V3 => &["v3"],
        EtcdApi::Any => &["v2", "v3"],
    };
    'apis: for api in apis {
        for m in members {
            let r = if *api == "v2" {
                registrations_v2(m, &spec.cluster).await
            } else {
                registrations_v3(m, &spec.cluster).await
            };
            match r {
                Ok(ips) => {
                    evidence.push(format!(
                        "{m}: {api} /galera/{}/ lists {ips:?}",
                        spec.cluster
                    ));
                    if !ips.is_empty() || spec.api != EtcdApi::Any || *api == "v3" {
                        found = Some((api.to_string(), ips));
                        break 'apis;
                    }
                    continue 'apis;
                }
                Err(e) => lookup_errors.push(e),
            }
        }
    }
    match found {
        None => problems.push(format!(
            "no member answered the registration lookup: {}",
            lookup_errors.join("; ")
        )),
        Some((api, ips)) => {
            let missing: Vec<&String> = expected.difference(&ips).collect();
            let extra: Vec<&String> = ips.difference(&expected).collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "Galera node(s) not registered under /galera/{}/ ({api}): {missing:?}",
                    spec.cluster
                ));
            }
            if !extra.is_empty() {
                problems.push(format!("registrations for addresses that are no Galera node (stale keys?) ({api}): {extra:?}"));
            }
        }
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{} healthy member(s); {} Galera node(s) registered under /galera/{}/",
                members.len(),
                expected.len(),
                spec.cluster
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

async fn health(m: &Endpoint) -> Result<(), String> {
    let r = request(m, "GET", "/health", None).await?;
    let v: Value = serde_json::from_str(&r.body)
        .map_err(|e| format!("{m}: /health is not JSON ({e}): {}", r.body))?;
    if r.status == 200 && v["health"] == "true" {
        Ok(())
    } else {
        Err(format!(
            "{m}: unhealthy: HTTP {} {}",
            r.status,
            r.body.trim()
        ))
    }
}

/// The ID of the member that answers at `m` (v3 maintenance status, through the JSON gateway).
async fn member_id(m: &Endpoint) -> Result<String, String> {
    let r = request(
        m,
        "POST",
        "/v3/maintenance/status",
        Some(("application/json", "{}".into())),
    )
    .await?;
    let v: Value = serde_json::from_str(&r.body)
        .map_err(|e| format!("{m}: maintenance status is not JSON ({e})"))?;
    match &v["header"]["member_id"] {
        Value::String(id) if r.status == 200 => Ok(id.clone()),
        Value::Number(id) if r.status == 200 => Ok(id.to_string()),
        _ => Err(format!(
            "{m}: no member ID in its status: HTTP {} {}",
            r.status,
            r.body.trim()
        )),
    }
}

async fn member_names(m: &Endpoint) -> Result<BTreeSet<String>, String> {
    let r = request(
        m,
        "POST",
        "/v3/cluster/member/list",
        Some(("application/json", "{}".into())),
    )
    .await?;
    let v: Value =
        serde_json::from_str(&r.body).map_err(|e| format!("{m}: member list is not JSON ({e})"))?;
    let members = v["members"]
        .as_array()
        .ok_or_else(|| format!("{m}: member list without members: {}", r.body))?;
    Ok(members
        .iter()
        .map(|x| x["name"].as_str().unwrap_or("?").to_string())
        .collect())
}

/// Addresses registered through the v2 keys API: the directories under `/galera/<cluster>`.
pub async fn registrations_v2(m: &Endpoint, cluster: &str) -> Result<BTreeSet<String>, String> {
    let r = request(
        m,
        "GET",
        &format!("/v2/keys/galera/{cluster}?recursive=true"),
        None,
    )
    .await?;
    if r.status == 404 {
        let v: Value = serde_json::from_str(&r.body).unwrap_or_default();
        // errorCode 100: key not found (no registration); anything else is an error
        if v["errorCode"] == 100 {
            return Ok(BTreeSet::new());
        }
        return Err(format!(
            "{m}: v2 keys API: HTTP 404 {} (is --enable-v2=true set?)",
            r.body.trim()
        ));
    }
    if r.status != 200 {
        return Err(format!(
            "{m}: v2 keys API: HTTP {} {}",
            r.status,
            r.body.trim()
        ));
    }
    let v: Value =
        serde_json::from_str(&r.body).map_err(|e| format!("{m}: v2 answer is not JSON ({e})"))?;
    let prefix = format!("/galera/{cluster}/");
    let dirs = v["node"]["nodes"].as_array().cloned().unwrap_or_default();
    Ok(dirs
        .iter()
        .filter_map(|d| d["key"].as_str())
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|s| s.split('/').next().unwrap_or(s).to_string())
        .collect())
}

/// Addresses registered through the v3 API (JSON gateway): key segments after the prefix.
pub async fn registrations_v3(m: &Endpoint, cluster: &str) -> Result<BTreeSet<String>, String> {
    let prefix = format!("/galera/{cluster}/");
    let mut end = prefix.clone().into_bytes();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let body = json!({"key": B64.encode(prefix.as_bytes()), "range_end": B64.encode(&end), "keys_only": true}).to_string();
    let r = request(m, "POST", "/v3/kv/range", Some(("application/json", body))).await?;
    if r.status != 200 {
        return Err(format!(
            "{m}: v3 range: HTTP {} {}",
            r.status,
            r.body.trim()
        ));
    }
    let v: Value =
        serde_json::from_str(&r.body).map_err(|e| format!("{m}: v3 answer is not JSON ({e})"))?;
    let kvs = v["kvs"].as_array().cloned().unwrap_or_default();
    Ok(kvs
        .iter()
        .filter_map(|kv| kv["key"].as_str())
        .filter_map(|k| B64.decode(k).ok())
        .filter_map(|k| String::from_utf8(k).ok())
        .filter_map(|k| {
            k.strip_prefix(&prefix)
                .map(|s| s.split('/').next().unwrap_or(s).to_string())
        })
        .collect())
}

#[cfg(test)]
mod rig {
    use super::*;
    use crate::testing::eps;
    use harness_testkit::rig;

    fn spec(api: EtcdApi) -> EtcdKeysSpec {
        EtcdKeysSpec {
            target: Default::default(),
            cluster: "mariadb_galera_ss".into(),
            nodes: Default::default(),
            api,
        }
    }

    fn galera(ips: &[&str]) -> Vec<Endpoint> {
        ips.iter()
            .map(|ip| Endpoint::parse(&format!("{ip}:3306")).unwrap())
            .collect()
    }

    async fn register_v2(m: &Endpoint, ip: &str) {
        // As the seed's discovery does: PUT /v2/keys/galera/<cluster>/<ip>/ipaddress with a TTL.
        let body = format!("value={ip}&ttl=300");
        let r = request(
            m,
            "PUT",
            &format!("/v2/keys/galera/mariadb_galera_ss/{ip}/ipaddress"),
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await
        .unwrap();
        assert!(r.status == 200 || r.status == 201, "{r:?}");
    }

    async fn register_v3(m: &Endpoint, ip: &str) {
        let key = format!("/galera/mariadb_galera_ss/{ip}/ipaddress");
        let body = json!({"key": B64.encode(key), "value": B64.encode(ip)}).to_string();
        let r = request(m, "POST", "/v3/kv/put", Some(("application/json", body)))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
    }

    // Layer 2 (real servers): a 3-member etcd 3.4 cluster with the v2 API enabled.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn registrations_through_v2_and_v3_match_the_galera_nodes_and_faults_are_named() {
        let (nodes, members) = rig::etcd(3).await;
        let members = eps(members);
        let expected = galera(&["10.244.1.5", "10.244.2.7", "10.244.3.9"]);
        for ip in ["10.244.1.5", "10.244.2.7", "10.244.3.9"] {
            register_v2(&members[0], ip).await;
        }
        let v = check(&spec(EtcdApi::V2), &members, &expected).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        // One member named twice (another name, the same address) is not two members.
        let mut again = members[0].clone();
        again.name = format!("{}-again", again.name);
        let twice = [members[0].clone(), again];
        let v = check(&spec(EtcdApi::V2), &twice, &expected).await;
        assert!(
            !v.passed && v.summary.contains("are the same etcd member"),
            "{}",
            v.summary
        );
        // `any` finds the v2 registrations; v3 sees none of them (separate key spaces).
        assert!(check(&spec(EtcdApi::Any), &members, &expected).await.passed);
        let v = check(&spec(EtcdApi::V3), &members, &expected).await;
        assert!(
            !v.passed && v.summary.contains("not registered"),
            "{}",
            v.summary
        );

        // A stale registration (an address that is no Galera node) and a missing node.
        register_v2(&members[1], "10.244.9.9").await;
        let v = check(
            &spec(EtcdApi::V2),
            &members,
            &galera(&["10.244.1.5", "10.244.2.7", "10.244.3.9", "10.244.4.4"]),
        )
        .await;
        assert!(!v.passed);
        assert!(
            v.summary.contains("\"10.244.4.4\"") && v.summary.contains("not registered"),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains("\"10.244.9.9\"") && v.summary.contains("stale"),
            "{}",
            v.summary
        );

        for ip in ["10.244.1.5", "10.244.2.7"] {
            register_v3(&members[2], ip).await;
        }
        let v = check(
            &spec(EtcdApi::V3),
            &members,
            &galera(&["10.244.1.5", "10.244.2.7"]),
        )
        .await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);

        nodes[1].stop().await;
        let v = check(
            &spec(EtcdApi::V3),
            &members,
            &galera(&["10.244.1.5", "10.244.2.7"]),
        )
        .await;
        assert!(
            !v.passed && v.summary.contains(&format!("{}: ", members[1].name)),
            "{}",
            v.summary
        );
    }
}
