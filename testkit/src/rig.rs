//! The real-server test rig (layer 2): multi-node MariaDB Galera, etcd, memcached and twemproxy
//! clusters in containers on a user-defined Docker network, each node its own container and IP,
//! from the local image built by `fixtures/images/build-rig-image.sh` (no registry needed).
//! Containers and networks are removed when the returned handles drop.
//!
//! Tests that use the rig are `#[ignore]`d with a reason; the README's test command runs them
//! (`--run-ignored all`), and there a missing Docker or image is a failure, not a skip.

use crate::Server as Endpoint;
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

pub const IMAGE: &str = "harness-rig";
pub const TAG: &str = "3";

pub struct Node {
    pub name: String,
    pub container: ContainerAsync<GenericImage>,
}

impl Node {
    pub async fn ip(&self) -> String {
        self.container
            .get_bridge_ip_address()
            .await
            .expect("container IP")
            .to_string()
    }
    pub async fn endpoint(&self, port: u16) -> Endpoint {
        let mut e = Endpoint::new(self.ip().await, port);
        e.name = format!("{}:{port}", self.name);
        e
    }
    /// The host port a published container port is mapped to.
    pub async fn host_port(&self, port: u16) -> u16 {
        self.container
            .get_host_port_ipv4(port)
            .await
            .expect("a published port")
    }

    /// Stops the container and makes sure it is down before the test goes on.
    pub async fn stop(&self) {
        self.container.stop().await.expect("stop container");
        assert!(
            !self.container.is_running().await.expect("container state"),
            "{} still runs after stop",
            self.name
        );
    }
    pub async fn start(&self) {
        self.container.start().await.expect("start container");
    }
}

/// A fresh name for this test's network and container prefix.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", crate::nonce())
}

async fn start(network: &str, name: &str, wait: WaitFor, script: String) -> Node {
    start_publishing(network, name, wait, script, None).await
}

/// [`start`], optionally publishing a container port on the host's loopback.
async fn start_publishing(
    network: &str,
    name: &str,
    wait: WaitFor,
    script: String,
    publish: Option<u16>,
) -> Node {
    let mut image = GenericImage::new(IMAGE, TAG).with_wait_for(wait);
    if let Some(port) = publish {
        use testcontainers::core::IntoContainerPort;
        image = image.with_exposed_port(port.tcp());
    }
    let image = image.with_entrypoint("/bin/bash");
    let container = image
        .with_cmd(["-c".to_string(), script])
        .with_network(network)
        .with_container_name(name)
        .with_startup_timeout(std::time::Duration::from_secs(180))
        .start()
        .await
        .unwrap_or_else(|e| panic!("starting {name} from {IMAGE}:{TAG} failed: {e}\n(is Docker running and the image built? run scripts/install-test-deps.sh)"));
    Node {
        name: name.to_string(),
        container,
    }
}

pub const GALERA_USER: &str = "harness";
pub const GALERA_PASSWORD: &str = "rig-pass-4f9d1c";
/// A user with an application's privileges only (no admin rights: `read_only` applies to it).
pub const GALERA_APP_USER: &str = "app";

