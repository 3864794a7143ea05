//! A CQL native-protocol v4 **stand-in** for the `cql` verifier's tests. It is not Cassandra
//! and not Scylla: no replication, no consistency semantics, no storage engine, no real schema.
//! It speaks just enough of the wire protocol (OPTIONS, STARTUP, PasswordAuthenticator SASL,
//! REGISTER, QUERY) for the scylla driver to connect, discover the other nodes through
//! `system.local` / `system.peers`, wait for schema agreement, run the seed script and read the
//! rows back with a chosen coordinator, so that what the verifier does with the driver (address
//! translation to the bridges, one coordinator per node, the consistency it asks for, the
//! login, the comparison with nodetool) runs for real. All nodes share one in-memory table
//! store; each node listens on its own loopback port but advertises an unroutable "pod IP",
//! exactly like a pod behind a port-forward bridge.
//!
//! What `system.local` says about the node itself follows the release it plays ([`Release`]):
//! before 4.1, `rpc_address` holds the *configured* address, which the official image sets to
//! `0.0.0.0` (with `broadcast_rpc_address` the pod IP, which only the peers' tables carry);
//! from 4.1 on it holds the broadcast address (CASSANDRA-11181). A node whose pod is replaced
//! drops every open connection (the process died) and comes back at its new IP.
//!
//! Statements it understands: `DROP KEYSPACE [IF EXISTS]`, `CREATE KEYSPACE [IF NOT EXISTS]`,
//! `USE`, `CREATE TABLE [IF NOT EXISTS] t (col type [PRIMARY KEY], ...)`,
//! `INSERT INTO t (cols) VALUES (literals)`, `DELETE FROM t WHERE col = literal` and
//! `SELECT cols|* FROM t`; anything else is a
//! syntax error, so a driver query it was not built for shows up as a failing test.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Server as Endpoint;

const SCHEMA_VERSION: [u8; 16] = [0x5c; 16];

/// A statement a node coordinated: which node, the text, and the consistency it was asked at.
#[derive(Debug, Clone, PartialEq)]
pub struct Coordinated {
    pub node: usize,
    pub statement: String,
    pub consistency: u16,
}

/// The Cassandra release a stand-in plays, for what differs between them on the wire.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// 4.0 (and 3.x) as the official image configures it: `system.local.rpc_address` is the
    /// configured `0.0.0.0`; `system.peers.rpc_address` is each peer's broadcast RPC address.
    #[default]
    V40,
    /// 4.1 and later: `system.local.rpc_address` is the broadcast RPC address too.
    V41,
}

impl Release {
    pub fn version(self) -> &'static str {
        match self {
            Release::V40 => "4.0.13",
            Release::V41 => "4.1.11",
        }
    }
}

/// How a stand-in node misbehaves, to check that the verifier notices.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// This node, as coordinator, returns one row fewer from user tables.
    pub short_reads_on: Option<usize>,
    /// `system.peers` on every node leaves this node out.
    pub unlisted: Option<usize>,
    /// `system.local` on this node reports another host ID than its peers say it has.
    pub wrong_local_host_id_on: Option<usize>,
    /// This node belongs to another cluster (its own `cluster_name`, and the others' peers
    /// tables do not list it, nor does it list them).
    pub other_cluster: Option<usize>,
}

#[derive(Clone)]
struct Column {
    name: String,
    kind: String,
}

/// A row: literal by column name.
type Row = BTreeMap<String, String>;

#[derive(Default)]
struct Store {
    keyspaces: BTreeSet<String>,
    /// `keyspace.table` -> (columns, rows).
    tables: BTreeMap<String, (Vec<Column>, Vec<Row>)>,
}

struct Shared {
    /// Where each node says it is; a restarted pod comes back at another IP.
    advertised: Mutex<Vec<Ipv4Addr>>,
    /// Each node's host ID; a node that lost its data rejoins with a new one.
    host_ids: Mutex<Vec<[u8; 16]>>,
    /// (IP, host ID) of nodes that left without being removed: nodetool still lists them `DN`.
    ghosts: Mutex<Vec<(Ipv4Addr, [u8; 16])>>,
    login: Option<(String, String)>,
    faults: Faults,
    release: Release,
    /// Bumped when a node's pod is replaced: its open connections end.
    lives: Vec<tokio::sync::watch::Sender<u64>>,
    store: Mutex<Store>,
    log: Mutex<Vec<Coordinated>>,
}

