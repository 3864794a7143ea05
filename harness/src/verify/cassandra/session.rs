//! A CQL session through the port-forward bridges that reaches every node: each target is
//! asked who it is over a connection of its own ([`probe`]), and the driver's address
//! translator maps each node's host ID to where that node answered (a node's own address in
//! `system.local` is `0.0.0.0` before Cassandra 4.1, and a replaced pod comes back at a new
//! IP). Also the read of one query with every node as coordinator, which the `cql` check and
//! the `cql.writes` read-back share.

use super::probe::{self, Identity};
use crate::cluster::Endpoint;
use crate::verify::bounded;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{CustomTranslationError, TranslationError};
use scylla::policies::address_translator::{AddressTranslator, UntranslatedPeer};
use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};
use scylla::statement::{Consistency, Statement};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use uuid::Uuid;

pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The targets, each with what the node behind it said about itself ([`probe`]): the one
/// source of who is where. The driver learns a node's address from `system.local.rpc_address`,
/// which Cassandra before 4.1 fills with the configured address (`0.0.0.0` in the official
/// image), and a replaced pod comes back at a new IP; a node's host ID survives both.
#[derive(Debug)]
pub struct Nodes {
    targets: Vec<Identified>,
    /// Whether the targets are pods behind bridges (no other way in).
    bridged: bool,
}

#[derive(Debug)]
struct Identified {
    endpoint: Endpoint,
    /// Where it was reached from here (a bridge's local address, or the server's own).
    local: SocketAddr,
    who: Identity,
}

impl Nodes {
    /// Asks every target who it is (in parallel, each within [`CONNECT_TIMEOUT`]). Fails
    /// naming them when two targets lead to one node (the same place, or the same host ID) or
    /// when they belong to different clusters. Host names are resolved here.
    pub async fn identify(nodes: &[Endpoint], login: Option<(&str, &str)>) -> Result<Self, String> {
        Self::identify_some(nodes, login, false).await
    }