/// The start script of a Galera node: joins `peers` (empty: bootstraps a new cluster), with
/// `extra` server options. A node can later be split off into a cluster of its own (see
/// [`galera_split_off`]): its script then reads the address and cluster name from the data
/// directory and bootstraps from its own data, keeping the state UUID.
fn galera_script(peers: &str, extra: &str) -> String {
    let bootstrap = if peers.is_empty() {
        "--wsrep-new-cluster --init-file=/tmp/init.sql"
    } else {
        ""
    };
    format!(
        r#"set -e
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1
cat > /tmp/init.sql <<'SQL'
CREATE USER IF NOT EXISTS '{GALERA_USER}'@'%' IDENTIFIED BY '{GALERA_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO '{GALERA_USER}'@'%';
CREATE USER IF NOT EXISTS '{GALERA_APP_USER}'@'%' IDENTIFIED BY '{GALERA_PASSWORD}';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON *.* TO '{GALERA_APP_USER}'@'%';
SQL
chown mysql /tmp/init.sql
address="{peers}"; name=rig; bootstrap="{bootstrap}"
if [ -f /var/lib/mysql/rig-split ]; then
  address="$(sed -n 1p /var/lib/mysql/rig-split)"; name="$(sed -n 2p /var/lib/mysql/rig-split)"
  bootstrap=""
  if [ -z "$address" ]; then
    bootstrap=--wsrep-new-cluster
    sed -i 's/safe_to_bootstrap: 0/safe_to_bootstrap: 1/' /var/lib/mysql/grastate.dat
  fi
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0 --binlog_format=ROW --default_storage_engine=InnoDB \
  --innodb_autoinc_lock_mode=2 --innodb_buffer_pool_size=64M --wsrep_on=ON \
  --wsrep_provider=/usr/lib/galera/libgalera_smm.so --wsrep_cluster_name="$name" \
  --wsrep_cluster_address="gcomm://$address" --wsrep_sst_method=rsync \
  --wsrep_provider_options='gcache.size=32M' --wsrep-node-address=$(hostname -i) $bootstrap {extra}"#
    )
}

/// A Galera cluster of `n` nodes: the first bootstraps, the others join one at a time.
/// Peers are addressed by container name, so a restarted node rejoins whatever its new IP.
pub async fn galera(n: usize) -> (Vec<Node>, Vec<Endpoint>) {
    galera_with(n, &[]).await
}

/// [`galera`] with extra server options for some nodes (`(index, options)`), e.g. a node that
/// starts with a setting Galera does not allow.
pub async fn galera_with(n: usize, extra: &[(usize, &str)]) -> (Vec<Node>, Vec<Endpoint>) {
    let net = unique("rig-galera");
    let names: Vec<String> = (0..n).map(|i| format!("{net}-g{i}")).collect();
    let mut nodes = vec![];
    for (i, name) in names.iter().enumerate() {
        let peers = if i == 0 {
            String::new()
        } else {
            names.join(",")
        };
        let options = extra
            .iter()
            .filter(|(at, _)| *at == i)
            .map(|(_, o)| *o)
            .collect::<Vec<_>>()
            .join(" ");
        nodes.push(galera_node(&net, name, &peers, &options).await);
    }
    let mut endpoints = vec![];
    for node in &nodes {
        endpoints.push(node.endpoint(3306).await);
    }
    (nodes, endpoints)
}

/// One Galera node on `net` joining `peers` (comma-separated names; empty bootstraps).
pub async fn galera_node(net: &str, name: &str, peers: &str, extra: &str) -> Node {
    start(
        net,
        name,
        WaitFor::message_on_stderr("ready for connections"),
        galera_script(peers, extra),
    )
    .await
}

/// The network a rig node is on (its name's prefix, as [`unique`] made it).
pub fn network_of(node: &Node) -> String {
    node.name
        .rsplit_once('-')
        .map_or(node.name.clone(), |(net, _)| net.to_string())
}

/// Takes `node` out of its cluster: stopped, then started again as the first node of a new
/// cluster named `cluster_name`, bootstrapped from its own data, so the new cluster shares the
/// old one's state UUID (as a cluster restored or bootstrapped from another's data does).
pub async fn galera_split_off(node: &Node, cluster_name: &str) {
    exec(
        node,
        &[
            "bash",
            "-c",
            &format!("printf '\\n{cluster_name}\\n' > /var/lib/mysql/rig-split"),
        ],
    )
    .await;
    node.stop().await;
    node.start().await;
}

/// One plain MariaDB server (wsrep off, not Galera), its port published on the host: the same
/// server can then be named two ways (`127.0.0.1:P` and `localhost:P`). Returns the host port.
pub async fn mariadb_plain() -> (Node, u16) {
    let net = unique("rig-plain");
    let name = format!("{net}-db");
    let script = format!(
        r#"set -e
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1
cat > /tmp/init.sql <<'SQL'
CREATE USER IF NOT EXISTS '{GALERA_USER}'@'%' IDENTIFIED BY '{GALERA_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO '{GALERA_USER}'@'%';
SQL
chown mysql /tmp/init.sql
exec mariadbd --user=mysql --bind-address=0.0.0.0 --innodb_buffer_pool_size=32M --init-file=/tmp/init.sql"#
    );
    let node = start_publishing(
        &net,
        &name,
        WaitFor::message_on_stderr("ready for connections"),
        script,
        Some(3306),
    )
    .await;
    let port = node.host_port(3306).await;
    (node, port)
}

