//! MariaDB Galera: what its verifiers share (connecting to a node with mysql_async, bounded by a
//! timeout, and reading `wsrep_%` status variables), and one file per verifier: `status`,
//! `sync`, `acknowledged_writes`.

pub mod acknowledged_writes;
pub mod status;
pub mod sync;

use crate::cluster::Endpoint;
use crate::verify::{VerifyContext, bounded};
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
    bounded("cannot connect", limit, Conn::new(opts)).await
}

/// Runs a statement with a timeout; errors come back as text.
pub async fn run(conn: &mut Conn, sql: &str) -> Result<(), String> {
    run_within(conn, sql, QUERY_TIMEOUT).await
}

/// [`run`] with its own bound.
pub async fn run_within(conn: &mut Conn, sql: &str, limit: Duration) -> Result<(), String> {
    bounded(&format!("`{sql}`"), limit, conn.query_drop(sql)).await
}

/// Rows of a query as tuples of text.
pub async fn rows(conn: &mut Conn, sql: &str) -> Result<Vec<(String, String)>, String> {
    bounded(
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