    /// [`Nodes::identify`]; with `tolerant`, targets that do not answer are left out (at
    /// least one must answer): for a clean-up, which needs one node, not every one.
    async fn identify_some<'a>(
        nodes: &'a [Endpoint],
        login: Option<(&str, &str)>,
        tolerant: bool,
    ) -> Result<Self, String> {
        let mut bridged = false;
        // Where each target leads (its resolved addresses, or the pod IP behind a bridge): two
        // targets that lead to one place are one node named twice.
        let mut reached: HashMap<String, &Endpoint> = HashMap::new();
        let mut once = |n: &'a Endpoint, place: String| match reached.insert(place.clone(), n) {
            Some(other) => Err(format!(
                "{other} and {n} are the same Cassandra node (both reach {place}): name each node once"
            )),
            _ => Ok(()),
        };
        let mut firsts = vec![];
        for n in nodes {
            let locals: Vec<SocketAddr> = match n.address().parse() {
                Ok(addr) => vec![addr],
                Err(_) => tokio::net::lookup_host(n.address())
                    .await
                    .map_err(|e| format!("{n}: {e}"))?
                    .collect(),
            };
            let Some(&first) = locals.first() else {
                return Err(format!("{n}: the name resolves to no address"));
            };
            match &n.advertised {
                Some(ip) => {
                    bridged = true;
                    let ip: IpAddr = ip
                        .parse()
                        .map_err(|e| format!("{n}: advertised address {ip}: {e}"))?;
                    once(n, ip.to_string())?;
                }
                None => {
                    let places: BTreeSet<SocketAddr> = locals.iter().copied().collect();
                    for a in places {
                        once(n, a.to_string())?;
                    }
                }
            }
            firsts.push((n, first));
        }
        let asked = firsts.into_iter().map(|(n, local)| async move {
            let who = bounded(&format!("connecting to {n}"), CONNECT_TIMEOUT, async {
                let mut stream = tokio::net::TcpStream::connect(local)
                    .await
                    .map_err(|e| e.to_string())?;
                probe::identify(&mut stream, login).await
            })
            .await?;
            Ok::<_, String>(Identified {
                endpoint: n.clone(),
                local,
                who,
            })
        });
        let answers = futures::future::join_all(asked).await;
        let targets: Vec<Identified> = if tolerant {
            let first_error = answers.iter().find_map(|a| a.as_ref().err().cloned());
            let answered: Vec<Identified> = answers.into_iter().filter_map(Result::ok).collect();
            if answered.is_empty() {
                return Err(first_error.unwrap_or_else(|| "no CQL endpoint".into()));
            }
            answered
        } else {
            answers.into_iter().collect::<Result<_, _>>()?
        };
        let mut by_host: HashMap<Uuid, &Identified> = HashMap::new();
        for t in &targets {
            if let Some(other) = by_host.insert(t.who.host_id, t) {
                return Err(format!(
                    "{} and {} are the same Cassandra node (both answer as host ID {}): name each node once",
                    other.endpoint, t.endpoint, t.who.host_id
                ));
            }
        }
        let clusters: BTreeSet<&str> = targets
            .iter()
            .map(|t| t.who.cluster_name.as_str())
            .collect();
        if clusters.len() > 1 {
            let each: Vec<String> = targets
                .iter()
                .map(|t| format!("{} in {:?}", t.endpoint, t.who.cluster_name))
                .collect();
            return Err(format!(
                "the targets belong to {} different clusters: {}",
                clusters.len(),
                each.join(", ")
            ));
        }
        Ok(Nodes { targets, bridged })
    }

    fn by_host(&self, host_id: Uuid) -> Option<&Identified> {
        self.targets.iter().find(|t| t.who.host_id == host_id)
    }

    /// Where the node with `host_id`, which the driver found at `untranslated`, is reached
    /// from here: where that node answered when asked who it was. Behind bridges a node that
    /// is not a target has no way in; a static node that is not a target is reached where it
    /// says it is, unless it gives no address (`0.0.0.0`).
    pub fn translate(&self, host_id: Uuid, untranslated: SocketAddr) -> Result<SocketAddr, String> {
        match self.by_host(host_id) {
            Some(t) => Ok(t.local),
            None if self.bridged => Err(format!(
                "{} (host ID {host_id}) is not one of the targets: behind the port-forwards there is no way to reach it",
                untranslated.ip()
            )),
            None if untranslated.ip().is_unspecified() => Err(format!(
                "host ID {host_id} gives its address as {} and is not one of the targets",
                untranslated.ip()
            )),
            None => Ok(untranslated),
        }
    }

    /// The address the node's peers know it by: what the driver found, unless that is no
    /// address (`0.0.0.0`, Cassandra before 4.1), then what the node broadcasts.
    pub fn address_of(&self, host_id: Uuid, driver: IpAddr) -> IpAddr {
        match self.by_host(host_id) {
            Some(t) if driver.is_unspecified() => t.who.broadcast_address.unwrap_or(driver),
            _ => driver,
        }
    }

    /// A node as the user knows it: the target's name and the address its peers know it by
    /// (behind bridges), or the address when it is no target.
    pub fn label(&self, host_id: Uuid, driver: IpAddr) -> String {
        let ip = self.address_of(host_id, driver);
        match self.by_host(host_id) {
            Some(t) if self.bridged => format!("{} ({ip})", t.endpoint.name),
            Some(t) => t.endpoint.name.clone(),
            None => ip.to_string(),
        }
    }

    /// What each target said about itself, for the evidence.
    /// Each target and the release it says it runs (its own `system.local`).
    pub fn versions(&self) -> Vec<(String, String)> {
        self.targets
            .iter()
            .map(|t| (t.endpoint.to_string(), t.who.release_version.clone()))
            .collect()
    }

    pub fn describe(&self) -> Vec<String> {
        self.targets
            .iter()
            .map(|t| {
                let local_rpc = match t.who.rpc_address {
                    Some(ip) if ip.is_unspecified() => format!(
                        ", system.local.rpc_address {ip} (the configured address, as before Cassandra 4.1): reached as host ID"
                    ),
                    _ => String::new(),
                };
                format!(
                    "{} is host ID {} of cluster {:?}, Cassandra {}, broadcasting {}{local_rpc}",
                    t.endpoint,
                    t.who.host_id,
                    t.who.cluster_name,
                    t.who.release_version,
                    t.who
                        .broadcast_address
                        .map_or("no address".to_string(), |a| a.to_string())
                )
            })
            .collect()
    }
}

