//! MariaDB Galera: what its verifiers share (connecting to a node with mysql_async, bounded by a
//! timeout, and reading `wsrep_%` status variables), and one file per verifier: `status`,
//! `sync`, `acknowledged_writes`; the isolation workloads' transactions (`isolation`).

pub mod acknowledged_writes;
pub mod components;
pub mod isolation;
pub mod readiness;
pub mod status;
pub mod sync;

use crate::cluster::Endpoint;
use crate::verify::{VerifyContext, bounded_on};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log line.
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// The login a verify step resolved; `root` when the scenario names no user.
    pub fn of(cx: &VerifyContext<'_>) -> Self {
        Self {
            user: cx.login.user.clone().unwrap_or_else(|| "root".into()),
            password: cx.login.password.clone(),
        }
    }
}

pub async fn connect(node: &Endpoint, login: &Login) -> Result<Conn, String> {
    connect_within(node, login, CONNECT_TIMEOUT).await
}

/// [`connect`] with its own bound (writers under load use a shorter one).
pub async fn connect_within(
    node: &Endpoint,
    login: &Login,
    limit: Duration,
) -> Result<Conn, String> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(node.host.clone())
        .tcp_port(node.port)
        .prefer_socket(false)
        .user(Some(login.user.clone()))
        .pass(login.password.clone());
    bounded_on(&node.address(), "cannot connect", limit, Conn::new(opts)).await
}

/// Runs a statement with a timeout; errors come back as text.
pub async fn run(conn: &mut Conn, sql: &str) -> Result<(), String> {
    run_within(conn, sql, QUERY_TIMEOUT).await
}

/// [`run`] with its own bound.
pub async fn run_within(conn: &mut Conn, sql: &str, limit: Duration) -> Result<(), String> {
    bounded_on(
        &address_of(conn),
        &format!("`{sql}`"),
        limit,
        conn.query_drop(sql),
    )
    .await
}

/// The address a connection was opened to, as [`Endpoint::address`] writes it (the step's
/// journal matches it to the endpoint's name).
fn address_of(conn: &Conn) -> String {
    let opts = conn.opts();
    let host = opts.ip_or_hostname();
    if host.contains(':') {
        format!("[{host}]:{}", opts.tcp_port())
    } else {
        format!("{host}:{}", opts.tcp_port())
    }
}

/// Rows of a query as tuples of text.
pub async fn rows(conn: &mut Conn, sql: &str) -> Result<Vec<(String, String)>, String> {
    bounded_on(
        &address_of(conn),
        &format!("`{sql}`"),
        QUERY_TIMEOUT,
        conn.query::<(String, String), _>(sql),
    )
    .await
}

/// Rows of a query, typed.
pub async fn bounded_query<T: mysql_async::prelude::FromRow + Send + 'static>(
    conn: &mut Conn,
    sql: &str,
) -> Result<Vec<T>, String> {
    bounded_on(
        &address_of(conn),
        &format!("`{sql}`"),
        QUERY_TIMEOUT,
        conn.query::<T, _>(sql),
    )
    .await
}

/// `wsrep_%` status variables, keys lower-cased.
pub async fn wsrep_status(conn: &mut Conn) -> Result<BTreeMap<String, String>, String> {
    let rows = rows(conn, "SHOW GLOBAL STATUS LIKE 'wsrep_%'").await?;
    Ok(rows
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect())
}

/// Creates `db` and runs `statements` in it on the first node that answers (Galera
/// replicates them to the others); `Err` says why no node could.
pub async fn create_database(
    nodes: &[Endpoint],
    login: &Login,
    db: &str,
    statements: &[String],
) -> Result<(), String> {
    let mut errors = vec![];
    for node in nodes {
        let mut conn = match connect(node, login).await {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("{node}: {e}"));
                continue;
            }
        };
        let r = async {
            run(&mut conn, &format!("CREATE DATABASE {db}")).await?;
            for sql in statements {
                run(&mut conn, sql).await?;
            }
            Ok::<(), String>(())
        }
        .await;
        let _ = conn.disconnect().await;
        return r.map_err(|e| format!("{node}: {e}"));
    }
    Err(format!(
        "no node could create the table: {}",
        errors.join("; ")
    ))
}