/// A running stand-in cluster; its listeners stop when it is dropped.
pub struct StandIn {
    shared: Arc<Shared>,
    endpoints: Vec<Endpoint>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// The host ID node `i` has (what nodetool would print for it).
pub fn host_id(i: usize) -> String {
    uuid_text(&host_id_bytes(i))
}

fn host_id_bytes(i: usize) -> [u8; 16] {
    let mut b = [0x11u8; 16];
    b[15] = i as u8;
    b[6] = 0x41; // version 4, so it reads as a real host ID
    b
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl StandIn {
    /// Starts `nodes` stand-in nodes behind "bridges": each listens on its own 127.0.0.1 port
    /// and advertises an unroutable pod IP, 10.244.0.10, .11, ...
    /// They play Cassandra 4.0 ([`Release::V40`], what the real ring ran).
    pub async fn start(nodes: usize, login: Option<(&str, &str)>, faults: Faults) -> Self {
        Self::start_release(nodes, login, faults, Release::V40).await
    }

    /// As [`StandIn::start`], playing `release`.
    pub async fn start_release(
        nodes: usize,
        login: Option<(&str, &str)>,
        faults: Faults,
        release: Release,
    ) -> Self {
        let advertised: Vec<Ipv4Addr> = (0..nodes)
            .map(|i| Ipv4Addr::new(10, 244, 0, 10 + i as u8))
            .collect();
        let mut listeners = vec![];
        for _ in 0..nodes {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
        }
        Self::serve_on(listeners, advertised, true, login, faults, release)
    }

    /// Starts `nodes` stand-in nodes reachable where they say they are, like servers outside
    /// Kubernetes: 127.0.0.10, .11, ... all on one port (the driver pairs every advertised IP
    /// with the port it connected on).
    pub async fn start_static(nodes: usize) -> Self {
        let ips: Vec<Ipv4Addr> = (0..nodes)
            .map(|i| Ipv4Addr::new(127, 0, 0, 10 + i as u8))
            .collect();
        Self::start_static_on(&ips).await
    }

    /// Static nodes on these loopback addresses, one port for all.
    pub async fn start_static_on(ips: &[Ipv4Addr]) -> Self {
        let (ips, nodes) = (ips.to_vec(), ips.len());
        for _ in 0..20 {
            let first = TcpListener::bind((ips[0], 0)).await.expect("bind");
            let port = first.local_addr().unwrap().port();
            let mut listeners = vec![first];
            for ip in &ips[1..] {
                match TcpListener::bind((*ip, port)).await {
                    Ok(l) => listeners.push(l),
                    Err(_) => break,
                }
            }
            if listeners.len() == nodes {
                return Self::serve_on(
                    listeners,
                    ips,
                    false,
                    None,
                    Faults::default(),
                    Release::V40,
                );
            }
        }
        panic!("no port free on all of {ips:?}");
    }

    fn serve_on(
        listeners: Vec<TcpListener>,
        advertised: Vec<Ipv4Addr>,
        bridged: bool,
        login: Option<(&str, &str)>,
        faults: Faults,
        release: Release,
    ) -> Self {
        let shared = Arc::new(Shared {
            host_ids: Mutex::new((0..advertised.len()).map(host_id_bytes).collect()),
            lives: (0..advertised.len())
                .map(|_| tokio::sync::watch::Sender::new(0))
                .collect(),
            release,
            advertised: Mutex::new(advertised),
            ghosts: Mutex::default(),
            login: login.map(|(u, p)| (u.to_string(), p.to_string())),
            faults,
            store: Mutex::default(),
            log: Mutex::default(),
        });
        let mut endpoints = vec![];
        let mut tasks = vec![];
        for (i, listener) in listeners.into_iter().enumerate() {
            let addr = listener.local_addr().unwrap();
            let mut e = Endpoint::new(addr.ip().to_string(), addr.port());
            if bridged {
                e.name = format!("cassandra-{i}");
                e.advertised = Some(shared.ip(i).to_string());
            }
            endpoints.push(e);
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, i, shared.clone()));
                }
            }));
        }
        StandIn {
            shared,
            endpoints,
            tasks,
        }
    }

    /// The nodes as the verifier gets them: behind bridges, local address + pod IP; static,
    /// their own address.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoints.clone()
    }

    /// Statements on user tables and keyspaces each node coordinated, in order.
    pub fn coordinated(&self) -> Vec<Coordinated> {
        self.shared.log.lock().unwrap().clone()
    }

    /// What `nodetool status` (Cassandra 3.x layout) would print for these nodes.
    pub fn nodetool_status(&self) -> String {
        self.handle().nodetool_status()
    }

    /// A handle that follows the nodes' state, for fake pods to print their nodetool from.
    pub fn handle(&self) -> Handle {
        Handle(self.shared.clone())
    }

    /// The keyspaces that exist now.
    pub fn keyspaces(&self) -> Vec<String> {
        self.shared
            .store
            .lock()
            .unwrap()
            .keyspaces
            .iter()
            .cloned()
            .collect()
    }

    /// Rows stored in `keyspace.table`.
    pub fn rows(&self, table: &str) -> usize {
        let store = self.shared.store.lock().unwrap();
        store.tables.get(table).map_or(0, |(_, rows)| rows.len())
    }
}

