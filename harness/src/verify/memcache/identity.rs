//! Who a memcached server or a proxy is, from its own `stats`: a memcached answers with its
//! `pid`, `time`, `uptime`, `version` and memory limit; mcrouter answers with its pid, version
//! and start time but no memory limit; twemproxy does not answer `stats` on its data port at
//! all (it closes the connection). Deterministic: nothing depends on where a probe key hashes.

use super::client::stats;
use crate::cluster::Endpoint;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long `stats` may take.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(5);

/// What a memcached server says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub pid: String,
    /// `time - uptime`: when the process started (seconds since the epoch).
    pub started: i64,
    pub version: String,
    /// `limit_maxbytes`: the memory it may use for items.
    pub max_bytes: u64,
    /// Counters that grow when it refuses (`store_no_memory`, `store_too_large`) or drops
    /// (`evictions`) items.
    pub refused: u64,
    pub evictions: u64,
}

impl Server {
    pub fn describe(&self) -> String {
        format!(
            "memcached {} (pid {}, up since {}, {} MiB for items)",
            self.version,
            self.pid,
            self.started,
            self.max_bytes / (1024 * 1024)
        )
    }
}

fn number(stats: &BTreeMap<String, String>, key: &str) -> Option<i64> {
    stats.get(key).and_then(|v| v.trim().parse().ok())
}

/// A memcached server from its `stats`, or why the answer is not one a memcached gives.
pub fn server_of(stats: &BTreeMap<String, String>) -> Result<Server, String> {
    let version = stats.get("version").cloned().unwrap_or_default();
    if version.contains("mcrouter") || stats.contains_key("commandargs") {
        return Err(format!(
            "it answers `stats` as mcrouter {version} does: a proxy, not a memcached server"
        ));
    }
    let missing: Vec<&str> = ["pid", "uptime", "time", "version", "limit_maxbytes"]
        .into_iter()
        .filter(|k| !stats.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "its `stats` lack {} (a memcached server reports them)",
            missing.join(", ")
        ));
    }
    let (time, uptime) = (number(stats, "time"), number(stats, "uptime"));
    Ok(Server {
        pid: stats["pid"].clone(),
        started: time.zip(uptime).map_or(0, |(t, u)| t - u),
        version,
        max_bytes: number(stats, "limit_maxbytes").unwrap_or(0).max(0) as u64,
        refused: ["store_no_memory", "store_too_large"]
            .iter()
            .filter_map(|k| number(stats, k))
            .map(|n| n.max(0) as u64)
            .sum(),
        evictions: number(stats, "evictions").unwrap_or(0).max(0) as u64,
    })
}

/// Asks `endpoint` who it is; `Err` says why it is no memcached server, or that it did not
/// answer at all.
pub async fn server(endpoint: &Endpoint) -> Result<Server, String> {
    let answer = stats(endpoint, "", STATS_TIMEOUT).await.map_err(|e| {
        if e.cause.starts_with("cannot connect") {
            format!("{endpoint}: {}", e.cause)
        } else if e.cause.contains("without answering") || e.cause.contains("does not know") {
            format!("{endpoint} is not a memcached server: it {}", e.cause)
        } else {
            format!("{endpoint}: cannot ask who it is (`stats`): {}", e.cause)
        }
    })?;
    server_of(&answer).map_err(|why| format!("{endpoint} is not a memcached server: {why}"))
}

/// Whether evictions are on (`stats settings`), for the evidence.
pub async fn evictions_setting(endpoint: &Endpoint) -> Option<String> {
    stats(endpoint, "settings", STATS_TIMEOUT)
        .await
        .ok()?
        .get("evictions")
        .cloned()
}

/// What a proxy says about itself, when it answers `stats` (mcrouter, or a memcached used as
/// one): enough to tell one process reached at two addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub pid: String,
    pub started: i64,
    pub version: String,
    /// A counter of the gets it served (`cmd_get_count` on mcrouter, `cmd_get` on memcached).
    pub gets_counter: Option<(String, u64)>,
}

pub fn proxy_of(stats: &BTreeMap<String, String>) -> Option<Proxy> {
    let (time, uptime) = (number(stats, "time")?, number(stats, "uptime")?);
    let counter = ["cmd_get_count", "cmd_get"]
        .into_iter()
        .find_map(|k| number(stats, k).map(|n| (k.to_string(), n.max(0) as u64)));
    Some(Proxy {
        pid: stats.get("pid")?.clone(),
        started: time - uptime,
        version: stats.get("version").cloned().unwrap_or_default(),
        gets_counter: counter,
    })
}

/// Asks a proxy who it is: `Ok(None)` when it answers but cannot say (twemproxy has no
/// `stats`), `Err` when it cannot be reached at all (nothing was told apart then).
pub async fn proxy(endpoint: &Endpoint) -> Result<Option<Proxy>, String> {
    match stats(endpoint, "", STATS_TIMEOUT).await {
        Ok(stats) => Ok(proxy_of(&stats)),
        Err(e) if e.to_string().contains("cannot connect") => Err(e.to_string()),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    // Layer 1 (pure): `stats` answers as memcached 1.6 and mcrouter give them.
    #[test]
    fn a_memcached_is_told_from_a_proxy_by_its_stats() {
        let memcached = map(&[
            ("pid", "1"),
            ("uptime", "4"),
            ("time", "1796033696"),
            ("version", "1.6.18"),
            ("limit_maxbytes", "67108864"),
            ("store_no_memory", "3"),
            ("evictions", "2"),
        ]);
        let s = server_of(&memcached).unwrap();
        assert_eq!(
            (s.started, s.max_bytes, s.refused, s.evictions),
            (1796033692, 67108864, 3, 2)
        );
        let mcrouter = map(&[
            ("pid", "7"),
            ("uptime", "4"),
            ("time", "1796033696"),
            ("version", "mcrouter 0.36.0"),
            ("commandargs", "-p 5000"),
            ("cmd_get_count", "12"),
        ]);
        assert!(server_of(&mcrouter).unwrap_err().contains("mcrouter"));
        let p = proxy_of(&mcrouter).unwrap();
        assert_eq!(p.gets_counter, Some(("cmd_get_count".into(), 12)));
        assert!(
            server_of(&map(&[("pid", "1")]))
                .unwrap_err()
                .contains("lack uptime")
        );
    }
}