/// Registers dropping `db` as a clean-up of the scenario (see [`drop_database`]).
pub fn drop_later(undo: Option<&crate::verify::Undo>, nodes: &[Endpoint], login: &Login, db: &str) {
    let Some(undo) = undo else {
        return;
    };
    let (nodes, login, db) = (nodes.to_vec(), login.clone(), db.to_string());
    undo.register(format!("drop database {db}"), async move {
        drop_database(&nodes, &login, &db).await
    });
}

/// Drops `db`: tries each node until the `DROP` succeeds on one that is in the Primary
/// component (a partitioned node refuses it, or would drop only its own copy), then confirms
/// on every node that answers that the database is gone. `Err` names what was left where.
pub async fn drop_database(nodes: &[Endpoint], login: &Login, db: &str) -> Result<(), String> {
    let mut errors = vec![];
    let mut dropped_on = None;
    for node in nodes {
        let attempt = async {
            let mut conn = connect(node, login).await?;
            let result = async {
                let primary = rows(&mut conn, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'")
                    .await?
                    .into_iter()
                    .next()
                    .map(|(_, v)| v);
                if let Some(status) = primary.filter(|s| s != "Primary") {
                    return Err(format!(
                        "not in the Primary component (wsrep_cluster_status {status})"
                    ));
                }
                run(&mut conn, &format!("DROP DATABASE IF EXISTS {db}")).await
            }
            .await;
            let _ = conn.disconnect().await;
            result
        }
        .await;
        match attempt {
            Ok(()) => {
                dropped_on = Some(node);
                break;
            }
            Err(e) => errors.push(format!("{node}: {e}")),
        }
    }
    let Some(dropped_on) = dropped_on else {
        return Err(format!(
            "database {db} left on the servers: no node could drop it ({})",
            errors.join("; ")
        ));
    };
    // Confirm on every node of the Primary component that the drop replicated there. A node
    // outside it (partitioned) cannot be read; it applies the drop when it rejoins, or is
    // given a full state transfer: noted, not a failure.
    let mut left = vec![];
    let mut later = vec![];
    for node in nodes {
        let seen = async {
            let mut conn = connect(node, login).await?;
            let r = async {
                let status = rows(&mut conn, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'")
                    .await?
                    .into_iter()
                    .next()
                    .map(|(_, v)| v);
                if status.as_deref().is_some_and(|s| s != "Primary") {
                    return Ok(None);
                }
                // Causal read: the drop is applied on this node before it answers.
                if status.is_some() {
                    run(&mut conn, "SET SESSION wsrep_sync_wait = 1").await?;
                }
                rows(
                    &mut conn,
                    &format!(
                        "SELECT SCHEMA_NAME, 'db' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{db}'"
                    ),
                )
                .await
                .map(Some)
            }
            .await;
            let _ = conn.disconnect().await;
            r
        }
        .await;
        match seen {
            Ok(Some(found)) if found.is_empty() => {}
            Ok(Some(_)) => left.push(format!("{node} still has it")),
            Ok(None) => later.push(format!("{node} (not in the Primary component)")),
            Err(e) => later.push(format!("{node} (unreachable: {e})")),
        }
    }
    if !later.is_empty() {
        tracing::warn!(
            "database {db} dropped on {dropped_on}; not confirmed on {}: they apply it when they rejoin",
            later.join(", ")
        );
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "database {db} dropped on {dropped_on}, but {}",
            left.join("; ")
        ))
    }
}

/// The settings Galera requires (MariaDB's list of mandatory options), each with the value it
/// must have; `galera.status` names a node whose setting differs.
pub const REQUIRED_SETTINGS: [(&str, &str); 5] = [
    ("binlog_format", "ROW"),
    ("default_storage_engine", "InnoDB"),
    ("innodb_autoinc_lock_mode", "2"),
    ("innodb_doublewrite", "ON"),
    ("wsrep_on", "ON"),
];

/// What one node says about itself: who it is, its `wsrep_%` status, its settings, and the
/// members of its own component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `@@hostname:@@port`.
    pub server: String,
    /// `@@wsrep_on` (ON on a Galera node, OFF on plain MariaDB).
    pub wsrep_on: String,
    /// `wsrep_%` status variables, keys lower-cased.
    pub status: BTreeMap<String, String>,
    /// [`REQUIRED_SETTINGS`] and the provider's, keys lower-cased.
    pub settings: BTreeMap<String, String>,
    /// The node UUIDs of the members of the node's component (`mysql.wsrep_cluster_members`),
    /// or why they could not be read.
    pub members: Result<BTreeSet<String>, String>,
}