/// A background server started by a shell that is PID 1: the shell passes SIGTERM on (a shell
/// as PID 1 ignores it otherwise, and `docker stop` would wait its whole grace period), and
/// says `ready` once `port` accepts connections.
fn serve(command: &str, port: u16, ready: &str) -> String {
    format!(
        "{command} &\ntrap 'kill $! 2>/dev/null; wait; exit 0' TERM INT\n\
         until bash -c '</dev/tcp/127.0.0.1/{port}' 2>/dev/null; do sleep 0.1; done\n\
         echo {ready} >&2\nwait $!"
    )
}

/// The memcached command line of the rig (64 MiB unless `args` say otherwise).
fn memcached_command(args: &str) -> String {
    let memory = if args.contains("-m ") { "" } else { "-m 64" };
    format!("memcached -u nobody -p 11211 -l 0.0.0.0 {memory} {args}")
}

/// One memcached, its port published on the host (see [`mariadb_plain`]).
pub async fn memcached_published() -> (Node, u16) {
    let net = unique("rig-mc1");
    let name = format!("{net}-m");
    let node = start_publishing(
        &net,
        &name,
        WaitFor::message_on_stderr("memcached-ready"),
        serve(&memcached_command(""), 11211, "memcached-ready"),
        Some(11211),
    )
    .await;
    let port = node.host_port(11211).await;
    (node, port)
}

/// An etcd cluster of `n` members with the v2 API enabled, started together.
pub async fn etcd(n: usize) -> (Vec<Node>, Vec<Endpoint>) {
    let names: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    etcd_named(&names).await
}

/// [`etcd`] whose members carry the given etcd member names (`--name`), whatever their
/// containers are called: two clusters can then have members of the same names.
pub async fn etcd_named(member_names: &[String]) -> (Vec<Node>, Vec<Endpoint>) {
    let net = unique("rig-etcd");
    let hosts: Vec<String> = (0..member_names.len())
        .map(|i| format!("{net}-e{i}"))
        .collect();
    let initial: Vec<String> = member_names
        .iter()
        .zip(&hosts)
        .map(|(m, h)| format!("{m}=http://{h}:2380"))
        .collect();
    let starts = member_names.iter().zip(&hosts).map(|(member, host)| {
        // Peers are named in --initial-cluster: wait until Docker's DNS knows all of them.
        let resolve: Vec<String> = hosts.iter().map(|h| format!("getent hosts {h} >/dev/null")).collect();
        let script = format!(
            "until {}; do sleep 0.1; done\nexec etcd --name {member} --data-dir /tmp/etcd --enable-v2=true \
             --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://{host}:2379 \
             --listen-peer-urls http://0.0.0.0:2380 --initial-advertise-peer-urls http://{host}:2380 \
             --initial-cluster {} --initial-cluster-state new --initial-cluster-token {net}",
            resolve.join(" && "),
            initial.join(",")
        );
        let net = net.clone();
        let host = host.clone();
        async move {
            start(&net, &host, WaitFor::message_on_stderr("ready to serve client requests"), script).await
        }
    });
    let nodes = futures::future::join_all(starts).await;
    let mut endpoints = vec![];
    for node in &nodes {
        endpoints.push(node.endpoint(2379).await);
    }
    (nodes, endpoints)
}

/// `n` memcached servers on one network (returned with that network's name).
pub async fn memcached(n: usize) -> (String, Vec<Node>, Vec<Endpoint>) {
    memcached_with(n, "").await
}

