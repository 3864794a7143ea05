//! `galera.sync`: the seed's `89-galera-sync-test.sh` as a check. On node a: create a database
//! and a table, insert two rows; read them on every other node; delete one row on node c; check
//! it is gone on every node; drop the database. Names are unique per run; every step's result
//! goes into the evidence. Reads use `wsrep_sync_wait = 1` so they are causal, as a client
//! reading its own writes through another node expects.

use super::{Login, connect, rows, run};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::nonce;
use crate::verify::{
    Credentials, RawCredentials, RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags,
};
use crate::verify::{Need, One};
use mysql_async::Conn;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    pub credentials: RawCredentials,
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraSyncSpec {
    pub target: Target,
    pub credentials: Credentials,
}

#[async_trait::async_trait]
impl Verifier for GaleraSyncSpec {
    const NAME: &'static str = "galera.sync";
    const CHECKS: &'static str = "first that the targets are distinct Galera nodes of one component (see below); then the seed's script 89: insert on node a, read everywhere, delete on node c, check everywhere, drop on a node of the Primary component and confirm it is gone";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 2);
        let credentials = raw.credentials.check(cx, &format!("{path}.credentials"));
        Some(Self {
            target: target?,
            credentials: credentials?,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            credentials: RawCredentials::from_flags(flags)?,
        })
    }

    type Shape = One<()>;

    fn targets(&self) -> One<Need<'_>> {
        One {
            target: Need {
                target: &self.target,
                min: 2,
            },
        }
    }

    fn credentials(&self) -> Option<&Credentials> {
        Some(&self.credentials)
    }

    async fn run(&self, cx: &VerifyContext<'_>, at: One<Vec<Endpoint>>) -> Verdict {
        check_registering(&at.target, &Login::of(cx), Some(cx.undo)).await
    }
}

pub async fn check(nodes: &[Endpoint], login: &Login) -> Verdict {
    check_registering(nodes, login, None).await
}

/// [`check`], registering the drop of its database before it creates it.
pub async fn check_registering(
    nodes: &[Endpoint],
    login: &Login,
    undo: Option<&crate::verify::Undo>,
) -> Verdict {
    if nodes.len() < 2 {
        return Verdict::fail(
            format!("galera.sync needs at least 2 nodes, got {}", nodes.len()),
            vec![],
        );
    }
    let members = match super::establish(nodes, login).await {
        Ok(note) => note,
        Err(why) => return Verdict::fail(why, vec![]),
    };
    let db = format!("harness_sync_{}", nonce());
    super::drop_later(undo, nodes, login, &db);
    let mut log = vec![];
    let result = steps(nodes, login, &db, &mut log).await;
    // Drop the database whatever happened, on a node of the Primary component, and confirm.
    let dropped = match super::drop_database(nodes, login, &db).await {
        Ok(()) => {
            log.push(format!("DROP DATABASE {db}: gone from every node"));
            true
        }
        Err(e) => {
            log.push(e);
            false
        }
    };
    match result {
        Ok(()) if dropped => Verdict::pass(
            format!(
                "rows written on {} were read and deleted on each of the {} nodes ({members})",
                nodes[0],
                nodes.len()
            ),
            log,
        ),
        Ok(()) => Verdict::fail(
            format!(
                "the check passed, but its database {db} could not be dropped (see the output)"
            ),
            log,
        ),
        Err(e) => Verdict::fail(e, log),
    }
}

async fn open(node: &Endpoint, login: &Login, log: &mut Vec<String>) -> Result<Conn, String> {
    let mut conn = connect(node, login)
        .await
        .map_err(|e| format!("{node}: {e}"))?;
    run(&mut conn, "SET SESSION wsrep_sync_wait = 1")
        .await
        .map_err(|e| format!("{node}: {e}"))?;
    log.push(format!("{node}: connected"));
    Ok(conn)
}

async fn exec(
    node: &Endpoint,
    conn: &mut Conn,
    sql: &str,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let r = run(conn, sql).await;
    log.push(format!(
        "{node}: {sql}: {}",
        r.as_ref().map_or_else(|e| e.clone(), |_| "ok".into())
    ));
    r.map_err(|e| format!("{node}: {e}"))
}

async fn read(
    node: &Endpoint,
    conn: &mut Conn,
    db: &str,
    log: &mut Vec<String>,
) -> Result<Vec<(String, String)>, String> {
    let sql = format!("SELECT id, name FROM {db}.test ORDER BY id");
    let r = rows(conn, &sql).await.map_err(|e| format!("{node}: {e}"))?;
    log.push(format!("{node}: {sql}: {r:?}"));
    Ok(r)
}

async fn steps(
    nodes: &[Endpoint],
    login: &Login,
    db: &str,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let (a, c) = (&nodes[0], &nodes[nodes.len() - 1]);
    let mut conns = vec![];
    for node in nodes {
        conns.push(open(node, login, log).await?);
    }
    exec(a, &mut conns[0], &format!("CREATE DATABASE {db}"), log).await?;
    exec(
        a,
        &mut conns[0],
        &format!("CREATE TABLE {db}.test (id CHAR(10) PRIMARY KEY, name VARCHAR(20))"),
        log,
    )
    .await?;
    exec(
        a,
        &mut conns[0],
        &format!("INSERT INTO {db}.test VALUES ('aaa', 'xxx'), ('id', 'this is my name')"),
        log,
    )
    .await?;
    let both = vec![
        ("aaa".to_string(), "xxx".to_string()),
        ("id".to_string(), "this is my name".to_string()),
    ];
    for (node, conn) in nodes.iter().zip(conns.iter_mut()).skip(1) {
        let got = read(node, conn, db, log).await?;
        if got != both {
            return Err(format!(
                "{node} sees {got:?} after the insert on {a}, expected {both:?}"
            ));
        }
    }
    let last = conns.len() - 1;
    exec(
        c,
        &mut conns[last],
        &format!("DELETE FROM {db}.test WHERE id = 'aaa'"),
        log,
    )
    .await?;
    let one = vec![("id".to_string(), "this is my name".to_string())];
    for (node, conn) in nodes.iter().zip(conns.iter_mut()) {
        let got = read(node, conn, db, log).await?;
        if got != one {
            return Err(format!(
                "{node} sees {got:?} after the delete on {c}, expected {one:?}"
            ));
        }
    }
    for conn in conns {
        let _ = conn.disconnect().await;
    }
    Ok(())
}