/// The driver's address translation, by host ID through [`Nodes`].
#[derive(Debug)]
struct ByHostId(Arc<Nodes>);

#[async_trait::async_trait]
impl AddressTranslator for ByHostId {
    async fn translate_address(
        &self,
        peer: &UntranslatedPeer,
    ) -> Result<SocketAddr, TranslationError> {
        self.0
            .translate(peer.host_id(), peer.untranslated_address())
            .map_err(|why| {
                TranslationError::Custom(CustomTranslationError::new(Untranslatable(why)))
            })
    }
}

/// Why a node cannot be reached from here.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Untranslatable(String);

/// A driver session through the targets, with who each target is.
pub struct Connected {
    pub session: Session,
    pub nodes: Arc<Nodes>,
}

/// Asks each target who it is, then opens a driver session through them (address translation
/// by host ID), logged in.
pub async fn session(
    nodes: &[Endpoint],
    login: Option<(String, String)>,
) -> Result<Connected, String> {
    session_of(nodes, login, false).await
}

/// [`session`] through the targets that answer (at least one): what a clean-up needs.
pub async fn session_through_any(
    nodes: &[Endpoint],
    login: Option<(String, String)>,
) -> Result<Connected, String> {
    session_of(nodes, login, true).await
}

async fn session_of(
    nodes: &[Endpoint],
    login: Option<(String, String)>,
    tolerant: bool,
) -> Result<Connected, String> {
    let as_ref = login.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
    let identified = Arc::new(Nodes::identify_some(nodes, as_ref, tolerant).await?);
    // The driver's first contact is a node that answered.
    let first = identified
        .targets
        .first()
        .map(|t| &t.endpoint)
        .ok_or("no CQL endpoint")?;
    let mut builder = SessionBuilder::new()
        // A host name is resolved by the driver.
        .known_node(first.address())
        .address_translator(Arc::new(ByHostId(identified.clone())))
        // No check reads schema metadata; skipping it keeps connecting cheap on big schemas.
        .fetch_schema_metadata(false)
        .fetch_full_schema_metadata(false);
    if let Some((user, password)) = login {
        builder = builder.user(user, password);
    }
    let session = bounded(
        &format!("connecting to {first}"),
        CONNECT_TIMEOUT,
        builder.build(),
    )
    .await?;
    Ok(Connected {
        session,
        nodes: identified,
    })
}

/// Why a read with one node as coordinator failed, and whether waiting could change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub why: String,
    /// The node cannot be reached from here at all (it is not a target, or no address leads
    /// to it): retrying is pointless.
    pub lasting: bool,
}

/// Whether the driver failed because no address leads to the node, which no wait can change.
fn lasting(e: &scylla::errors::ExecutionError) -> bool {
    use scylla::errors::{ConnectionError, ConnectionPoolError, ExecutionError};
    matches!(
        e,
        ExecutionError::ConnectionPoolError(ConnectionPoolError::Broken {
            last_connection_error: ConnectionError::TranslationError(_),
        })
    )
}

