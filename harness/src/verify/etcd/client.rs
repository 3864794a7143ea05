//! What the etcd verifier asks a member, over the HTTP client: who it is (cluster and member
//! ID), whether it is healthy, the member list, and the Galera registrations with their time to
//! live, through the v2 keys API (with its watch, a long poll) or the v3 JSON gateway.

use crate::cluster::Endpoint;
use crate::verify::http::client::{request, request_within};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Who a member is: the cluster it belongs to and its own ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub cluster_id: String,
    pub member_id: String,
    pub version: String,
}

/// One entry of a member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
}

/// An ID as the JSON gateway writes it (a string of digits, or a number).
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn json_of(m: &Endpoint, what: &str, body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("{m}: {what} is not JSON ({e})"))
}

pub async fn identity(m: &Endpoint) -> Result<Identity, String> {
    let r = request(
        m,
        "POST",
        "/v3/maintenance/status",
        Some(("application/json", "{}".into())),
    )
    .await?;
    let v = json_of(m, "its status", &r.body)?;
    match (
        r.status,
        id_of(&v["header"]["cluster_id"]),
        id_of(&v["header"]["member_id"]),
    ) {
        (200, Some(cluster_id), Some(member_id)) => Ok(Identity {
            cluster_id,
            member_id,
            version: v["version"].as_str().unwrap_or("?").to_string(),
        }),
        _ => Err(format!(
            "{m}: no cluster and member ID in its status: HTTP {} {}",
            r.status,
            r.body.trim()
        )),
    }
}