impl Default for Facts {
    fn default() -> Self {
        Self {
            server: String::new(),
            wsrep_on: String::new(),
            status: BTreeMap::new(),
            settings: BTreeMap::new(),
            members: Err("not asked".into()),
        }
    }
}

impl Facts {
    pub fn get(&self, key: &str) -> &str {
        self.status.get(key).map_or("", String::as_str)
    }

    pub fn setting(&self, key: &str) -> &str {
        self.settings.get(key).map_or("", String::as_str)
    }

    /// What makes the server itself unique: its Galera node UUID, or (without Galera) the
    /// host name and port it reports.
    pub fn identity(&self) -> &str {
        match self.get("wsrep_gcomm_uuid") {
            "" => &self.server,
            uuid => uuid,
        }
    }

    fn is_galera(&self) -> bool {
        self.wsrep_on.eq_ignore_ascii_case("ON")
    }

    /// The address this node gives other members (`wsrep_incoming_addresses` at its own
    /// `wsrep_local_index`), without the port: the fallback identity when the member table
    /// cannot be read.
    fn incoming_host(&self) -> Option<String> {
        let index: usize = self.get("wsrep_local_index").parse().ok()?;
        self.incoming_hosts().into_iter().nth(index)
    }

    fn incoming_hosts(&self) -> Vec<String> {
        self.get("wsrep_incoming_addresses")
            .split(',')
            .map(|a| a.rsplit_once(':').map_or(a, |(h, _)| h).trim().to_string())
            .filter(|a| !a.is_empty())
            .collect()
    }

    /// Whether `other` is a member of this node's component: by node UUID from the member
    /// table, else by the address it gives in `wsrep_incoming_addresses`.
    fn has_member(&self, other: &Facts) -> Result<bool, String> {
        match &self.members {
            Ok(members) => Ok(members.contains(other.identity())),
            Err(why) => match other.incoming_host() {
                Some(host) if !self.incoming_hosts().is_empty() => {
                    Ok(self.incoming_hosts().contains(&host))
                }
                _ => Err(why.clone()),
            },
        }
    }

    /// How many members the node's component has.
    pub fn component_size(&self) -> usize {
        match &self.members {
            Ok(m) if !m.is_empty() => m.len(),
            _ => self.get("wsrep_cluster_size").parse().unwrap_or(0),
        }
    }
}

/// Asks every node who it is, its settings, its `wsrep_%` status and its component's members,
/// all at once.
pub async fn survey(nodes: &[Endpoint], login: &Login) -> Vec<Result<Facts, String>> {
    futures::future::join_all(nodes.iter().map(|n| async move {
        let mut conn = connect(n, login).await?;
        let facts = async {
            let server = rows(&mut conn, "SELECT @@hostname, CAST(@@port AS CHAR)")
                .await?
                .into_iter()
                .next()
                .map(|(h, p)| format!("{h}:{p}"))
                .unwrap_or_default();
            let names: Vec<String> = REQUIRED_SETTINGS
                .iter()
                .map(|(k, _)| *k)
                .chain([
                    "wsrep_provider",
                    "wsrep_cluster_address",
                    "wsrep_cluster_name",
                    "innodb_flush_log_at_trx_commit",
                    "version",
                ])
                .map(|k| format!("'{k}'"))
                .collect();
            let settings: BTreeMap<String, String> = rows(
                &mut conn,
                &format!(
                    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({})",
                    names.join(", ")
                ),
            )
            .await?
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
            let wsrep_on = settings
                .get("wsrep_on")
                .cloned()
                .unwrap_or_else(|| "OFF".into());
            let status = wsrep_status(&mut conn).await?;
            let members = if wsrep_on.eq_ignore_ascii_case("ON") {
                rows(
                    &mut conn,
                    "SELECT node_uuid, node_name FROM mysql.wsrep_cluster_members",
                )
                .await
                .map(|r| r.into_iter().map(|(uuid, _)| uuid).collect())
            } else {
                Err("not a Galera node".into())
            };
            Ok(Facts {
                server,
                wsrep_on,
                status,
                settings,
                members,
            })
        }
        .await;
        let _ = conn.disconnect().await;
        facts
    }))
    .await
}

