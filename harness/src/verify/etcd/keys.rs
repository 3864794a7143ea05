//! `etcd.keys`: the endpoints are members of one etcd cluster (one cluster ID, each endpoint a
//! distinct member, one member list, every member of it reached and healthy); and the Galera
//! discovery layout `/galera/<cluster>/<ip>/...` holds exactly the Galera nodes' addresses on
//! every member, each registration with a time to live (at most `max_ttl`), and, with
//! `stable_for`, stays so for that long (watched through the v2 API; sampled on v3). Read
//! through the v2 keys API (what the seed's discovery uses) and/or the v3 JSON gateway: etcd
//! keeps v2 and v3 keys apart, so `api: any` accepts registrations found through either.

use super::client::{self, Identity, Member, Registrations};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{
    Need, RawTarget, Registry, Target, Verdict, Verifier, VerifyContext, VerifyFlags,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

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
    /// Each registration must expire within this (e.g. `30s`): a key without a time to live
    /// stays after its node dies ungracefully.
    pub max_ttl: Option<String>,
    /// The registrations must match the nodes for this long (e.g. `30s`): a registration
    /// refreshed too late disappears for a while in every period.
    pub stable_for: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EtcdKeysSpec {
    pub target: Target,
    pub cluster: String,
    pub nodes: Target,
    pub api: EtcdApi,
    #[serde(serialize_with = "crate::check::opt_duration_text")]
    pub max_ttl: Option<Duration>,
    #[serde(serialize_with = "crate::check::opt_duration_text")]
    pub stable_for: Option<Duration>,
}

/// The longest `stable_for` (a window longer than this belongs in a guard).
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

#[async_trait::async_trait]
impl Verifier for EtcdKeysSpec {
    const NAME: &'static str = "etcd.keys";
    const CHECKS: &'static str = "one etcd cluster: one cluster ID, distinct member IDs, one member list, every listed member among the endpoints and healthy (\"N of the cluster's M members checked\"); the `/galera/<cluster>/<ip>/` registrations (v2 keys API, or v3) on every member match the Galera nodes, an address whose keys expired is no registration; `max_ttl`: every registration expires within it; `stable_for`: they stay so for that long (watched on v2, read every half second on v3)";
    type Raw = Raw;

    fn lasts_at_least(&self) -> Option<(&'static str, std::time::Duration)> {
        self.stable_for.map(|d| ("stable_for", d))
    }

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let nodes = raw.nodes.check(cx, &format!("{path}.nodes"), 1);
        let max_ttl = match &raw.max_ttl {
            Some(d) => Some(cx.bounded_duration(&format!("{path}.max_ttl"), d, MAX_WINDOW)?),
            None => None,
        };
        let stable_for = match &raw.stable_for {
            Some(d) => Some(cx.bounded_duration(&format!("{path}.stable_for"), d, MAX_WINDOW)?),
            None => None,
        };
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
            max_ttl,
            stable_for,
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
            max_ttl: flags.max_ttl.clone(),
            stable_for: flags.stable_for.clone(),
        })
    }

    type Shape = Registry<()>;

    fn targets(&self) -> Registry<Need<'_>> {
        Registry {
            target: Need {
                target: &self.target,
                min: 1,
            },
            nodes: Need {
                target: &self.nodes,
                min: 1,
            },
        }
    }

    async fn run(&self, _: &VerifyContext<'_>, at: Registry<Vec<Endpoint>>) -> Verdict {
        check(self, &at.target, &at.nodes).await
    }
}

/// What one endpoint said about itself and its cluster.
struct Seen {
    identity: Result<Identity, String>,
    health: Result<(), String>,
    members: Result<Vec<Member>, String>,
}

