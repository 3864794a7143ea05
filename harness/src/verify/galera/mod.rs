//! MariaDB Galera: what its verifiers share (connecting to a node with mysql_async, bounded by a
//! timeout, and reading `wsrep_%` status variables), and one file per verifier: `status`,
//! `sync`, `acknowledged_writes`.

pub mod acknowledged_writes;
pub mod status;
pub mod sync;

use crate::cluster::Endpoint;
use crate::verify::{VerifyContext, bounded_on};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use std::collections::BTreeMap;
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

/// `wsrep_%` status variables, keys lower-cased.
pub async fn wsrep_status(conn: &mut Conn) -> Result<BTreeMap<String, String>, String> {
    let rows = rows(conn, "SHOW GLOBAL STATUS LIKE 'wsrep_%'").await?;
    Ok(rows
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect())
}

/// Registers dropping `db` (from the first node that answers) as a clean-up of the scenario.
pub fn drop_later(undo: Option<&crate::verify::Undo>, nodes: &[Endpoint], login: &Login, db: &str) {
    let Some(undo) = undo else {
        return;
    };
    let (nodes, login, db) = (nodes.to_vec(), login.clone(), db.to_string());
    undo.register(format!("drop database {db}"), async move {
        let mut errors = vec![];
        for node in &nodes {
            match connect(node, &login).await {
                Ok(mut conn) => {
                    let r = run(&mut conn, &format!("DROP DATABASE IF EXISTS {db}")).await;
                    let _ = conn.disconnect().await;
                    return r.map_err(|e| format!("{node}: {e}"));
                }
                Err(e) => errors.push(format!("{node}: {e}")),
            }
        }
        Err(format!("no node answered: {}", errors.join("; ")))
    });
}

/// What one node says about itself: who it is, and its `wsrep_%` status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `@@hostname:@@port`.
    pub server: String,
    /// `@@wsrep_on` (ON on a Galera node, OFF on plain MariaDB).
    pub wsrep_on: String,
    /// `wsrep_%` status variables, keys lower-cased.
    pub status: BTreeMap<String, String>,
}

impl Facts {
    pub fn get(&self, key: &str) -> &str {
        self.status.get(key).map_or("", String::as_str)
    }

    /// What makes the server itself unique: its Galera node UUID, or (without Galera) the
    /// host name and port it reports.
    pub fn identity(&self) -> &str {
        match self.get("wsrep_gcomm_uuid") {
            "" => &self.server,
            uuid => uuid,
        }
    }
}

/// Asks every node who it is and for its `wsrep_%` status, all at once.
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
            let wsrep_on = rows(&mut conn, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'")
                .await?
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .unwrap_or_else(|| "OFF".into());
            let status = wsrep_status(&mut conn).await?;
            Ok(Facts {
                server,
                wsrep_on,
                status,
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

/// That the targets form one Galera cluster (every one a Galera node, one cluster state, a
/// cluster at least as large as the targets), before anything is claimed about replication.
pub fn one_cluster(nodes: &[Endpoint], facts: &[Result<Facts, String>]) -> Result<(), String> {
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
        if !f.wsrep_on.eq_ignore_ascii_case("ON") {
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
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("not one Galera cluster: {}", problems.join("; ")))
    }
}

/// [`survey`], then [`same_server`] and [`one_cluster`]: `Err` says why nothing about
/// replication can be judged.
pub async fn establish(nodes: &[Endpoint], login: &Login) -> Result<(), String> {
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
        Ok(Facts {
            server: "db:3306".into(),
            wsrep_on: "ON".into(),
            status: BTreeMap::from([
                ("wsrep_gcomm_uuid".into(), uuid.into()),
                ("wsrep_cluster_state_uuid".into(), state.into()),
                ("wsrep_cluster_size".into(), size.into()),
            ]),
        })
    }

    // Layer 1 (pure): the judgements; the rig tests run them against real servers.
    #[test]
    fn one_server_named_twice_is_found_by_its_identity() {
        let nodes = [node("127.0.0.1:3306"), node("localhost:3306")];
        let plain = Ok(Facts {
            server: "db1:3306".into(),
            wsrep_on: "OFF".into(),
            status: BTreeMap::new(),
        });
        let twice = same_server(&nodes, &[plain.clone(), plain]).unwrap();
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
            Ok(())
        );
        let plain = Ok(Facts {
            server: "b:3306".into(),
            wsrep_on: "OFF".into(),
            status: BTreeMap::new(),
        });
        let e = one_cluster(&nodes, &[galera("a", "s", "2"), plain]).unwrap_err();
        assert!(e.contains("b:3306 is not a Galera node"), "{e}");
        let e = one_cluster(&nodes, &[galera("a", "s", "1"), galera("b", "t", "1")]).unwrap_err();
        assert!(
            e.contains("different Galera clusters") && e.contains("fewer than"),
            "{e}"
        );
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