/// The stand-in's nodes as pods see them: what nodetool prints, and pod restarts.
#[derive(Clone)]
pub struct Handle(Arc<Shared>);

impl Handle {
    /// What `nodetool status` (Cassandra 3.x layout) would print: every node `UN`, and nodes
    /// that left without being removed `DN`.
    pub fn nodetool_status(&self) -> String {
        let mut out = String::from(
            "Datacenter: DC1\n===============\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n\
             --  Address      Load       Tokens  Owns (effective)  Host ID                               Rack\n",
        );
        let ips = self.0.advertised.lock().unwrap().clone();
        let ids = self.0.host_ids.lock().unwrap().clone();
        let ghosts = self.0.ghosts.lock().unwrap().clone();
        let up = ips.iter().zip(&ids).map(|(ip, id)| ("UN", ip, id));
        for (code, ip, id) in up.chain(ghosts.iter().map(|(ip, id)| ("DN", ip, id))) {
            out.push_str(&format!(
                "{code}  {ip:<12} 104.6 KiB  1       66.7%             {}  Rack1\n",
                uuid_text(id)
            ));
        }
        out
    }

    /// Node `i`'s pod was replaced and came back at `ip`. With its volume it keeps its host
    /// ID; without, it joins as a new node and the old one stays in the ring as a ghost.
    pub fn restart(&self, i: usize, ip: Ipv4Addr, kept_its_data: bool) {
        let old_ip = std::mem::replace(&mut self.0.advertised.lock().unwrap()[i], ip);
        // The old process is gone: whatever was connected to it (through the port-forward)
        // sees its connection end.
        self.0.lives[i].send_modify(|life| *life += 1);
        if !kept_its_data {
            let mut ids = self.0.host_ids.lock().unwrap();
            let old_id = std::mem::replace(&mut ids[i], host_id_bytes(0x80 + i));
            self.0.ghosts.lock().unwrap().push((old_ip, old_id));
        }
    }
}

impl Shared {
    fn ip(&self, i: usize) -> Ipv4Addr {
        self.advertised.lock().unwrap()[i]
    }
    fn nodes(&self) -> usize {
        self.advertised.lock().unwrap().len()
    }
}

// Opcodes of protocol v4.
const ERROR: u8 = 0x00;
const STARTUP: u8 = 0x01;
const READY: u8 = 0x02;
const AUTHENTICATE: u8 = 0x03;
const OPTIONS: u8 = 0x05;
const SUPPORTED: u8 = 0x06;
const QUERY: u8 = 0x07;
const RESULT: u8 = 0x08;
const PREPARE: u8 = 0x09;
const EXECUTE: u8 = 0x0A;
const REGISTER: u8 = 0x0B;
const AUTH_RESPONSE: u8 = 0x0F;
const AUTH_SUCCESS: u8 = 0x10;

// Error codes.
const PROTOCOL_ERROR: i32 = 0x000A;
const BAD_CREDENTIALS: i32 = 0x0100;
const SYNTAX_ERROR: i32 = 0x2000;
const UNAUTHORIZED: i32 = 0x2100;
const INVALID: i32 = 0x2200;