/// Two targets that are one server (the same node named two ways), named both ways.
pub fn same_server(nodes: &[Endpoint], facts: &[Result<Facts, String>]) -> Option<String> {
    let known: Vec<(&Endpoint, &Facts)> = nodes
        .iter()
        .zip(facts)
        .filter_map(|(n, f)| f.as_ref().ok().map(|f| (n, f)))
        .collect();
    for (i, (a, fa)) in known.iter().enumerate() {
        if let Some((b, _)) = known[i + 1..]
            .iter()
            .find(|(_, fb)| fb.identity() == fa.identity())
        {
            return Some(format!(
                "{a} and {b} are the same server ({}): naming one server twice proves nothing about replication",
                fa.identity()
            ));
        }
    }
    None
}

/// Who is in whose component: every target must be a member of every other target's
/// component (by each node's own view), or the targets are not one cluster, whatever state
/// UUID they share (a cluster restored or bootstrapped from another's data shares it).
/// `Ok` says how many of the component's members were checked.
pub fn one_component(
    nodes: &[Endpoint],
    facts: &[Result<Facts, String>],
) -> Result<String, String> {
    let known: Vec<(&Endpoint, &Facts)> = nodes
        .iter()
        .zip(facts)
        .filter_map(|(n, f)| f.as_ref().ok().map(|f| (n, f)))
        .filter(|(_, f)| f.is_galera())
        .collect();
    let mut outside: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (a, fa) in &known {
        for (b, fb) in &known {
            match fa.has_member(fb) {
                Ok(true) => {}
                Ok(false) => outside
                    .entry(b.to_string())
                    .or_default()
                    .push(a.to_string()),
                Err(why) => {
                    return Err(format!(
                        "cannot tell who is in {a}'s component: {why} (grant the check's user SELECT on mysql.wsrep_cluster_members)"
                    ));
                }
            }
        }
    }
    if !outside.is_empty() {
        // The node(s) that most others do not count as a member are the ones elsewhere.
        let mut named: Vec<String> = outside
            .iter()
            .map(|(b, views)| {
                let f = known
                    .iter()
                    .find(|(n, _)| n.to_string() == *b)
                    .map(|(_, f)| *f);
                let (size, state) = f.map_or((0, ""), |f| {
                    (f.component_size(), f.get("wsrep_cluster_state_uuid"))
                });
                format!(
                    "{b} is not a member of the component of {} (it is in a component of {size} member(s), state UUID {state})",
                    views.join(", ")
                )
            })
            .collect();
        named.sort();
        return Err(format!(
            "the targets are not one Galera cluster: {}; every target must be in every other target's component (a cluster restored or bootstrapped from another's data shares its state UUID, so the UUID alone proves nothing)",
            named.join("; ")
        ));
    }
    if known.is_empty() {
        return Ok("no target answered: no member of a cluster was checked".into());
    }
    let size = known.first().map_or(0, |(_, f)| f.component_size());
    Ok(format!(
        "{} of the cluster's {size} members checked, each in every other's component",
        known.len()
    ))
}

/// That the targets form one Galera cluster (every one a Galera node, each in every other's
/// component, one cluster state, a cluster at least as large as the targets), before anything
/// is claimed about replication. `Ok` says how many of its members were checked.
pub fn one_cluster(nodes: &[Endpoint], facts: &[Result<Facts, String>]) -> Result<String, String> {
    let mut problems = vec![];
    let mut clusters: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (node, f) in nodes.iter().zip(facts) {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{node}: {e}"));
                continue;
            }
        };
        if !f.is_galera() {
            problems.push(format!(
                "{node} is not a Galera node (wsrep_on is {}, server {})",
                f.wsrep_on, f.server
            ));
            continue;
        }
        clusters
            .entry(f.get("wsrep_cluster_state_uuid"))
            .or_default()
            .push(node.to_string());
        let size: usize = f.get("wsrep_cluster_size").parse().unwrap_or(0);
        if size < nodes.len() {
            problems.push(format!(
                "{node} is in a Galera cluster of {size} node(s), fewer than the {} targets",
                nodes.len()
            ));
        }
    }
    if clusters.len() > 1 {
        let listed: Vec<String> = clusters
            .iter()
            .map(|(uuid, n)| format!("{uuid}: {}", n.join(", ")))
            .collect();
        problems.push(format!(
            "the targets are in different Galera clusters ({})",
            listed.join("; ")
        ));
    }
    if !problems.is_empty() {
        return Err(format!("not one Galera cluster: {}", problems.join("; ")));
    }
    one_component(nodes, facts)
}

