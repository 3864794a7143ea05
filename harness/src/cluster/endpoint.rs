//! One server to talk to: a display name (pod name, or the address as given), where to reach it,
//! and the address its own cluster knows it by.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// The address the server is known by inside its cluster (pod IP), when that differs.
    pub advertised: Option<String>,
    /// The Kubernetes node it runs on, when known (pods).
    pub node: Option<String>,
    /// For a proxy reached from an application pod: what that pod dials, and where it is.
    pub via: Option<Via>,
}

/// What an application pod dials to reach "its own node's" proxy (`$NODE_NAME`), and where
/// the pod itself runs, so a check can tell a pod that dials another node's proxy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Via {
    pub pod: String,
    /// The variable it dials and its value in the pod (`NODE_NAME`, `kind-worker2`).
    pub variable: String,
    pub value: String,
    /// The addresses the value resolves to in the pod.
    pub resolves_to: Vec<String>,
    /// The pod's node's address (`status.hostIP`).
    pub host_ip: Option<String>,
}

impl Via {
    /// Whether the pod dials its own node: the variable holds the node's name or address, or
    /// resolves to the node's address.
    pub fn dials_own_node(&self, node: &str) -> bool {
        self.value == node
            || self.host_ip.as_deref() == Some(self.value.as_str())
            || self
                .host_ip
                .as_ref()
                .is_some_and(|ip| self.resolves_to.contains(ip))
    }
}

impl Endpoint {
    /// Parses `HOST:PORT` (`[v6]:PORT` for IPv6), where HOST is an IP address or a DNS name
    /// (letters, digits, `-`, `_`, `.`; at most 253 characters): nothing else is looked up.
    pub fn parse(text: &str) -> Option<Self> {
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().ok()?;
        let name_like = host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if host.is_empty() || port == 0 || !(name_like || host.parse::<std::net::IpAddr>().is_ok())
        {
            return None;
        }
        Some(Self {
            name: text.to_string(),
            host: host.to_string(),
            port,
            advertised: None,
            node: None,
            via: None,
        })
    }

    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The address other members of the cluster know this server by.
    pub fn cluster_address(&self) -> &str {
        self.advertised.as_deref().unwrap_or(&self.host)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
impl From<harness_testkit::Server> for Endpoint {
    fn from(s: harness_testkit::Server) -> Self {
        Self {
            name: s.name,
            host: s.host,
            port: s.port,
            advertised: s.advertised,
            node: None,
            via: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn parses_endpoints() {
        let e = Endpoint::parse("10.0.0.1:3306").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("10.0.0.1", 3306));
        assert_eq!(
            Endpoint::parse("[::1]:11211").unwrap().address(),
            "[::1]:11211"
        );
        for bad in ["nohost", ":80", "h:0", "h:99999", "h:x"] {
            assert!(Endpoint::parse(bad).is_none(), "{bad}");
        }
    }
}