async fn serve(mut stream: TcpStream, node: usize, shared: Arc<Shared>) {
    let mut keyspace: Option<String> = None;
    let mut authenticated = shared.login.is_none();
    let mut life = shared.lives[node].subscribe();
    life.mark_unchanged();
    loop {
        let mut header = [0u8; 9];
        tokio::select! {
            read = stream.read_exact(&mut header) => if read.is_err() {
                return;
            },
            // The pod was replaced: the connection ends.
            _ = life.changed() => return,
        }
        let stream_id = [header[2], header[3]];
        let opcode = header[4];
        let length = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let (op, reply) = if header[0] != 0x04 {
            error(PROTOCOL_ERROR, "the stand-in speaks protocol v4 only")
        } else {
            match opcode {
                OPTIONS => {
                    let mut b = vec![];
                    put_short(&mut b, 2);
                    put_string(&mut b, "CQL_VERSION");
                    put_string_list(&mut b, &["3.4.5"]);
                    put_string(&mut b, "COMPRESSION");
                    put_string_list(&mut b, &[]);
                    (SUPPORTED, b)
                }
                STARTUP if shared.login.is_some() => {
                    let mut b = vec![];
                    put_string(&mut b, "org.apache.cassandra.auth.PasswordAuthenticator");
                    (AUTHENTICATE, b)
                }
                STARTUP | REGISTER => (READY, vec![]),
                AUTH_RESPONSE => {
                    let token = read_bytes(&body).unwrap_or_default();
                    let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
                    let given = match parts.as_slice() {
                        [_, user, password] => Some((
                            String::from_utf8_lossy(user).to_string(),
                            String::from_utf8_lossy(password).to_string(),
                        )),
                        _ => None,
                    };
                    if given.is_some() && given == shared.login {
                        authenticated = true;
                        (AUTH_SUCCESS, (-1i32).to_be_bytes().to_vec())
                    } else {
                        error(
                            BAD_CREDENTIALS,
                            "Provided username and/or password are incorrect",
                        )
                    }
                }
                QUERY | PREPARE | EXECUTE if !authenticated => {
                    error(UNAUTHORIZED, "not authenticated")
                }
                // The driver prepares its metadata queries. The statement id is the statement
                // text itself, so every node agrees on it and EXECUTE needs no cache; the
                // stand-in takes no bind markers and sends the result metadata with the rows.
                PREPARE => match read_long_string(&body) {
                    Some(text) => {
                        let mut b = 4i32.to_be_bytes().to_vec();
                        put_short(&mut b, text.len() as u16);
                        b.extend_from_slice(text.as_bytes());
                        b.extend_from_slice(&0i32.to_be_bytes()); // flags
                        b.extend_from_slice(&0i32.to_be_bytes()); // bind markers
                        b.extend_from_slice(&0i32.to_be_bytes()); // partition key columns
                        b.extend_from_slice(&4i32.to_be_bytes()); // result: no metadata
                        b.extend_from_slice(&0i32.to_be_bytes());
                        (RESULT, b)
                    }
                    None => error(PROTOCOL_ERROR, "malformed PREPARE body"),
                },
                EXECUTE => match read_execute(&body) {
                    Some((text, consistency)) => {
                        query(&shared, node, &mut keyspace, &text, consistency)
                    }
                    None => error(PROTOCOL_ERROR, "malformed EXECUTE body"),
                },
                QUERY => match read_query(&body) {
                    Some((text, consistency)) => {
                        query(&shared, node, &mut keyspace, &text, consistency)
                    }
                    None => error(PROTOCOL_ERROR, "malformed QUERY body"),
                },
                other => error(
                    PROTOCOL_ERROR,
                    &format!("the stand-in does not implement opcode {other:#04x}"),
                ),
            }
        };
        let mut frame = vec![0x84, 0, stream_id[0], stream_id[1], op];
        frame.extend_from_slice(&(reply.len() as u32).to_be_bytes());
        frame.extend_from_slice(&reply);
        if stream.write_all(&frame).await.is_err() {
            return;
        }
    }
}

fn error(code: i32, message: &str) -> (u8, Vec<u8>) {
    let mut b = code.to_be_bytes().to_vec();
    put_string(&mut b, message);
    (ERROR, b)
}

fn read_bytes(body: &[u8]) -> Option<Vec<u8>> {
    let n = i32::from_be_bytes(body.get(..4)?.try_into().ok()?);
    Some(body.get(4..4 + usize::try_from(n).ok()?)?.to_vec())
}