/// [`memcached`] with extra server options (`-m 2 -M`: 2 MiB, refusing sets once full).
pub async fn memcached_with(n: usize, args: &str) -> (String, Vec<Node>, Vec<Endpoint>) {
    let net = unique("rig-mc");
    let starts = (0..n).map(|i| {
        let name = format!("{net}-m{i}");
        // Not -vv: logging every command would make the server, not the client, the bottleneck.
        let script = serve(&memcached_command(args), 11211, "memcached-ready");
        let net = net.clone();
        async move {
            start(
                &net,
                &name,
                WaitFor::message_on_stderr("memcached-ready"),
                script,
            )
            .await
        }
    });
    let nodes = futures::future::join_all(starts).await;
    let mut endpoints = vec![];
    for node in &nodes {
        endpoints.push(node.endpoint(11211).await);
    }
    (net, nodes, endpoints)
}

/// `curr_items` from memcached's own `stats` (what a check left behind).
pub async fn memcached_items(address: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(address).await.unwrap();
    s.write_all(b"stats\r\n").await.unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.ends_with("END\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "stats ended early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("STAT curr_items "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// `n` twemproxy (nutcracker) instances in front of `servers`, one per "node", in the role
/// mcrouter plays on a cluster; twemproxy's default hash (fnv1a_64) with ketama distribution,
/// no host ejection (so a dead server shows).
pub async fn twemproxy(net: &str, servers: &[Node], n: usize) -> (Vec<Node>, Vec<Endpoint>) {
    twemproxy_weighted(net, servers, n, &vec![1; servers.len()]).await
}

/// [`twemproxy`] with a ketama weight per server (a skewed pool: most keys on one server).
pub async fn twemproxy_weighted(
    net: &str,
    servers: &[Node],
    n: usize,
    weights: &[u32],
) -> (Vec<Node>, Vec<Endpoint>) {
    twemproxy_hashed(net, servers, n, weights, None).await
}

/// [`twemproxy_weighted`] with one of twemproxy's hashes (`md5`, `crc32`, `murmur`, …), or
/// its default (fnv1a_64).
pub async fn twemproxy_hashed(
    net: &str,
    servers: &[Node],
    n: usize,
    weights: &[u32],
    hash: Option<&str>,
) -> (Vec<Node>, Vec<Endpoint>) {
    let pool: String = servers
        .iter()
        .zip(weights)
        .map(|(s, w)| format!("    - {}:11211:{w}\\n", s.name))
        .collect();
    let hash = hash.map(|h| format!("  hash: {h}\\n")).unwrap_or_default();
    // Several sets of proxies may share a network: each set's names are its own.
    static SETS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let set = SETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let starts = (0..n).map(|i| {
        let name = format!("{net}-p{set}x{i}");
        let command = format!(
            "printf 'pool:\\n  listen: 0.0.0.0:5000\\n{hash}  distribution: ketama\\n  timeout: 2000\\n  auto_eject_hosts: false\\n  servers:\\n{pool}' > /tmp/nc.yml\n\
             nutcracker -c /tmp/nc.yml"
        );
        let script = serve(&command, 5000, "proxy-ready");
        let net = net.to_string();
        async move { start(&net, &name, WaitFor::message_on_stderr("proxy-ready"), script).await }
    });
    let nodes = futures::future::join_all(starts).await;
    let mut endpoints = vec![];
    for node in &nodes {
        endpoints.push(node.endpoint(5000).await);
    }
    (nodes, endpoints)
}

/// A TCP forwarder on `net` (socat): its port 5000 leads to `target:port`. One server reached
/// at two addresses.
pub async fn forwarder(net: &str, name: &str, target: &Node, port: u16) -> (Node, Endpoint) {
    let command = format!(
        "socat TCP-LISTEN:5000,fork,reuseaddr TCP:{}:{port}",
        target.name
    );
    let node = start(
        net,
        name,
        WaitFor::message_on_stderr("forwarder-ready"),
        serve(&command, 5000, "forwarder-ready"),
    )
    .await;
    let endpoint = node.endpoint(5000).await;
    (node, endpoint)
}

/// Something on `net` that accepts connections on 5000 and never answers (a hung proxy).
pub async fn silent_listener(net: &str, name: &str) -> (Node, Endpoint) {
    let command = "socat TCP-LISTEN:5000,fork,reuseaddr EXEC:'sleep 3600'";
    let node = start(
        net,
        name,
        WaitFor::message_on_stderr("silent-ready"),
        serve(command, 5000, "silent-ready"),
    )
    .await;
    let endpoint = node.endpoint(5000).await;
    (node, endpoint)
}

/// A node that runs a project script as it runs in a pod: `files` written first (path, text),
/// `env` set on the container (never on a command line), then `command` exec'd as PID 1.
pub async fn script_node(
    network: &str,
    name: &str,
    files: &[(&str, &str)],
    env: &[(&str, &str)],
    command: &str,
    wait: WaitFor,
) -> Node {
    let mut script = String::from("set -e\n");
    for (path, text) in files {
        let dir = match path.rsplit_once('/') {
            Some(("", _)) => "/",
            Some((d, _)) => d,
            None => ".",
        };
        script.push_str(&format!(
            "mkdir -p {dir}\ncat > {path} <<'RIG_FILE_END'\n{text}\nRIG_FILE_END\n"
        ));
    }
    script.push_str(&format!("exec {command}\n"));
    let image = GenericImage::new(IMAGE, TAG)
        .with_wait_for(wait)
        .with_entrypoint("/bin/bash");
    let mut request = image.with_cmd(["-c".to_string(), script]);
    for (key, value) in env {
        request = request.with_env_var(*key, *value);
    }
    let container = request
        .with_network(network)
        .with_container_name(name)
        .with_startup_timeout(std::time::Duration::from_secs(240))
        .start()
        .await
        .unwrap_or_else(|e| panic!("starting {name} from {IMAGE}:{TAG} failed: {e}\n(is Docker running and the image built? run scripts/install-test-deps.sh)"));
    Node {
        name: name.to_string(),
        container,
    }
}

/// A stand-in, on Debian's MariaDB, for the parts of the official `mariadb` image's
/// `docker-entrypoint.sh` that the Galera fixture's `start.sh` relies on: on an empty data
/// directory it installs one, starts a temporary server without networking or wsrep, sets
/// root's password from `MARIADB_ROOT_PASSWORD` and sources `/docker-entrypoint-initdb.d/*.sh`
/// with `docker_process_sql` (SQL through stdin), stops it; then it execs the server as mysql.
pub const MARIADB_ENTRYPOINT: &str = r#"#!/bin/bash
set -eu
SOCKET=/run/mysqld/mysqld.sock
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
docker_process_sql() { mariadb --protocol=socket -uroot --socket="$SOCKET" "$@"; }
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1
  "$@" --user=mysql --skip-networking --wsrep_on=OFF --socket="$SOCKET" &
  temp=$!
  for _ in $(seq 1 120); do
    mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker_process_sql <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
SQL
  export MYSQL_PWD="$MARIADB_ROOT_PASSWORD"
  for f in /docker-entrypoint-initdb.d/*.sh; do
    [ -e "$f" ] && . "$f"
  done
  mariadb-admin --socket="$SOCKET" -uroot shutdown
  wait "$temp" || true
  unset MYSQL_PWD
fi
exec "$@" --user=mysql
"#;

/// Rig-only MariaDB settings: Debian's packaging sends state-transfer output to syslog, which a
/// container lacks; this keeps it in the server's own output, where a failing test shows it.
pub const MARIADB_RIG_CNF: &str = "[sst]\nsst-syslog=-1\n";

/// Everything a container printed, stdout then stderr.
pub async fn output(node: &Node) -> String {
    let out = node.container.stdout_to_vec().await.unwrap_or_default();
    let err = node.container.stderr_to_vec().await.unwrap_or_default();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    )
}

/// Runs a command in a node; its stdout and stderr together.
pub async fn exec(node: &Node, command: &[&str]) -> String {
    use testcontainers::core::ExecCommand;
    let mut result = node
        .container
        .exec(ExecCommand::new(command.iter().map(|s| s.to_string())))
        .await
        .unwrap_or_else(|e| panic!("exec {command:?} in {}: {e}", node.name));
    let out = result.stdout_to_vec().await.unwrap_or_default();
    let err = result.stderr_to_vec().await.unwrap_or_default();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    )
}

/// Runs a command in a node; its exit code, and its stdout and stderr together (through the
/// docker CLI, so the future is `Send` and can run inside a verifier's async trait).
pub async fn exec_status(node: &Node, command: &[&str]) -> (i64, String) {
    let out = tokio::process::Command::new("docker")
        .arg("exec")
        .arg(node.container.id())
        .args(command)
        .output()
        .await
        .unwrap_or_else(|e| panic!("docker exec {command:?} in {}: {e}", node.name));
    (
        i64::from(out.status.code().unwrap_or(-1)),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A DNS server (dnsmasq) on `net` answering only `records` (name, IPv4 address; a name given
/// twice has two addresses) and refusing the rest, like a cluster's DNS for its own zone.
pub async fn dns_server(net: &str, name: &str, records: &[(&str, &str)]) -> Node {
    let hosts: String = records
        .iter()
        .map(|(n, ip)| format!("{ip} {n}\n"))
        .collect();
    script_node(
        net,
        name,
        &[("/etc/rig-hosts", hosts.as_str())],
        &[],
        "sh -c 'echo dns-ready >&2; exec dnsmasq --no-daemon --no-resolv --no-hosts --addn-hosts=/etc/rig-hosts --user=root --listen-address=0.0.0.0 --bind-interfaces --log-facility=-'",
        WaitFor::message_on_stderr("dns-ready"),
    )
    .await
}

/// A client "pod" on `net` whose resolver asks `dns` with a Kubernetes pod's search list
/// (`<namespace>.svc.cluster.local svc.cluster.local cluster.local`, `ndots:5`). `/bb` holds
/// busybox's applets only: a command run with `PATH=/bb` sees what a busybox image has.
pub async fn dns_client(net: &str, name: &str, dns: &Node, namespace: &str) -> Node {
    let ip = dns.ip().await;
    let setup = format!(
        "printf 'nameserver {ip}\\nsearch {namespace}.svc.cluster.local svc.cluster.local cluster.local\\noptions ndots:5\\n' > /etc/resolv.conf\n\
         mkdir -p /bb\n\
         for a in sh nslookup sed head cat echo; do ln -sf /bin/busybox /bb/$a; done\n\
         echo client-ready >&2\n\
         exec sleep infinity\n"
    );
    script_node(
        net,
        name,
        &[("/tmp/rig-client.sh", setup.as_str())],
        &[],
        "sh /tmp/rig-client.sh",
        WaitFor::message_on_stderr("client-ready"),
    )
    .await
}

/// A fault agent beside the rig's nodes, as the harness runs one on a Kubernetes node: the
/// host's PID namespace and the capabilities to signal any process and enter its network
/// namespace (`SYS_ADMIN`, `NET_ADMIN`, `SYS_PTRACE`, `KILL`), not privileged. It runs
/// nothing but `sleep`; tests exec the harness's agent script in it.
pub async fn fault_agent() -> Node {
    let name = unique("fault-agent");
    let container = GenericImage::new(IMAGE, TAG)
        .with_entrypoint("/bin/sleep")
        .with_cmd(["infinity".to_string()])
        .with_container_name(&name)
        .with_cap_add("SYS_ADMIN")
        .with_cap_add("NET_ADMIN")
        .with_cap_add("SYS_PTRACE")
        .with_cap_add("KILL")
        .with_host_config_modifier(|host| host.pid_mode = Some("host".into()))
        .start()
        .await
        .unwrap_or_else(|e| panic!("starting the fault agent from {IMAGE}:{TAG} failed: {e}"));
    Node { name, container }
}

/// The full container ID of a node (what a pod's `containerID` carries after its scheme).
pub fn container_id(node: &Node) -> String {
    node.container.id().to_string()
}