pub async fn health(m: &Endpoint) -> Result<(), String> {
    let r = request(m, "GET", "/health", None).await?;
    let v = json_of(m, "/health", &r.body)?;
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

/// The member list as `m` sees it, with the cluster ID of its answer.
pub async fn members(m: &Endpoint) -> Result<Vec<Member>, String> {
    let r = request(
        m,
        "POST",
        "/v3/cluster/member/list",
        Some(("application/json", "{}".into())),
    )
    .await?;
    let v = json_of(m, "its member list", &r.body)?;
    let list = v["members"]
        .as_array()
        .ok_or_else(|| format!("{m}: member list without members: {}", r.body.trim()))?;
    Ok(list
        .iter()
        .map(|x| Member {
            id: id_of(&x["ID"]).unwrap_or_else(|| "?".into()),
            name: x["name"].as_str().unwrap_or("").to_string(),
            peer_urls: x["peerURLs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}

/// One live key of a registration and its time to live (`None`: it never expires).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub key: String,
    pub ttl: Option<i64>,
}

/// The registrations under `/galera/<cluster>/`: each registered address with its live keys.
/// An address whose directory holds no live key (its keys expired) is not registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registrations {
    pub by_address: BTreeMap<String, Vec<Key>>,
    /// v2: the store's index when read (a watch continues from the next one).
    pub index: Option<u64>,
}

/// The address a registration key belongs to (`/galera/<cluster>/<address>/...`).
fn address_of(key: &str, cluster: &str) -> Option<String> {
    let rest = key.strip_prefix(&format!("/galera/{cluster}/"))?;
    let address = rest.split('/').next()?;
    (!address.is_empty()).then(|| address.to_string())
}

/// Registrations through the v2 keys API (what the seed's discovery uses).
pub async fn registrations_v2(m: &Endpoint, cluster: &str) -> Result<Registrations, String> {
    let r = request(
        m,
        "GET",
        &format!("/v2/keys/galera/{cluster}?recursive=true"),
        None,
    )
    .await?;
    let index = r.header("x-etcd-index").and_then(|i| i.parse().ok());
    if r.status == 404 {
        let v: Value = serde_json::from_str(&r.body).unwrap_or_default();
        // errorCode 100: key not found (nothing registered); anything else is an error.
        if v["errorCode"] == 100 {
            return Ok(Registrations {
                index: index.or_else(|| v["index"].as_u64()),
                ..Default::default()
            });
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
    let v = json_of(m, "its v2 answer", &r.body)?;
    let mut out = Registrations {
        index,
        ..Default::default()
    };
    collect_v2(&v["node"], cluster, &mut out.by_address);
    Ok(out)
}

fn collect_v2(node: &Value, cluster: &str, out: &mut BTreeMap<String, Vec<Key>>) {
    if node["dir"].as_bool() == Some(true) {
        for child in node["nodes"].as_array().into_iter().flatten() {
            collect_v2(child, cluster, out);
        }
        return;
    }
    if let Some(key) = node["key"].as_str()
        && let Some(address) = address_of(key, cluster)
    {
        out.entry(address).or_default().push(Key {
            key: key.to_string(),
            ttl: node["ttl"].as_i64(),
        });
    }
}

/// Registrations through the v3 API (JSON gateway), each key's lease read for its TTL.
pub async fn registrations_v3(m: &Endpoint, cluster: &str) -> Result<Registrations, String> {
    let prefix = format!("/galera/{cluster}/");
    let mut end = prefix.clone().into_bytes();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    let body =
        json!({"key": B64.encode(prefix.as_bytes()), "range_end": B64.encode(&end)}).to_string();
    let r = request(m, "POST", "/v3/kv/range", Some(("application/json", body))).await?;
    if r.status != 200 {
        return Err(format!(
            "{m}: v3 range: HTTP {} {}",
            r.status,
            r.body.trim()
        ));
    }
    let v = json_of(m, "its v3 answer", &r.body)?;
    let mut out = Registrations::default();
    let mut leases: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for kv in v["kvs"].as_array().into_iter().flatten() {
        let Some(key) = kv["key"]
            .as_str()
            .and_then(|k| B64.decode(k).ok())
            .and_then(|k| String::from_utf8(k).ok())
        else {
            continue;
        };
        let Some(address) = address_of(&key, cluster) else {
            continue;
        };
        let ttl = match id_of(&kv["lease"]).filter(|l| l != "0") {
            None => None,
            Some(lease) => match leases.get(&lease) {
                Some(ttl) => *ttl,
                None => {
                    let ttl = lease_ttl(m, &lease).await?;
                    leases.insert(lease, ttl);
                    ttl
                }
            },
        };
        out.by_address
            .entry(address)
            .or_default()
            .push(Key { key, ttl });
    }
    Ok(out)
}

/// The time a v3 lease has left (its keys go with it), `None` when it has none.
async fn lease_ttl(m: &Endpoint, lease: &str) -> Result<Option<i64>, String> {
    let body = json!({ "ID": lease }).to_string();
    let r = request(
        m,
        "POST",
        "/v3/lease/timetolive",
        Some(("application/json", body)),
    )
    .await?;
    let v = json_of(m, "its lease answer", &r.body)?;
    Ok(match &v["TTL"] {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .filter(|t| *t >= 0))
}

/// A change to the registrations, as the v2 watch reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The store's index of the change (the watch continues after it).
    pub index: u64,
    /// `set`, `create`, `update`, `compareAndSwap`, `delete`, `expire`, `compareAndDelete`.
    pub action: String,
    pub key: String,
    pub dir: bool,
    pub ttl: Option<i64>,
}

impl Change {
    /// Whether the change removes the key (or, for a directory, everything under it).
    pub fn removes(&self) -> bool {
        matches!(
            self.action.as_str(),
            "delete" | "expire" | "compareAndDelete"
        )
    }
}

/// The next change under `/galera/<cluster>` from `from_index` on (a v2 long poll), or `None`
/// when nothing changed within `limit`.
pub async fn next_change_v2(
    m: &Endpoint,
    cluster: &str,
    from_index: u64,
    limit: Duration,
) -> Result<Option<Change>, String> {
    let path = format!("/v2/keys/galera/{cluster}?wait=true&recursive=true&waitIndex={from_index}");
    let r = match request_within(m, "GET", &path, None, limit).await {
        Ok(r) => r,
        // The long poll simply ran out: nothing changed.
        Err(e) if e.contains("no answer within") => return Ok(None),
        Err(e) => return Err(e),
    };
    if r.status != 200 {
        return Err(format!(
            "{m}: v2 watch: HTTP {} {}",
            r.status,
            r.body.trim()
        ));
    }
    let v = json_of(m, "its v2 watch answer", &r.body)?;
    let node = &v["node"];
    Ok(Some(Change {
        index: node["modifiedIndex"].as_u64().unwrap_or(from_index),
        action: v["action"].as_str().unwrap_or("?").to_string(),
        key: node["key"].as_str().unwrap_or("").to_string(),
        dir: node["dir"].as_bool() == Some(true),
        ttl: node["ttl"].as_i64(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): a recursive v2 listing, as etcd 3.4 answers it; an empty directory (its
    // key expired) is no registration.
    #[test]
    fn v2_listing_keeps_live_keys_with_their_ttl() {
        let v: Value = serde_json::from_str(
            r#"{"action":"get","node":{"key":"/galera/c","dir":true,"nodes":[
              {"key":"/galera/c/10.0.0.1","dir":true,"nodes":[
                 {"key":"/galera/c/10.0.0.1/ipaddress","value":"10.0.0.1","ttl":9}]},
              {"key":"/galera/c/10.0.0.2","dir":true},
              {"key":"/galera/c/10.0.0.3","dir":true,"nodes":[
                 {"key":"/galera/c/10.0.0.3/ipaddress","value":"10.0.0.3"}]}]}}"#,
        )
        .unwrap();
        let mut out = BTreeMap::new();
        collect_v2(&v["node"], "c", &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out["10.0.0.1"][0].ttl, Some(9));
        assert_eq!(out["10.0.0.3"][0].ttl, None);
        assert_eq!(
            address_of("/galera/c/10.0.0.9/seqno", "c").as_deref(),
            Some("10.0.0.9")
        );
        assert_eq!(address_of("/galera/other/10.0.0.9", "c"), None);
    }
}