fn read_long_string(body: &[u8]) -> Option<String> {
    let n = usize::try_from(i32::from_be_bytes(body.get(..4)?.try_into().ok()?)).ok()?;
    Some(std::str::from_utf8(body.get(4..4 + n)?).ok()?.to_string())
}

/// The statement (its id is its text) and consistency of an EXECUTE body.
fn read_execute(body: &[u8]) -> Option<(String, u16)> {
    let n = u16::from_be_bytes(body.get(..2)?.try_into().ok()?) as usize;
    let text = std::str::from_utf8(body.get(2..2 + n)?).ok()?.to_string();
    let consistency = u16::from_be_bytes(body.get(2 + n..4 + n)?.try_into().ok()?);
    Some((text, consistency))
}

/// The statement text and consistency of a QUERY body.
fn read_query(body: &[u8]) -> Option<(String, u16)> {
    let text = read_long_string(body)?;
    let n = text.len();
    let consistency = u16::from_be_bytes(body.get(4 + n..6 + n)?.try_into().ok()?);
    Some((text, consistency))
}

fn put_short(b: &mut Vec<u8>, n: u16) {
    b.extend_from_slice(&n.to_be_bytes());
}

fn put_string(b: &mut Vec<u8>, s: &str) {
    put_short(b, s.len() as u16);
    b.extend_from_slice(s.as_bytes());
}

fn put_string_list(b: &mut Vec<u8>, items: &[&str]) {
    put_short(b, items.len() as u16);
    items.iter().for_each(|s| put_string(b, s));
}