pub async fn check(spec: &EtcdKeysSpec, members: &[Endpoint], galera: &[Endpoint]) -> Verdict {
    let mut evidence = vec![];
    let seen: Vec<Seen> = futures::future::join_all(members.iter().map(|m| async move {
        let (identity, health, members) =
            tokio::join!(client::identity(m), client::health(m), client::members(m));
        Seen {
            identity,
            health,
            members,
        }
    }))
    .await;
    let (mut problems, coverage) = judge_members(members, &seen, &mut evidence);

    let expected: BTreeSet<String> = galera
        .iter()
        .map(|g| g.cluster_address().to_string())
        .collect();
    match registrations(spec, members).await {
        Err(e) => problems.push(e),
        Ok((api, reads)) => {
            problems.extend(judge_registrations(
                spec,
                &api,
                members,
                &reads,
                &expected,
                &mut evidence,
            ));
            if problems.is_empty()
                && let Some(window) = spec.stable_for
            {
                let watched = match api.as_str() {
                    "v2" => watch_v2(spec, members, &reads, &expected, window).await,
                    _ => sample_v3(spec, members, &expected, window).await,
                };
                match watched {
                    Ok(note) => evidence.push(note),
                    Err(e) => problems.push(e),
                }
            }
        }
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{coverage}; {} Galera node(s) registered under /galera/{}/ on every member{}{}",
                expected.len(),
                spec.cluster,
                spec.max_ttl
                    .map(|t| format!(", each expiring within {}", humantime::format_duration(t)))
                    .unwrap_or_default(),
                spec.stable_for
                    .map(|t| format!(", unchanged for {}", humantime::format_duration(t)))
                    .unwrap_or_default()
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

/// The members: one cluster ID, distinct member IDs, one member list, every member of it among
/// the endpoints and healthy. Returns the problems and how many members were checked.
fn judge_members(
    endpoints: &[Endpoint],
    seen: &[Seen],
    evidence: &mut Vec<String>,
) -> (Vec<String>, String) {
    let mut problems = vec![];
    let mut by_id: BTreeMap<&str, &Endpoint> = BTreeMap::new();
    let mut clusters: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut lists: BTreeMap<BTreeSet<&str>, Vec<String>> = BTreeMap::new();
    for (m, s) in endpoints.iter().zip(seen) {
        match &s.identity {
            Ok(id) => {
                evidence.push(format!(
                    "{m}: member {} of cluster {} (etcd {})",
                    id.member_id, id.cluster_id, id.version
                ));
                if let Some(first) = by_id.insert(&id.member_id, m) {
                    problems.push(format!(
                        "{first} and {m} are the same etcd member (ID {}): naming one member twice proves nothing about the cluster",
                        id.member_id
                    ));
                }
                clusters
                    .entry(&id.cluster_id)
                    .or_default()
                    .push(m.to_string());
            }
            Err(e) => problems.push(e.clone()),
        }
        match &s.health {
            Ok(()) => evidence.push(format!("{m}: healthy")),
            Err(e) => problems.push(e.clone()),
        }
        match &s.members {
            Ok(list) => {
                let names: Vec<String> = list
                    .iter()
                    .map(|x| format!("{} ({})", x.name, x.id))
                    .collect();
                evidence.push(format!("{m}: members {}", names.join(", ")));
                lists
                    .entry(list.iter().map(|x| x.id.as_str()).collect())
                    .or_default()
                    .push(m.to_string());
            }
            Err(e) => problems.push(e.clone()),
        }
    }
    if clusters.len() > 1 {
        let listed: Vec<String> = clusters
            .iter()
            .map(|(id, ms)| format!("cluster {id}: {}", ms.join(", ")))
            .collect();
        problems.push(format!(
            "the endpoints belong to different etcd clusters ({}): member names can repeat across clusters, the cluster ID cannot",
            listed.join("; ")
        ));
    }
    if lists.len() > 1 {
        let listed: Vec<String> = lists
            .iter()
            .map(|(ids, ms)| {
                format!(
                    "{} see [{}]",
                    ms.join(", "),
                    ids.iter().copied().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        problems.push(format!(
            "members disagree on the member list (by member ID): {}",
            listed.join("; ")
        ));
    }
    // Every member of the list must be one of the endpoints: a member nobody reached may be
    // down, and a healthy majority would hide it.
    let list: Vec<&Member> = seen
        .iter()
        .find_map(|s| s.members.as_ref().ok())
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    let reached: Vec<&Member> = list
        .iter()
        .copied()
        .filter(|x| by_id.contains_key(x.id.as_str()))
        .collect();
    for x in &list {
        if !by_id.contains_key(x.id.as_str()) {
            problems.push(format!(
                "member {} (ID {}, peer {}) is in the cluster's member list, but none of the endpoints is it: it is down or was not named ({} of the cluster's {} members checked)",
                if x.name.is_empty() { "<unstarted>" } else { &x.name },
                x.id,
                x.peer_urls.join(","),
                reached.len(),
                list.len()
            ));
        }
    }
    for (id, m) in &by_id {
        if !list.is_empty() && !list.iter().any(|x| x.id == *id) {
            problems.push(format!(
                "{m} (member {id}) is not in the member list the others report"
            ));
        }
    }
    let coverage = format!(
        "{} of the cluster's {} members checked, each healthy",
        reached.len(),
        list.len()
    );
    (problems, coverage)
}

/// The registrations as every member reports them, through the API the spec names (`any`: v2
/// when any member holds v2 registrations, else v3).
async fn registrations(
    spec: &EtcdKeysSpec,
    members: &[Endpoint],
) -> Result<(String, Vec<Result<Registrations, String>>), String> {
    let read = |api: &'static str| async move {
        futures::future::join_all(members.iter().map(|m| async move {
            if api == "v2" {
                client::registrations_v2(m, &spec.cluster).await
            } else {
                client::registrations_v3(m, &spec.cluster).await
            }
        }))
        .await
    };
    match spec.api {
        EtcdApi::V2 => Ok(("v2".into(), read("v2").await)),
        EtcdApi::V3 => Ok(("v3".into(), read("v3").await)),
        EtcdApi::Any => {
            let v2 = read("v2").await;
            let found = v2
                .iter()
                .any(|r| r.as_ref().is_ok_and(|r| !r.by_address.is_empty()));
            if found {
                Ok(("v2".into(), v2))
            } else {
                Ok(("v3".into(), read("v3").await))
            }
        }
    }
}

/// Every member lists the same registrations: exactly the Galera nodes, each key with a time
/// to live within `max_ttl`.
fn judge_registrations(
    spec: &EtcdKeysSpec,
    api: &str,
    members: &[Endpoint],
    reads: &[Result<Registrations, String>],
    expected: &BTreeSet<String>,
    evidence: &mut Vec<String>,
) -> Vec<String> {
    let mut problems = vec![];
    let mut views: BTreeMap<BTreeSet<&String>, Vec<String>> = BTreeMap::new();
    for (m, read) in members.iter().zip(reads) {
        match read {
            Err(e) => problems.push(format!("registrations on {e}")),
            Ok(r) => {
                let listed: Vec<String> = r
                    .by_address
                    .iter()
                    .map(|(a, keys)| {
                        let ttls: Vec<String> = keys
                            .iter()
                            .map(|k| k.ttl.map_or("no TTL".into(), |t| format!("TTL {t}s")))
                            .collect();
                        format!("{a} ({})", ttls.join(", "))
                    })
                    .collect();
                evidence.push(format!(
                    "{m}: {api} /galera/{}/ lists {}",
                    spec.cluster,
                    if listed.is_empty() {
                        "nothing".to_string()
                    } else {
                        listed.join(", ")
                    }
                ));
                views
                    .entry(r.by_address.keys().collect())
                    .or_default()
                    .push(m.to_string());
            }
        }
    }
    if views.len() > 1 {
        let listed: Vec<String> = views
            .iter()
            .map(|(set, ms)| {
                format!(
                    "{} list {:?}",
                    ms.join(", "),
                    set.iter().map(|s| s.as_str()).collect::<Vec<_>>()
                )
            })
            .collect();
        problems.push(format!(
            "members disagree on the registrations ({api}): {}",
            listed.join("; ")
        ));
    }
    let Some(first) = reads.iter().find_map(|r| r.as_ref().ok()) else {
        return problems;
    };
    let registered: BTreeSet<String> = first.by_address.keys().cloned().collect();
    let missing: Vec<&String> = expected.difference(&registered).collect();
    let extra: Vec<&String> = registered.difference(expected).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "Galera node(s) not registered under /galera/{}/ ({api}): {missing:?}",
            spec.cluster
        ));
    }
    if !extra.is_empty() {
        problems.push(format!(
            "registrations for addresses that are no Galera node (stale keys?) ({api}): {extra:?}"
        ));
    }
    if let Some(max) = spec.max_ttl {
        for (address, keys) in &first.by_address {
            for key in keys {
                match key.ttl {
                    None => problems.push(format!(
                        "{} has no time to live: the registration of {address} stays after its node dies ungracefully (expected at most {})",
                        key.key,
                        humantime::format_duration(max)
                    )),
                    Some(t) if Duration::from_secs(t.unsigned_abs()) > max => problems.push(format!(
                        "{} lives {t}s, longer than max_ttl {}",
                        key.key,
                        humantime::format_duration(max)
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    problems
}

/// Watches the v2 registrations for `window` from the index they were read at: any expiry or
/// removal of a Galera node's registration, any registration of another address, and any
/// refresh with a time to live over `max_ttl` is a problem, with its time into the window.
async fn watch_v2(
    spec: &EtcdKeysSpec,
    members: &[Endpoint],
    reads: &[Result<Registrations, String>],
    expected: &BTreeSet<String>,
    window: Duration,
) -> Result<String, String> {
    let (m, start) = members
        .iter()
        .zip(reads)
        .find_map(|(m, r)| r.as_ref().ok().map(|r| (m, r)))
        .ok_or("no member to watch")?;
    let mut live: BTreeMap<String, BTreeSet<String>> = start
        .by_address
        .iter()
        .map(|(a, keys)| (a.clone(), keys.iter().map(|k| k.key.clone()).collect()))
        .collect();
    let mut index = start
        .index
        .ok_or_else(|| format!("{m}: the v2 answer carries no X-Etcd-Index to watch from"))?
        + 1;
    let began = Instant::now();
    let end = began + window;
    let mut problems = vec![];
    let mut changes = 0usize;
    let prefix = format!("/galera/{}/", spec.cluster);
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        let Some(change) = client::next_change_v2(m, &spec.cluster, index, left).await? else {
            break;
        };
        index = change.index + 1;
        changes += 1;
        let at = format!("{:.1}s", began.elapsed().as_secs_f64());
        let Some(address) = change
            .key
            .strip_prefix(&prefix)
            .and_then(|r| r.split('/').next())
            .filter(|a| !a.is_empty())
            .map(str::to_string)
        else {
            continue;
        };
        if change.removes() {
            let keys = live.entry(address.clone()).or_default();
            if change.dir {
                keys.clear();
            } else {
                keys.remove(&change.key);
            }
            if keys.is_empty() && expected.contains(&address) {
                problems.push(format!(
                    "the registration of {address} went away {at} into the {} window ({} of {}): its node is registered only part of the time (refreshed later than its time to live?)",
                    humantime::format_duration(window),
                    change.action,
                    change.key
                ));
            }
        } else {
            live.entry(address.clone())
                .or_default()
                .insert(change.key.clone());
            if !expected.contains(&address) {
                problems.push(format!(
                    "{} was registered {at} into the window ({}), but {address} is no Galera node",
                    change.key, change.action
                ));
            }
            if let Some(max) = spec.max_ttl {
                match change.ttl {
                    None if !change.dir => problems.push(format!(
                        "{} was written {at} into the window without a time to live",
                        change.key
                    )),
                    Some(t) if Duration::from_secs(t.unsigned_abs()) > max => problems.push(format!(
                        "{} was written {at} into the window with a time to live of {t}s, longer than max_ttl {}",
                        change.key,
                        humantime::format_duration(max)
                    )),
                    _ => {}
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "watched /galera/{}/ on {m} for {}: {changes} change(s), every Galera node registered throughout",
            spec.cluster,
            humantime::format_duration(window)
        ))
    } else {
        Err(problems.join("; "))
    }
}

/// v3 has no watch on the JSON gateway's request/response calls: reads the registrations every
/// half second (or window/20) for `window`.
async fn sample_v3(
    spec: &EtcdKeysSpec,
    members: &[Endpoint],
    expected: &BTreeSet<String>,
    window: Duration,
) -> Result<String, String> {
    let m = members.first().ok_or("no member to read")?;
    let every = (window / 20).clamp(Duration::from_millis(100), Duration::from_millis(500));
    let began = Instant::now();
    let mut reads = 0usize;
    while began.elapsed() < window {
        let r = client::registrations_v3(m, &spec.cluster).await?;
        reads += 1;
        let now: BTreeSet<String> = r.by_address.keys().cloned().collect();
        if &now != expected {
            return Err(format!(
                "{:.1}s into the {} window the v3 registrations were {:?}, not the Galera nodes {:?}",
                began.elapsed().as_secs_f64(),
                humantime::format_duration(window),
                now,
                expected
            ));
        }
        tokio::time::sleep(every).await;
    }
    Ok(format!(
        "read the v3 registrations on {m} {reads} times over {}: every Galera node registered each time",
        humantime::format_duration(window)
    ))
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers): etcd 3.4 clusters with the v2 API enabled, from the rig image.
    use super::*;
    use crate::testing::eps;
    use crate::verify::http::client::request;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use harness_testkit::rig;
    use serde_json::json;

    fn spec(api: EtcdApi) -> EtcdKeysSpec {
        EtcdKeysSpec {
            target: Default::default(),
            cluster: "mariadb_galera_ss".into(),
            nodes: Default::default(),
            api,
            max_ttl: None,
            stable_for: None,
        }
    }

    fn galera(ips: &[&str]) -> Vec<Endpoint> {
        ips.iter()
            .map(|ip| Endpoint::parse(&format!("{ip}:3306")).unwrap())
            .collect()
    }

    /// As the seed's discovery does: PUT /v2/keys/galera/<cluster>/<ip>/ipaddress, with a TTL
    /// when given.
    async fn register_v2(m: &Endpoint, ip: &str, ttl: Option<u64>) {
        let body = match ttl {
            Some(t) => format!("value={ip}&ttl={t}"),
            None => format!("value={ip}"),
        };
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

    const THREE: [&str; 3] = ["10.244.1.5", "10.244.2.7", "10.244.3.9"];

    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn registrations_through_v2_and_v3_match_the_galera_nodes_and_faults_are_named() {
        let (nodes, members) = rig::etcd(3).await;
        let members = eps(members);
        let expected = galera(&THREE);
        for ip in THREE {
            register_v2(&members[0], ip, Some(300)).await;
        }
        let v = check(&spec(EtcdApi::V2), &members, &expected).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary
                .starts_with("3 of the cluster's 3 members checked"),
            "{}",
            v.summary
        );
        // One member named twice (another name, the same address) is not two members.
        let mut again = members[0].clone();
        again.name = format!("{}-again", again.name);
        let twice = [
            members[0].clone(),
            again,
            members[1].clone(),
            members[2].clone(),
        ];
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
        register_v2(&members[1], "10.244.9.9", Some(300)).await;
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

        // The third member stops: named when it is one of the endpoints; and when only the
        // two live ones are named, the member list still holds it: two of three checked fails.
        nodes[2].stop().await;
        let two = galera(&["10.244.1.5", "10.244.2.7"]);
        let v = check(&spec(EtcdApi::V3), &members, &two).await;
        assert!(
            !v.passed && v.summary.contains(&format!("{}: ", members[2].name)),
            "{}",
            v.summary
        );
        let v = check(&spec(EtcdApi::V3), &members[..2], &two).await;
        assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary.contains("member e2 (ID ")
                && v.summary.contains("none of the endpoints is it: it is down or was not named (2 of the cluster's 3 members checked)"),
            "{}",
            v.summary
        );
    }

    // A member of another etcd cluster whose members have the same names: told apart by the
    // cluster ID; its registrations (none) are read too and differ.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_member_of_another_cluster_with_the_same_names_is_named() {
        let names: Vec<String> = (0..3).map(|i| format!("etcd{i}")).collect();
        let ((_a, a), (_b, b)) = tokio::join!(rig::etcd_named(&names), rig::etcd_named(&names));
        let (a, b) = (eps(a), eps(b));
        for ip in THREE {
            register_v2(&a[0], ip, Some(300)).await;
        }
        let mixed = vec![a[0].clone(), a[1].clone(), b[2].clone()];
        let v = check(&spec(EtcdApi::V2), &mixed, &galera(&THREE)).await;
        assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary
                .contains("the endpoints belong to different etcd clusters")
                && v.summary.contains(&b[2].name),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains("members disagree on the registrations"),
            "{}",
            v.summary
        );
        assert!(check(&spec(EtcdApi::V2), &a, &galera(&THREE)).await.passed);
    }

    // Registrations without a time to live, refreshed after their time to live ran out, or
    // left by a node that died (its key expires, the empty directory is no registration).
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn registrations_without_a_ttl_or_refreshed_too_late_fail_and_expired_ones_are_gone() {
        let (_nodes, members) = rig::etcd(1).await;
        let members = eps(members);
        let expected = galera(&THREE[..2]);
        let strict = EtcdKeysSpec {
            max_ttl: Some(Duration::from_secs(10)),
            stable_for: Some(Duration::from_secs(6)),
            ..spec(EtcdApi::V2)
        };
        register_v2(&members[0], THREE[0], Some(10)).await;
        register_v2(&members[0], THREE[1], None).await;
        let v = check(&strict, &members, &expected).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "/galera/mariadb_galera_ss/{}/ipaddress has no time to live",
                THREE[1]
            )),
            "{}",
            v.summary
        );

        // Refreshed every 3 s with a TTL of 2 s: absent one second in three.
        register_v2(&members[0], THREE[1], Some(10)).await;
        let stop = tokio_util::sync::CancellationToken::new();
        let refresher = async {
            while !stop.is_cancelled() {
                register_v2(&members[0], THREE[0], Some(2)).await;
                register_v2(&members[0], THREE[1], Some(10)).await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3)) => {}
                    _ = stop.cancelled() => {}
                }
            }
        };
        let judged = async {
            let v = check(&strict, &members, &expected).await;
            stop.cancel();
            v
        };
        let ((), v) = tokio::join!(refresher, judged);
        assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary
                .contains(&format!("the registration of {} went away", THREE[0]))
                && v.summary.contains("(expire of"),
            "{}",
            v.summary
        );

        // Refreshed in time, both: passes, watched. Registered before the check starts (the
        // earlier phase's 2 s key may have expired since), then refreshed beside it.
        for ip in &THREE[..2] {
            register_v2(&members[0], ip, Some(4)).await;
        }
        let stop = tokio_util::sync::CancellationToken::new();
        let refresher = async {
            while !stop.is_cancelled() {
                for ip in &THREE[..2] {
                    register_v2(&members[0], ip, Some(4)).await;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.cancelled() => {}
                }
            }
        };
        let judged = async {
            let v = check(&strict, &members, &expected).await;
            stop.cancel();
            v
        };
        let ((), v) = tokio::join!(refresher, judged);
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.evidence
                .iter()
                .any(|e| e.starts_with("watched /galera/mariadb_galera_ss/")),
            "{:?}",
            v.evidence
        );

        // A node that died: its key expires, and its empty directory is no registration.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let r = client::registrations_v2(&members[0], "mariadb_galera_ss")
            .await
            .unwrap();
        assert!(r.by_address.is_empty(), "{r:?}");
    }
}