/// [`survey`], then [`same_server`] and [`one_cluster`]: `Err` says why nothing about
/// replication can be judged; `Ok` how many of the cluster's members were checked.
pub async fn establish(nodes: &[Endpoint], login: &Login) -> Result<String, String> {
    let facts = survey(nodes, login).await;
    if let Some(twice) = same_server(nodes, &facts) {
        return Err(twice);
    }
    one_cluster(nodes, &facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Endpoint {
        Endpoint::parse(name).unwrap()
    }

    fn galera(uuid: &str, state: &str, size: &str) -> Result<Facts, String> {
        member_of(uuid, state, size, &["a", "b"])
    }

    fn member_of(uuid: &str, state: &str, size: &str, members: &[&str]) -> Result<Facts, String> {
        Ok(Facts {
            server: "db:3306".into(),
            wsrep_on: "ON".into(),
            status: BTreeMap::from([
                ("wsrep_gcomm_uuid".into(), uuid.into()),
                ("wsrep_cluster_state_uuid".into(), state.into()),
                ("wsrep_cluster_size".into(), size.into()),
            ]),
            members: Ok(members.iter().map(|m| m.to_string()).collect()),
            ..Default::default()
        })
    }

    fn plain(server: &str) -> Result<Facts, String> {
        Ok(Facts {
            server: server.into(),
            wsrep_on: "OFF".into(),
            ..Default::default()
        })
    }

    // Layer 1 (pure): the judgements; the rig tests run them against real servers.
    #[test]
    fn one_server_named_twice_is_found_by_its_identity() {
        let nodes = [node("127.0.0.1:3306"), node("localhost:3306")];
        let twice = same_server(&nodes, &[plain("db1:3306"), plain("db1:3306")]).unwrap();
        assert!(
            twice.contains("127.0.0.1:3306 and localhost:3306"),
            "{twice}"
        );
        let distinct = [galera("a", "s", "2"), galera("b", "s", "2")];
        assert_eq!(same_server(&nodes, &distinct), None);
        assert!(same_server(&nodes, &[galera("a", "s", "2"), galera("a", "s", "2")]).is_some());
    }

    #[test]
    fn plain_servers_split_clusters_and_small_clusters_are_not_one_galera_cluster() {
        let nodes = [node("a:3306"), node("b:3306")];
        assert_eq!(
            one_cluster(&nodes, &[galera("a", "s", "2"), galera("b", "s", "2")]),
            Ok("2 of the cluster's 2 members checked, each in every other's component".into())
        );
        let e = one_cluster(&nodes, &[galera("a", "s", "2"), plain("b:3306")]).unwrap_err();
        assert!(e.contains("b:3306 is not a Galera node"), "{e}");
        let e = one_cluster(&nodes, &[galera("a", "s", "1"), galera("b", "t", "1")]).unwrap_err();
        assert!(
            e.contains("different Galera clusters") && e.contains("fewer than"),
            "{e}"
        );
    }

    #[test]
    fn a_node_of_another_cluster_with_the_same_state_uuid_is_named() {
        // a and b form one cluster of 3 (a, b, x); c is in a cluster of its own making (c, y)
        // with the same state UUID, restored from the same data.
        let nodes = [node("a:3306"), node("b:3306"), node("c:3306")];
        let facts = [
            member_of("a", "s", "3", &["a", "b", "x"]),
            member_of("b", "s", "3", &["a", "b", "x"]),
            member_of("c", "s", "3", &["c", "y", "z"]),
        ];
        let e = one_cluster(&nodes, &facts).unwrap_err();
        assert!(
            e.contains("c:3306 is not a member of the component of a:3306, b:3306"),
            "{e}"
        );
        // Two of three members named: said as such, never "all 2".
        let ok = one_cluster(&nodes[..2], &facts[..2]).unwrap();
        assert_eq!(
            ok,
            "2 of the cluster's 3 members checked, each in every other's component"
        );
    }

    #[test]
    fn without_the_member_table_membership_comes_from_the_incoming_addresses() {
        let facts = |index: &str, addresses: &str| -> Result<Facts, String> {
            Ok(Facts {
                wsrep_on: "ON".into(),
                status: BTreeMap::from([
                    ("wsrep_local_index".into(), index.into()),
                    ("wsrep_incoming_addresses".into(), addresses.into()),
                    ("wsrep_gcomm_uuid".into(), format!("u{index}{addresses}")),
                    ("wsrep_cluster_size".into(), "2".into()),
                ]),
                members: Err("SELECT command denied".into()),
                ..Default::default()
            })
        };
        let nodes = [node("a:3306"), node("b:3306")];
        let same = [
            facts("0", "10.0.0.1:3306,10.0.0.2:3306"),
            facts("1", "10.0.0.1:3306,10.0.0.2:3306"),
        ];
        assert!(one_component(&nodes, &same).is_ok());
        let apart = [
            facts("0", "10.0.0.1:3306,10.0.0.2:3306"),
            facts("0", "10.0.0.9:3306,10.0.0.8:3306"),
        ];
        let e = one_component(&nodes, &apart).unwrap_err();
        assert!(e.contains("is not a member of the component"), "{e}");
    }
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers): plain MariaDB 10.11 servers (wsrep off) from the rig image.
    use super::acknowledged_writes::{self as ack, GaleraAckWritesSpec};
    use super::status::{self, GaleraStatusSpec};
    use super::*;
    use crate::testing::galera_login;
    use crate::verify::Credentials;
    use harness_testkit::rig;

    fn two_names(port: u16) -> Vec<Endpoint> {
        [format!("127.0.0.1:{port}"), format!("localhost:{port}")]
            .iter()
            .map(|e| Endpoint::parse(e).unwrap())
            .collect()
    }

    fn ack_spec() -> GaleraAckWritesSpec {
        GaleraAckWritesSpec {
            target: Default::default(),
            credentials: Credentials {
                user: rig::GALERA_USER.into(),
                password: None,
            },
            duration: Duration::from_secs(2),
            writers_per_node: 1,
            delete_every: 5,
            settle: Duration::from_secs(5),
            during: None,
        }
    }

    /// The harness's databases left on a server.
    async fn leftovers(node: &Endpoint) -> Vec<(String, String)> {
        let mut conn = connect(node, &galera_login()).await.unwrap();
        rows(
            &mut conn,
            "SELECT SCHEMA_NAME, 'db' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'harness%'",
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    #[ignore = "needs Docker and the rig image (scripts/test.sh runs it)"]
    async fn one_plain_server_named_twice_or_plain_servers_never_pass() {
        let login = galera_login();
        let (_a, port_a) = rig::mariadb_plain().await;
        let twice = two_names(port_a);
        let same = format!("127.0.0.1:{port_a} and localhost:{port_a} are the same server");

        let v = sync::check(&twice, &login).await;
        assert!(!v.passed && v.summary.contains(&same), "{v:?}");
        let v = ack::check(&ack_spec(), &twice, &login).await;
        assert!(!v.passed && v.summary.contains(&same), "{v:?}");
        let spec = GaleraStatusSpec {
            target: Default::default(),
            credentials: ack_spec().credentials,
            size: Some(1),
            durable_commits: false,
            version: None,
        };
        let v = status::check(&spec, &twice, &login).await;
        assert!(!v.passed && v.summary.contains(&same), "{v:?}");

        // Two distinct servers that are not Galera nodes: nothing about replication is claimed.
        let (_b, port_b) = rig::mariadb_plain().await;
        let two: Vec<Endpoint> = [port_a, port_b]
            .iter()
            .map(|p| Endpoint::parse(&format!("127.0.0.1:{p}")).unwrap())
            .collect();
        let v = sync::check(&two, &login).await;
        assert!(
            !v.passed && v.summary.contains("is not a Galera node (wsrep_on is OFF"),
            "{v:?}"
        );
        let v = ack::check(&ack_spec(), &two, &login).await;
        assert!(
            !v.passed && v.summary.contains("not one Galera cluster"),
            "{v:?}"
        );
        // Refused before the first write: nothing was left on either server.
        for node in &two {
            assert_eq!(leftovers(node).await, vec![], "{node}");
        }
    }
}

#[cfg(test)]
mod rig_attacks {
    //! Layer 2 (real servers): attacks on the Galera verifiers with real MariaDB 10.11 /
    //! Galera 4 clusters in containers: a cluster sharing another's state UUID, a read-only
    //! node, a row written behind the cluster's back, a partitioned node at clean-up time, and
    //! a setting Galera does not allow.
    use super::acknowledged_writes::{self as ack, GaleraAckWritesSpec};
    use super::status::{self, GaleraStatusSpec};
    use super::*;
    use crate::testing::{eps, galera_login};
    use crate::verify::Credentials;
    use harness_testkit::rig;

    fn status_spec(size: u32) -> GaleraStatusSpec {
        GaleraStatusSpec {
            target: Default::default(),
            credentials: Credentials {
                user: rig::GALERA_USER.into(),
                password: None,
            },
            size: Some(size),
            durable_commits: false,
            version: None,
        }
    }

    fn ack_spec() -> GaleraAckWritesSpec {
        GaleraAckWritesSpec {
            target: Default::default(),
            credentials: Credentials {
                user: rig::GALERA_USER.into(),
                password: None,
            },
            duration: Duration::from_secs(3),
            writers_per_node: 1,
            delete_every: 5,
            settle: Duration::from_secs(20),
            during: None,
        }
    }

    /// Galera has no event for "formed": the rig polls its status, bounded.
    async fn until_status(
        nodes: &[Endpoint],
        size: u32,
        limit: Duration,
    ) -> crate::verify::Verdict {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let v = status::check(&status_spec(size), nodes, &galera_login()).await;
            if v.passed || tokio::time::Instant::now() >= end {
                return v;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn harness_databases(node: &Endpoint) -> Vec<(String, String)> {
        let mut conn = connect(node, &galera_login()).await.unwrap();
        rows(
            &mut conn,
            "SELECT SCHEMA_NAME, 'db' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'harness%'",
        )
        .await
        .unwrap()
    }

    // A node split off a cluster and bootstrapped from its own data, then joined by another
    // node: two clusters of two with one state UUID. Naming one node of each passes every
    // Galera check without the membership test; with it, each check names the node that is
    // in another component, before anything is written.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn two_clusters_sharing_a_state_uuid_are_never_one_cluster() {
        let (nodes, endpoints) = rig::galera(3).await;
        let net = rig::network_of(&nodes[0]);
        let a = eps(endpoints);
        rig::galera_split_off(&nodes[2], "rig").await;
        let b1 = rig::galera_node(&net, &format!("{net}-b1"), &nodes[2].name, "").await;
        let b = vec![a[2].clone(), eps(vec![b1.endpoint(3306).await]).remove(0)];
        let a = a[..2].to_vec();
        let v = until_status(&a, 2, Duration::from_secs(60)).await;
        assert!(v.passed, "cluster A: {} {:?}", v.summary, v.evidence);
        let v = until_status(&b, 2, Duration::from_secs(90)).await;
        assert!(v.passed, "cluster B: {} {:?}", v.summary, v.evidence);
        let state = |v: &crate::verify::Verdict| {
            v.evidence
                .iter()
                .find_map(|e| e.split("wsrep_cluster_state_uuid=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_string)
        };
        let (sa, sb) = (
            state(&until_status(&a, 2, Duration::from_secs(5)).await),
            state(&until_status(&b, 2, Duration::from_secs(5)).await),
        );
        assert_eq!(sa, sb, "the two clusters share their state UUID");

        let mixed = vec![a[0].clone(), b[0].clone()];
        let login = galera_login();
        let v = status::check(&status_spec(2), &mixed, &login).await;
        assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary.contains(&format!(
                "{} is not a member of the component of {}",
                b[0], a[0]
            )),
            "{}",
            v.summary
        );
        let v = sync::check(&mixed, &login).await;
        assert!(
            !v.passed && v.summary.contains("is not a member of the component"),
            "{}",
            v.summary
        );
        assert!(!v.summary.contains("doesn't exist"), "{}", v.summary);
        let v = ack::check(&ack_spec(), &mixed, &login).await;
        assert!(
            !v.passed && v.summary.contains("is not a member of the component"),
            "{}",
            v.summary
        );
        for node in [&a[0], &b[0]] {
            assert_eq!(
                harness_databases(node).await,
                vec![],
                "nothing written on {node}"
            );
        }
        // Two of cluster A's two members named: said as such.
        let v = status::check(&status_spec(2), &a, &login).await;
        assert!(
            v.summary
                .starts_with("2 of the cluster's 2 members checked"),
            "{}",
            v.summary
        );
        let v = status::check(&status_spec(2), &a[..1], &login).await;
        assert!(
            v.passed
                && v.summary
                    .starts_with("1 of the cluster's 2 members checked"),
            "{}",
            v.summary
        );
    }

    // `durable_commits`: a node that flushes its log only once a second (2) is named; the same
    // cluster passes without the option, and a fully durable one passes with it (the
    // fixture's own test, tests/galera_fixture.rs).
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_node_that_loses_commits_in_a_crash_is_named_when_durable_commits_are_required() {
        let (_nodes, endpoints) =
            rig::galera_with(3, &[(1, "--innodb_flush_log_at_trx_commit=2")]).await;
        let nodes = eps(endpoints);
        let v = until_status(&nodes, 3, Duration::from_secs(60)).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        let mut durable = status_spec(3);
        durable.durable_commits = true;
        let v = status::check(&durable, &nodes, &galera_login()).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "{}: innodb_flush_log_at_trx_commit is 2, but durable commits need 1",
                nodes[1]
            )) && !v.summary.contains(&format!("{}:", nodes[0])),
            "{}",
            v.summary
        );
    }

    // One node read-only (its writers' every insert refused), a row only one node holds, a
    // partitioned node at clean-up, and a node with innodb_autoinc_lock_mode=1.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_read_only_node_a_stray_row_a_partitioned_node_and_a_wrong_setting_are_named() {
        let (_nodes, endpoints) = rig::galera_with(3, &[(2, "--innodb_autoinc_lock_mode=1")]).await;
        let nodes = eps(endpoints);
        let admin = galera_login();
        let app = Login {
            user: rig::GALERA_APP_USER.into(),
            password: Some(rig::GALERA_PASSWORD.into()),
        };

        // The setting: named with its node; the other nodes are fine.
        let v = until_status(&nodes, 3, Duration::from_secs(5)).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "{}: innodb_autoinc_lock_mode is 1, but Galera requires 2",
                nodes[2]
            )),
            "{}",
            v.summary
        );
        assert!(
            !v.summary.contains(&format!("{}:", nodes[0])),
            "{}",
            v.summary
        );

        // A read-only node refuses the application's writes: it acknowledged none.
        let mut conn = connect(&nodes[1], &admin).await.unwrap();
        run(&mut conn, "SET GLOBAL read_only = ON").await.unwrap();
        let v = ack::check(&ack_spec(), &nodes, &app).await;
        run(&mut conn, "SET GLOBAL read_only = OFF").await.unwrap();
        assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary.contains(&format!(
                "{} acknowledged none of the writes its writers sent",
                nodes[1]
            )) && v.summary.contains("read-only"),
            "{}",
            v.summary
        );

        // A row inserted on one node only (wsrep_on=OFF): outside the ledger, but the copies
        // differ, and the check says which node differs.
        let table = ack::prepare(&nodes, &admin).await.unwrap();
        let history = ack::write_phase(&nodes, &admin, &table, Duration::from_secs(2), 1, 5).await;
        let v = ack::read_back(&nodes, &admin, &table, &history, Duration::from_secs(20)).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        let mut local = connect(&nodes[0], &admin).await.unwrap();
        run(&mut local, "SET SESSION wsrep_on = OFF").await.unwrap();
        run(
            &mut local,
            &format!("INSERT INTO {table} (id, node) VALUES ('stray', 'behind-the-back')"),
        )
        .await
        .unwrap();
        let v = ack::read_back(&nodes, &admin, &table, &history, Duration::from_secs(20)).await;
        assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary.contains("copies of what the check wrote differ")
                && v.summary.contains(&format!("{} holds", nodes[0]))
                && v.summary.contains("row `stray`"),
            "{}",
            v.summary
        );

        // Clean-up with the first node partitioned (not Primary): it refuses the DROP, so the
        // drop goes to the next node, and is confirmed on the Primary component.
        run(
            &mut conn,
            "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'",
        )
        .await
        .unwrap();
        let isolated = async {
            loop {
                let facts = survey(&nodes[1..2], &admin).await;
                if facts[0]
                    .as_ref()
                    .is_ok_and(|f| f.get("wsrep_cluster_status") == "non-Primary")
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), isolated)
            .await
            .expect("node 1 left the Primary component");
        let order = vec![nodes[1].clone(), nodes[0].clone(), nodes[2].clone()];
        let db = table.split('.').next().unwrap().to_string();
        drop_database(&order, &admin, &db).await.unwrap();
        for node in [&nodes[0], &nodes[2]] {
            assert_eq!(harness_databases(node).await, vec![], "{node}");
        }
        run(
            &mut conn,
            "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'",
        )
        .await
        .unwrap();
    }
}