fn put_value(b: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => {
            b.extend_from_slice(&(v.len() as i32).to_be_bytes());
            b.extend_from_slice(v);
        }
        None => b.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

/// A typed cell: the column type's [option] and the value's bytes.
#[derive(Clone)]
enum Cell {
    Uuid([u8; 16]),
    Inet(Ipv4Addr),
    Text(String),
    TextSet(Vec<String>),
    Int(i32),
    BigInt(i64),
    VarInt(i128),
}

impl Cell {
    fn put_type(&self, b: &mut Vec<u8>) {
        match self {
            Cell::Uuid(_) => put_short(b, 0x000C),
            Cell::Inet(_) => put_short(b, 0x0010),
            Cell::Text(_) => put_short(b, 0x000D),
            Cell::TextSet(_) => {
                put_short(b, 0x0022);
                put_short(b, 0x000D);
            }
            Cell::Int(_) => put_short(b, 0x0009),
            Cell::BigInt(_) => put_short(b, 0x0002),
            Cell::VarInt(_) => put_short(b, 0x000E),
        }
    }
    fn bytes(&self) -> Vec<u8> {
        match self {
            Cell::Uuid(u) => u.to_vec(),
            Cell::Inet(ip) => ip.octets().to_vec(),
            Cell::Text(s) => s.as_bytes().to_vec(),
            Cell::TextSet(items) => {
                let mut b = (items.len() as i32).to_be_bytes().to_vec();
                items
                    .iter()
                    .for_each(|s| put_value(&mut b, Some(s.as_bytes())));
                b
            }
            Cell::Int(n) => n.to_be_bytes().to_vec(),
            Cell::BigInt(n) => n.to_be_bytes().to_vec(),
            Cell::VarInt(n) => {
                // Minimal two's complement, big-endian.
                let full = n.to_be_bytes();
                let mut start = 0;
                while start < 15 {
                    let (a, b) = (full[start], full[start + 1]);
                    if (a == 0 && b & 0x80 == 0) || (a == 0xff && b & 0x80 != 0) {
                        start += 1;
                    } else {
                        break;
                    }
                }
                full[start..].to_vec()
            }
        }
    }
}

/// A RESULT of kind Rows; every row has one cell per column, typed by the first row (or by
/// `types` when there is none).
fn rows(
    keyspace: &str,
    table: &str,
    names: &[String],
    types: &[Cell],
    data: &[Vec<Cell>],
) -> Vec<u8> {
    let mut b = 2i32.to_be_bytes().to_vec();
    b.extend_from_slice(&1i32.to_be_bytes()); // global table spec
    b.extend_from_slice(&(names.len() as i32).to_be_bytes());
    put_string(&mut b, keyspace);
    put_string(&mut b, table);
    for (name, kind) in names.iter().zip(types) {
        put_string(&mut b, name);
        kind.put_type(&mut b);
    }
    b.extend_from_slice(&(data.len() as i32).to_be_bytes());
    for row in data {
        for cell in row {
            put_value(&mut b, Some(&cell.bytes()));
        }
    }
    b
}

fn schema_change(change: &str, target: &str, keyspace: &str, name: Option<&str>) -> (u8, Vec<u8>) {
    let mut b = 5i32.to_be_bytes().to_vec();
    put_string(&mut b, change);
    put_string(&mut b, target);
    put_string(&mut b, keyspace);
    if let Some(name) = name {
        put_string(&mut b, name);
    }
    (RESULT, b)
}

fn void() -> (u8, Vec<u8>) {
    (RESULT, 1i32.to_be_bytes().to_vec())
}

/// What node `i` says about itself (`local`) or what its peers say about it.
fn node_cell(shared: &Shared, i: usize, column: &str, local: bool) -> Option<Cell> {
    let mut host = shared.host_ids.lock().unwrap()[i];
    if local && shared.faults.wrong_local_host_id_on == Some(i) {
        host[0] = 0xee;
    }
    Some(match column {
        "host_id" => Cell::Uuid(host),
        // Before 4.1 a node reports its configured rpc_address about itself: the official
        // image configures 0.0.0.0 (and broadcasts the pod IP, which its peers list).
        "rpc_address" if local && shared.release == Release::V40 => {
            Cell::Inet(Ipv4Addr::UNSPECIFIED)
        }
        "rpc_address" | "peer" | "broadcast_address" | "listen_address" => Cell::Inet(shared.ip(i)),
        "release_version" => Cell::Text(shared.release.version().into()),
        "cluster_name" if shared.faults.other_cluster == Some(i) => Cell::Text("elsewhere".into()),
        "data_center" => Cell::Text("DC1".into()),
        "rack" => Cell::Text("Rack1".into()),
        // Evenly spread Murmur3 tokens, one per node.
        "tokens" => Cell::TextSet(vec![
            (i64::MIN / 2 + (i as i64) * (i64::MAX / shared.nodes() as i64)).to_string(),
        ]),
        "cluster_name" => Cell::Text("stand-in".into()),
        "schema_version" => Cell::Uuid(SCHEMA_VERSION),
        "key" if local => Cell::Text("local".into()),
        _ => return None,
    })
}

fn words(text: &str) -> Vec<String> {
    text.replace(['(', ')', ','], " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn query(
    shared: &Shared,
    node: usize,
    keyspace: &mut Option<String>,
    text: &str,
    consistency: u16,
) -> (u8, Vec<u8>) {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let upper = flat.to_ascii_uppercase();
    if !upper.contains(" SYSTEM.") && !upper.contains(" SYSTEM_SCHEMA.") {
        shared.log.lock().unwrap().push(Coordinated {
            node,
            statement: flat.clone(),
            consistency,
        });
    }
    let w = words(&flat);
    let up: Vec<String> = w.iter().map(|s| s.to_ascii_uppercase()).collect();
    let qualified = |name: &str, current: &Option<String>| -> Result<(String, String), String> {
        match name.split_once('.') {
            Some((k, t)) => Ok((k.to_string(), t.to_string())),
            None => current
                .clone()
                .map(|k| (k, name.to_string()))
                .ok_or_else(|| "No keyspace has been specified".to_string()),
        }
    };
    let mut store = shared.store.lock().unwrap();
    match up.first().map(String::as_str) {
        Some("USE") if w.len() == 2 => {
            let ks = w[1].trim_matches('"').to_string();
            if !store.keyspaces.contains(&ks) {
                return error(INVALID, &format!("Keyspace '{ks}' does not exist"));
            }
            *keyspace = Some(ks.clone());
            let mut b = 3i32.to_be_bytes().to_vec();
            put_string(&mut b, &ks);
            (RESULT, b)
        }
        Some("DROP") if up.get(1).map(String::as_str) == Some("KEYSPACE") => {
            let if_exists = up.get(2).map(String::as_str) == Some("IF");
            let Some(ks) = w.get(if if_exists { 4 } else { 2 }).cloned() else {
                return error(SYNTAX_ERROR, "DROP KEYSPACE without a name");
            };
            if !store.keyspaces.remove(&ks) {
                return if if_exists {
                    void()
                } else {
                    error(INVALID, &format!("Keyspace '{ks}' does not exist"))
                };
            }
            store
                .tables
                .retain(|t, _| !t.starts_with(&format!("{ks}.")));
            schema_change("DROPPED", "KEYSPACE", &ks, None)
        }
        Some("CREATE") if up.get(1).map(String::as_str) == Some("KEYSPACE") => {
            let if_not = up.get(2).map(String::as_str) == Some("IF");
            let Some(ks) = w.get(if if_not { 5 } else { 2 }).cloned() else {
                return error(SYNTAX_ERROR, "CREATE KEYSPACE without a name");
            };
            if !upper.contains("REPLICATION") {
                return error(SYNTAX_ERROR, "a keyspace needs a replication map");
            }
            if !store.keyspaces.insert(ks.clone()) {
                return if if_not {
                    void()
                } else {
                    error(0x2400, &format!("Keyspace '{ks}' already exists"))
                };
            }
            schema_change("CREATED", "KEYSPACE", &ks, None)
        }
        Some("CREATE") if up.get(1).map(String::as_str) == Some("TABLE") => {
            let if_not = up.get(2).map(String::as_str) == Some("IF");
            let Some(name) = w.get(if if_not { 5 } else { 2 }) else {
                return error(SYNTAX_ERROR, "CREATE TABLE without a name");
            };
            let (ks, table) = match qualified(name, keyspace) {
                Ok(q) => q,
                Err(e) => return error(INVALID, &e),
            };
            if !store.keyspaces.contains(&ks) {
                return error(INVALID, &format!("Keyspace '{ks}' does not exist"));
            }
            let Some(defs) = flat
                .split_once('(')
                .and_then(|(_, rest)| rest.rsplit_once(')'))
            else {
                return error(SYNTAX_ERROR, "CREATE TABLE without columns");
            };
            let columns = defs
                .0
                .split(',')
                .filter_map(|d| {
                    let mut it = d.split_whitespace();
                    Some(Column {
                        name: it.next()?.to_string(),
                        kind: it.next()?.to_ascii_lowercase(),
                    })
                })
                .collect();
            let key = format!("{ks}.{table}");
            if store.tables.contains_key(&key) {
                return if if_not {
                    void()
                } else {
                    error(0x2400, &format!("Table {key} already exists"))
                };
            }
            store.tables.insert(key, (columns, vec![]));
            schema_change("CREATED", "TABLE", &ks, Some(&table))
        }
        Some("INSERT") if up.get(1).map(String::as_str) == Some("INTO") => {
            let Some(name) = w.get(2) else {
                return error(SYNTAX_ERROR, "INSERT INTO without a table");
            };
            let (ks, table) = match qualified(name, keyspace) {
                Ok(q) => q,
                Err(e) => return error(INVALID, &e),
            };
            let Some((_, rest)) = flat.split_once('(') else {
                return error(SYNTAX_ERROR, "INSERT without columns");
            };
            let Some((cols, rest)) = rest.split_once(')') else {
                return error(SYNTAX_ERROR, "INSERT without columns");
            };
            let Some(values) = rest
                .split_once('(')
                .and_then(|(_, v)| v.rsplit_once(')'))
                .map(|v| literals(v.0))
            else {
                return error(SYNTAX_ERROR, "INSERT without VALUES");
            };
            let cols: Vec<String> = cols.split(',').map(|c| c.trim().to_string()).collect();
            if cols.len() != values.len() {
                return error(INVALID, "Unmatched column names/values");
            }
            let Some((_, data)) = store.tables.get_mut(&format!("{ks}.{table}")) else {
                return error(INVALID, &format!("unconfigured table {table}"));
            };
            data.push(cols.into_iter().zip(values).collect());
            void()
        }
        Some("DELETE") if up.get(1).map(String::as_str) == Some("FROM") => {
            let Some(name) = w.get(2) else {
                return error(SYNTAX_ERROR, "DELETE FROM without a table");
            };
            let (ks, table) = match qualified(name, keyspace) {
                Ok(q) => q,
                Err(e) => return error(INVALID, &e),
            };
            let Some((_, condition)) = flat
                .split_once(" WHERE ")
                .or_else(|| flat.split_once(" where "))
            else {
                return error(SYNTAX_ERROR, "DELETE without WHERE");
            };
            let Some((column, value)) = condition.split_once('=') else {
                return error(SYNTAX_ERROR, "DELETE ... WHERE needs `col = literal`");
            };
            let (column, value) = (
                column.trim().to_string(),
                literals(value.trim()).pop().unwrap_or_default(),
            );
            let Some((_, data)) = store.tables.get_mut(&format!("{ks}.{table}")) else {
                return error(INVALID, &format!("unconfigured table {table}"));
            };
            data.retain(|row| row.get(&column) != Some(&value));
            void()
        }
        Some("SELECT") => {
            let Some(from) = up.iter().position(|x| x == "FROM") else {
                return error(SYNTAX_ERROR, "SELECT without FROM");
            };
            let names: Vec<String> = w[1..from].to_vec();
            let Some(name) = w.get(from + 1) else {
                return error(SYNTAX_ERROR, "SELECT without a table");
            };
            let (ks, table) = match qualified(name, keyspace) {
                Ok(q) => q,
                Err(e) => return error(INVALID, &e),
            };
            drop(store);
            if ks == "system" && (table == "local" || table == "peers") {
                return system_rows(shared, node, &table, &names);
            }
            let store = shared.store.lock().unwrap();
            let Some((columns, data)) = store.tables.get(&format!("{ks}.{table}")) else {
                return error(INVALID, &format!("unconfigured table {ks}.{table}"));
            };
            let picked: Vec<Column> = if names == ["*"] {
                columns.clone()
            } else {
                let mut picked = vec![];
                for n in &names {
                    match columns.iter().find(|c| &c.name == n) {
                        Some(c) => picked.push(c.clone()),
                        None => return error(INVALID, &format!("Undefined column name {n}")),
                    }
                }
                picked
            };
            let mut types = vec![];
            for c in &picked {
                match cell(&c.kind, "0") {
                    Some(t) => types.push(t),
                    None => {
                        return error(INVALID, &format!("the stand-in has no type {}", c.kind));
                    }
                }
            }
            let mut out = vec![];
            for row in data {
                let cells: Option<Vec<Cell>> = picked
                    .iter()
                    .map(|c| cell(&c.kind, row.get(&c.name).map_or("0", String::as_str)))
                    .collect();
                match cells {
                    Some(cells) => out.push(cells),
                    None => return error(INVALID, "a stored literal does not fit its column"),
                }
            }
            if shared.faults.short_reads_on == Some(node) {
                out.pop();
            }
            let names: Vec<String> = picked.iter().map(|c| c.name.clone()).collect();
            (RESULT, rows(&ks, &table, &names, &types, &out))
        }
        _ => error(
            SYNTAX_ERROR,
            &format!("the CQL stand-in does not understand `{flat}`"),
        ),
    }
}

fn system_rows(shared: &Shared, node: usize, table: &str, names: &[String]) -> (u8, Vec<u8>) {
    let local = table == "local";
    let apart = shared.faults.other_cluster;
    let members: Vec<usize> = if local {
        vec![node]
    } else {
        (0..shared.nodes())
            .filter(|&i| i != node && shared.faults.unlisted != Some(i))
            // A node of another cluster is nobody's peer, and has none.
            .filter(|&i| apart != Some(node) && apart != Some(i))
            .collect()
    };
    let mut types = vec![];
    for n in names {
        match node_cell(shared, node, n, local) {
            Some(t) => types.push(t),
            None => {
                return error(
                    INVALID,
                    &format!("Undefined column name {n} in system.{table}"),
                );
            }
        }
    }
    let data: Vec<Vec<Cell>> = members
        .iter()
        .map(|&i| {
            names
                .iter()
                .map(|n| node_cell(shared, i, n, local).expect("checked above"))
                .collect()
        })
        .collect();
    (RESULT, rows("system", table, names, &types, &data))
}

/// Literals of a VALUES list: numbers and 'quoted' strings ('' escapes a quote).
fn literals(list: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if quoted && chars.peek() == Some(&'\'') => {
                current.push('\'');
                chars.next();
            }
            '\'' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut current).trim().to_string()),
            _ => current.push(c),
        }
    }
    out.push(current.trim().to_string());
    out
}

fn cell(kind: &str, literal: &str) -> Option<Cell> {
    Some(match kind {
        "int" => Cell::Int(literal.parse().ok()?),
        "bigint" => Cell::BigInt(literal.parse().ok()?),
        "varint" => Cell::VarInt(literal.parse().ok()?),
        "text" | "varchar" => Cell::Text(literal.to_string()),
        _ => return None,
    })
}