/// `query` read with each node the driver knows as the coordinator: (that node as the user knows
/// it, the rows' first column as text, or why it failed).
pub async fn read_from_every_node(
    connected: &Connected,
    query: &str,
    level: Consistency,
) -> Vec<(String, Result<BTreeSet<String>, Unread>)> {
    let (session, nodes) = (&connected.session, &connected.nodes);
    let mut out = vec![];
    for node in session.get_cluster_state().get_nodes_info() {
        let who = nodes.label(node.host_id, node.address.ip());
        if let Err(why) = nodes.translate(
            node.host_id,
            SocketAddr::new(node.address.ip(), node.address.port()),
        ) {
            out.push((who, Err(Unread { why, lasting: true })));
            continue;
        }
        let profile = ExecutionProfile::builder()
            .load_balancing_policy(SingleTargetLoadBalancingPolicy::new(
                NodeIdentifier::Node(node.clone()),
                None,
            ))
            .build();
        let mut statement = Statement::new(query.to_string());
        statement.set_consistency(level);
        statement.set_execution_profile_handle(Some(profile.into_handle()));
        let what = format!("{who} as coordinator");
        let read = async {
            let result = match tokio::time::timeout(
                STATEMENT_TIMEOUT,
                session.query_unpaged(statement, &[]),
            )
            .await
            {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    return Err(Unread {
                        why: format!("{what}: {e}"),
                        lasting: lasting(&e),
                    });
                }
                Err(_) => {
                    return Err(Unread {
                        why: format!("{what}: no answer within {}s", STATEMENT_TIMEOUT.as_secs()),
                        lasting: false,
                    });
                }
            };
            let failed = |why: String| Unread {
                why,
                lasting: false,
            };
            let rows = result
                .into_rows_result()
                .map_err(|e| failed(format!("{who}: not a rows result: {e}")))?;
            let ids = rows
                .rows::<(String,)>()
                .map_err(|e| failed(format!("{who}: {e}")))?
                .filter_map(Result::ok)
                .map(|(id,)| id)
                .collect::<BTreeSet<String>>();
            Ok(ids)
        }
        .await;
        out.push((who, read));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): the address translation table.
    fn identified(name: &str, local: &str, ip: Option<&str>, host: u128) -> Identified {
        let mut endpoint = Endpoint::parse(local).unwrap();
        endpoint.name = name.into();
        endpoint.advertised = ip.map(str::to_string);
        Identified {
            endpoint,
            local: local.parse().unwrap(),
            who: Identity {
                host_id: Uuid::from_u128(host),
                cluster_name: "ring".into(),
                release_version: "4.0.13".into(),
                rpc_address: Some(IpAddr::from([0, 0, 0, 0])),
                broadcast_address: ip.and_then(|ip| ip.parse().ok()),
            },
        }
    }

    #[test]
    fn nodes_are_reached_by_host_id_whatever_address_the_driver_found() {
        let id = Uuid::from_u128;
        let bridged = Nodes {
            bridged: true,
            targets: vec![
                identified("cassandra-0", "127.0.0.1:40001", Some("10.244.1.5"), 1),
                identified("cassandra-1", "127.0.0.1:40002", Some("10.244.1.6"), 2),
            ],
        };
        let bridge_1: SocketAddr = "127.0.0.1:40002".parse().unwrap();
        // system.local's 0.0.0.0 (Cassandra before 4.1), the pod IP paired with any port,
        // and the new IP of a replaced pod: the host ID decides.
        for found in ["0.0.0.0:40001", "10.244.1.6:9042", "10.244.7.7:40001"] {
            assert_eq!(
                bridged.translate(id(2), found.parse().unwrap()),
                Ok(bridge_1)
            );
        }
        // The IP of another node does not lead there: a stale address is no way in.
        assert_eq!(
            bridged.translate(id(1), "10.244.1.6:9042".parse().unwrap()),
            Ok("127.0.0.1:40001".parse().unwrap())
        );
        // Behind bridges, a node outside the targets cannot be reached.
        let out = bridged.translate(id(9), "10.244.9.9:9042".parse().unwrap());
        assert!(out.unwrap_err().contains("is not one of the targets"));
        // The address shown is the one its peers know, never 0.0.0.0.
        assert_eq!(
            bridged.label(id(2), "0.0.0.0".parse().unwrap()),
            "cassandra-1 (10.244.1.6)"
        );
        assert_eq!(
            bridged.label(id(9), "10.244.9.9".parse().unwrap()),
            "10.244.9.9"
        );
        // Static servers: known ones where they answered, other peers where they say they
        // are, unless they give no address.
        let direct = Nodes {
            bridged: false,
            targets: vec![identified("192.0.2.7:9042", "192.0.2.7:9042", None, 1)],
        };
        assert_eq!(
            direct.translate(id(1), "0.0.0.0:9042".parse().unwrap()),
            Ok("192.0.2.7:9042".parse().unwrap())
        );
        assert_eq!(
            direct.translate(id(3), "192.0.2.8:9042".parse().unwrap()),
            Ok("192.0.2.8:9042".parse().unwrap())
        );
        assert!(
            direct
                .translate(id(3), "0.0.0.0:9042".parse().unwrap())
                .is_err()
        );
    }
}
