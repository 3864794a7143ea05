//! Layer 3 (fake API server with real WebSocket streams, `harness_testkit::fake_api`): exec with its
//! status channel and stdin, port-forward bridges and exec-`nc` bridges, through kube's own
//! stream code; then Cassandra scenarios end to end: loaded from YAML, planned, and run by the
//! executor on `KubeCluster`, with nodetool answered by the fake pods and CQL served by the CQL
//! protocol stand-in (not Cassandra) behind the port-forwards: the ring, and the restart-identity
//! flow (a pod deleted and replaced at a new IP, with or without its data).

use super::*;
use crate::cluster::{Cluster, PodTarget, ProxyPods};
use harness_testkit::cql_standin::{Faults, Release, StandIn, host_id};
use harness_testkit::fake_api::{Command, Commands, FakeApi, FakeContainer, FakePod, OnDelete};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const NS: &str = "h-streams-run1";

fn fake_pod(name: &str, ip: &str, app: &str, commands: Commands) -> FakePod {
    FakePod {
        name: name.into(),
        ip: ip.into(),
        node: format!("node-{name}"),
        labels: BTreeMap::from([("app".to_string(), app.to_string())]),
        commands,
        ports: BTreeMap::new(),
        generation: 0,
        log: format!("{name}: started\n"),
        previous_log: None,
        init_containers: vec![],
    }
}

fn cluster(api: &FakeApi) -> KubeCluster {
    KubeCluster::new(api.client.clone(), "fake", "v1.33.0", "run1")
}

/// The cluster of an API server of `version` (`v1.24.17`: it speaks exec v4 only).
fn cluster_at(api: &FakeApi, version: &str) -> KubeCluster {
    if super::bridge::exec_protocol(version) == "v4.channel.k8s.io" {
        api.speak_v4_only();
    }
    KubeCluster::new(api.client.clone(), "fake", version, "run1")
}

/// A TCP server that answers each read with `<tag>:<what it read>`.
async fn tagged_echo(tag: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tag = tag.to_string();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tag = tag.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let reply = format!("{tag}:{}", String::from_utf8_lossy(&buf[..n]));
                    if conn.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A fake API with one pod, labelled `app=<app>`, in which every command pipes its stdin and
/// stdout to a `tag` echo server (what `cat` or `nc` would do).
async fn api_with_piping_pod(app: &str, tag: &str) -> FakeApi {
    let to = tagged_echo(tag).await;
    let pod = format!("{app}-0");
    let commands: Commands = Arc::new(move |cmd: &[String]| {
        if cmd.get(2).is_some_and(|c| c.starts_with("printf")) {
            // What $NODE_NAME holds in the pod: its own node.
            return Command::Output {
                stdout: format!("node-{pod}\n"),
                stderr: String::new(),
                exit: 0,
            };
        }
        Command::Pipe(to)
    });
    FakeApi::start(vec![fake_pod(
        &format!("{app}-0"),
        "10.244.0.5",
        app,
        commands,
    )])
    .await
}

async fn round_trip(to: &str, message: &str) -> String {
    let mut conn = TcpStream::connect(to).await.unwrap();
    conn.write_all(message.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("an answer through the bridge")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

// On v4 (API servers before 1.30) and v5 alike, an exec without stdin reads its output and
// its status to the end: nothing is closed before the status arrives (on v4, closing stdin
// closes the whole stream, and the fake API server, like a kubelet, then drops the output).
#[tokio::test]
async fn exec_without_stdin_gets_output_and_status_on_v4_and_v5() {
    for version in ["v1.24.17", "v1.29.4", "v1.30.0", "v1.33.1"] {
        let commands: Commands = Arc::new(|_: &[String]| Command::Output {
            stdout: "UN  10.244.0.10\n".repeat(20),
            stderr: "warning\n".into(),
            exit: 2,
        });
        let api = FakeApi::start(vec![fake_pod("c-0", "10.244.0.10", "c", commands)]).await;
        let cluster = cluster_at(&api, version);
        let out = cluster
            .exec(NS, "c-0", None, &["nodetool".into(), "status".into()], None)
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(out.exit_code, 2, "{version}");
        assert_eq!(out.stdout, "UN  10.244.0.10\n".repeat(20), "{version}");
        assert_eq!(out.stderr, "warning\n", "{version}");
    }
}

#[tokio::test]
async fn exec_returns_both_streams_and_the_exit_code_from_the_status_channel() {
    let long = "UN  10.244.0.10  104.6 KiB  16  100.0%  host-id  Rack1\n".repeat(40);
    let stdout = long.clone();
    let commands: Commands =
        Arc::new(
            move |cmd: &[String]| match cmd.first().map(String::as_str) {
                Some("nodetool") => Command::Output {
                    stdout: stdout.clone(),
                    stderr: String::new(),
                    exit: 0,
                },
                _ => Command::Output {
                    stdout: "partial\n".into(),
                    stderr: format!("{}: failed\n", cmd.join(" ")),
                    exit: 3,
                },
            },
        );
    let api = FakeApi::start(vec![fake_pod(
        "cassandra-0",
        "10.244.0.10",
        "cassandra",
        commands,
    )])
    .await;
    let cluster = cluster(&api);
    let out = cluster
        .exec(
            NS,
            "cassandra-0",
            None,
            &["nodetool".into(), "status".into()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
        (0, long.as_str(), "")
    );

    let out = cluster
        .exec(
            NS,
            "cassandra-0",
            Some("main"),
            &["sh".into(), "-c".into(), "exit 3".into()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3, "{out:?}");
    assert_eq!(out.stdout, "partial\n");
    assert_eq!(out.stderr, "sh -c exit 3: failed\n");

    let err = cluster
        .exec(NS, "cassandra-9", None, &["true".into()], None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exec in cassandra-9"), "{err}");

    let requests = api.requests();
    assert!(
        requests.iter().any(|r| r.starts_with(&format!(
            "GET /api/v1/namespaces/{NS}/pods/cassandra-0/exec?"
        )) && r.contains("command=nodetool&command=status")
            && r.contains("stdout=true")),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.contains("container=main")),
        "{requests:?}"
    );
}

/// `cat` in the piping pod with "seed rows" on stdin; it must end within 10 s either way.
async fn cat_seed_rows(api: &FakeApi) -> Result<crate::cluster::ExecOutput, ClusterError> {
    let cluster = cluster(api);
    let command = ["cat".to_string()];
    let exec = cluster.exec(NS, "tool-0", None, &command, Some("seed rows"));
    tokio::time::timeout(std::time::Duration::from_secs(10), exec)
        .await
        .expect("the exec ended (with the command, or with the stream)")
}

#[tokio::test]
async fn exec_with_stdin_closes_it_and_gets_the_whole_output_and_status() {
    let api = api_with_piping_pod("tool", "cat").await;
    let out = cat_seed_rows(&api).await.unwrap();
    // The command only finishes once it sees EOF on stdin (v5's close signal).
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, "cat:seed rows"));
    assert!(
        api.requests()
            .iter()
            .any(|r| r.contains("/exec?") && r.contains("stdin=true")),
        "{:?}",
        api.requests()
    );
}

#[tokio::test]
async fn exec_with_stdin_on_an_api_server_before_1_30_is_refused_before_it_runs() {
    let api = api_with_piping_pod("tool", "cat").await;
    let cluster = cluster_at(&api, "v1.29.4");
    // A command that reads its stdin to the end needs that end, which a v4 client can only
    // signal by closing the whole stream: refused, saying why, before anything runs.
    let err = cluster
        .exec(NS, "tool-0", None, &["cat".to_string()], Some("seed rows"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("only since Kubernetes 1.30 (v5.channel.k8s.io); this one is v1.29.4 (v4.channel.k8s.io)"),
        "{err}"
    );
    assert!(
        !api.requests().iter().any(|r| r.contains("/exec?")),
        "nothing ran: {:?}",
        api.requests()
    );
}

#[tokio::test]
async fn port_forward_bridges_reach_each_pods_own_port_one_stream_per_connection() {
    let mut pods = vec![];
    for i in 0..3 {
        let mut p = fake_pod(
            &format!("cassandra-{i}"),
            &format!("10.244.0.{}", 10 + i),
            "cassandra",
            Arc::new(|_: &[String]| Command::Output {
                stdout: String::new(),
                stderr: String::new(),
                exit: 0,
            }),
        );
        p.ports.insert(9042, tagged_echo(&format!("pod{i}")).await);
        pods.push(p);
    }
    pods.push(fake_pod(
        "other",
        "10.244.0.99",
        "other",
        Arc::new(|_: &[String]| Command::Output {
            stdout: String::new(),
            stderr: String::new(),
            exit: 0,
        }),
    ));
    let api = FakeApi::start(pods).await;
    let cluster = cluster(&api);
    let target = PodTarget {
        selector: "app=cassandra".into(),
        port: 9042,
    };
    let endpoints = cluster.endpoints(NS, &target).await.unwrap();
    let seen: Vec<(String, Option<String>)> = endpoints
        .iter()
        .map(|e| (e.name.clone(), e.advertised.clone()))
        .collect();
    assert_eq!(
        seen,
        (0..3)
            .map(|i| (
                format!("cassandra-{i}:9042"),
                Some(format!("10.244.0.{}", 10 + i))
            ))
            .collect::<Vec<_>>()
    );
    for (i, e) in endpoints.iter().enumerate() {
        assert_eq!(e.host, "127.0.0.1");
        // Two connections to one bridge: each is its own port-forward stream.
        let to = e.address();
        let (a, b) = tokio::join!(round_trip(&to, "ping"), round_trip(&to, "pong"));
        assert_eq!((a, b), (format!("pod{i}:ping"), format!("pod{i}:pong")));
    }
    let forwards = api
        .requests()
        .iter()
        .filter(|r| r.contains("/portforward?") && r.ends_with("ports=9042"))
        .count();
    assert_eq!(forwards, 6, "{:?}", api.requests());
}

#[tokio::test]
async fn exec_nc_bridges_reach_the_proxy_on_each_pods_own_node() {
    let proxy_a = tagged_echo("proxy-on-node-a").await;
    let proxy_b = tagged_echo("proxy-on-node-b").await;
    let commands = |proxy: SocketAddr, node: &'static str| -> Commands {
        Arc::new(move |cmd: &[String]| {
            if cmd[2].starts_with("printf") {
                // What $NODE_NAME holds in the pod, and what it resolves to (getent).
                return Command::Output {
                    stdout: format!(
                        "{node}\n{} STREAM {node}\n",
                        harness_testkit::fake_api::node_ip(node)
                    ),
                    stderr: String::new(),
                    exit: 0,
                };
            }
            // The bridge runs nc through a shell so that $NODE_NAME expands in the pod.
            assert_eq!(cmd, ["/bin/sh", "-c", "exec nc \"$NODE_NAME\" 5000"]);
            Command::Pipe(proxy)
        })
    };
    let mut a = fake_pod("app-a", "10.244.1.5", "app", commands(proxy_a, "node-a"));
    a.node = "node-a".into();
    let mut a2 = fake_pod("app-a2", "10.244.1.6", "app", commands(proxy_a, "node-a"));
    a2.node = "node-a".into();
    let mut b = fake_pod("app-b", "10.244.2.5", "app", commands(proxy_b, "node-b"));
    b.node = "node-b".into();
    let api = FakeApi::start(vec![a, a2, b]).await;
    let cluster = cluster(&api);
    let proxies = cluster
        .proxy_endpoints(
            NS,
            &ProxyPods {
                via_pods: "app=app".into(),
                host_env: "NODE_NAME".into(),
                port: 5000,
            },
        )
        .await
        .unwrap();
    // One application pod per node.
    assert_eq!(proxies.len(), 2, "{proxies:?}");
    assert_eq!(
        round_trip(&proxies[0].address(), "get k").await,
        "proxy-on-node-a:get k"
    );
    assert_eq!(
        round_trip(&proxies[1].address(), "get k").await,
        "proxy-on-node-b:get k"
    );
    let via = proxies[1].via.as_ref().unwrap();
    assert_eq!(
        (via.value.as_str(), via.variable.as_str()),
        ("node-b", "NODE_NAME")
    );
    assert!(via.dials_own_node("node-b"));
}

// App pods whose NODE_NAME is one fixed node (not `spec.nodeName`) all reach that node's
// proxy: the check compares what each pod dials with its own node, and names the stray.
#[tokio::test]
async fn app_pods_that_dial_another_nodes_proxy_are_named() {
    let proxy = tagged_echo("proxy-on-node-a").await;
    let fixed: Commands = Arc::new(move |cmd: &[String]| {
        if cmd[2].starts_with("printf") {
            return Command::Output {
                stdout: format!(
                    "node-a\n{} STREAM node-a\n",
                    harness_testkit::fake_api::node_ip("node-a")
                ),
                stderr: String::new(),
                exit: 0,
            };
        }
        Command::Pipe(proxy)
    });
    let mut a = fake_pod("app-a", "10.244.1.5", "app", fixed.clone());
    a.node = "node-a".into();
    let mut b = fake_pod("app-b", "10.244.2.5", "app", fixed);
    b.node = "node-b".into();
    let api = FakeApi::start(vec![a, b]).await;
    let cluster = cluster(&api);
    let proxies = cluster
        .proxy_endpoints(
            NS,
            &ProxyPods {
                via_pods: "app=app".into(),
                host_env: "NODE_NAME".into(),
                port: 5000,
            },
        )
        .await
        .unwrap();
    let spec = crate::verify::memcache::proxy::MemcacheProxySpec {
        proxies: Default::default(),
        servers: Default::default(),
        keys_per_proxy: 20,
        min_share: 0.5,
    };
    let servers = [crate::cluster::Endpoint::parse("127.0.0.1:1").unwrap()];
    let v = crate::verify::memcache::proxy::check(&spec, &proxies, &servers).await;
    assert!(!v.passed);
    assert!(
        v.summary.contains(&format!(
            "app-b runs on node node-b (address {}) but dials $NODE_NAME = `node-a`",
            harness_testkit::fake_api::node_ip("node-b")
        )),
        "{}",
        v.summary
    );
    assert!(!v.summary.contains("app-a runs"), "{}", v.summary);
}

#[tokio::test]
async fn an_exec_nc_connection_ends_with_its_stream_on_an_api_server_before_1_30() {
    let api = api_with_piping_pod("app", "proxy").await;
    api.speak_v4_only();
    let cluster = cluster(&api);
    let target = ProxyPods {
        via_pods: "app=app".into(),
        host_env: "NODE_NAME".into(),
        port: 5000,
    };
    let proxies = cluster.proxy_endpoints(NS, &target).await.unwrap();
    let mut conn = TcpStream::connect(proxies[0].address()).await.unwrap();
    conn.write_all(b"get k").await.unwrap();
    // The client is done sending: on v4 kube closes the whole stream and never ends stdout.
    // The bridge must still end the connection, not hold it (and its task) open forever.
    conn.shutdown().await.unwrap();
    let mut got = vec![];
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        conn.read_to_end(&mut got),
    )
    .await
    .expect("the bridge ended the connection after its stream ended")
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&got), "proxy:get k");
}

/// Fake Cassandra pods, one per stand-in node: nodetool prints what `nodetool` returns at the
/// time it runs, and port 9042 is the stand-in node with the pod's IP.
fn cassandra_pods(
    standin: &StandIn,
    nodetool: impl Fn() -> String + Send + Sync + 'static,
) -> Vec<FakePod> {
    let commands: Commands = Arc::new(move |cmd: &[String]| match cmd {
        [tool, verb] if tool == "nodetool" && verb == "status" => Command::Output {
            stdout: nodetool(),
            stderr: String::new(),
            exit: 0,
        },
        _ => Command::Output {
            stdout: String::new(),
            stderr: "unexpected command\n".into(),
            exit: 127,
        },
    });
    standin
        .endpoints()
        .iter()
        .map(|e| {
            let ip = e.advertised.clone().unwrap();
            let mut p = fake_pod(&e.name, &ip, "cassandra", commands.clone());
            p.ports.insert(9042, e.address().parse().unwrap());
            p
        })
        .collect()
}

const SCENARIO: &str = r#"
name: cassandra-streams
description: ring and CQL through the fake API's streams
timeouts: { scenario: 2m, step: 1m }
steps:
  - id: ring
    continue_on_error: true
    verify:
      cassandra.ring: { pods: app=cassandra, nodes: 3 }
  - id: seed-and-read
    verify:
      cql:
        target: { pods: app=cassandra, port: 9042 }
        script: initial-seed.cql
        query: SELECT emp_id FROM my_cassandra_keyspace.employee
        expect_rows: 3
        consistency: QUORUM
"#;

/// Loads, validates and plans `yaml` from a directory holding it and the seed script, then
/// runs it with the executor on `KubeCluster` over the fake API.
async fn run_scenario(
    api: &FakeApi,
    yaml: &str,
) -> (
    crate::runner::ScenarioResult,
    Vec<crate::report::events::Event>,
) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cassandra-streams.yaml");
    std::fs::write(&file, yaml).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/cassandra/initial-seed.cql"
        ),
        dir.path().join("initial-seed.cql"),
    )
    .unwrap();
    let (scenario, diags) = crate::scenario::validate::validate_file(&file, &|_| None, "run1");
    let scenario = scenario.unwrap_or_else(|| panic!("{diags:?}"));
    let plan = crate::plan::plan(&scenario, crate::plan::CleanupPolicy::default());
    let cluster = cluster(api);
    let sink = crate::report::events::Collect::default();
    let result = crate::runner::Executor {
        cluster: &cluster,
        sink: &sink,
        cancel: Default::default(),
    }
    .run_scenario(&plan)
    .await;
    (result, sink.events())
}

#[tokio::test]
async fn a_cassandra_scenario_runs_end_to_end_through_exec_and_port_forward() {
    let standin = StandIn::start(3, None, Faults::default()).await;
    let handle = standin.handle();
    let pods = cassandra_pods(&standin, move || handle.nodetool_status());
    let api = FakeApi::start(pods).await;
    let (result, events) = run_scenario(&api, SCENARIO).await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(result.passed, "{text}");
    assert!(
        text.contains("3 pod(s) agree: 3 nodes UN with unique host IDs"),
        "{text}"
    );
    assert!(
        text.contains("3 row(s) read with each of 3 node(s) as coordinator at QUORUM"),
        "{text}"
    );
    assert_eq!(standin.rows("my_cassandra_keyspace.employee"), 3);
    let requests = api.requests();
    // nodetool ran in every pod for the ring, and once more for the CQL comparison.
    let nodetool = requests
        .iter()
        .filter(|r| r.contains("/exec?") && r.contains("command=nodetool"))
        .count();
    assert_eq!(nodetool, 4, "{requests:?}");
    // The namespace was created, then deleted at clean-up.
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("POST /api/v1/namespaces?")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("DELETE /api/v1/namespaces/h-cassandra-streams-run1")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_ghost_node_in_nodetool_fails_the_ring_and_the_cql_comparison() {
    let standin = StandIn::start(3, None, Faults::default()).await;
    // Every pod's nodetool also lists a fourth, down node that system.peers does not know.
    let handle = standin.handle();
    let pods = cassandra_pods(&standin, move || {
        format!(
            "{}DN  10.244.0.77  99 KiB     1       0.0%              {}  Rack1\n",
            handle.nodetool_status(),
            host_id(7)
        )
    });
    let api = FakeApi::start(pods).await;
    let (result, events) = run_scenario(&api, SCENARIO).await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(!result.passed);
    assert!(
        text.contains("sees nodes that are not UN: DN 10.244.0.77"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "nodetool lists 10.244.0.77 (host ID {}), system.local/system.peers do not",
            host_id(7)
        )),
        "{text}"
    );
}

const IDENTITY: &str = r#"
name: cassandra-identity
description: a pod deleted and replaced keeps its host ID at its new IP
timeouts: { scenario: 2m, step: 1m }
steps:
  - id: identity-before
    verify:
      cassandra.identity: { pods: app=cassandra, pod: cassandra-1 }
  - id: delete-pod
    fault:
      delete_pod: { name: cassandra-1 }
  - id: identity-after
    verify:
      cassandra.identity: { pods: app=cassandra, pod: cassandra-1 }
  - id: no-ghost-nodes
    verify:
      cassandra.ring: { pods: app=cassandra, nodes: 3 }
  - id: rows-from-every-coordinator
    verify:
      cql:
        target: { pods: app=cassandra, port: 9042 }
        script: initial-seed.cql
        query: SELECT emp_id FROM my_cassandra_keyspace.employee
        expect_rows: 3
        consistency: QUORUM
"#;

/// The restart-identity flow: cassandra-1 is deleted; its replacement comes back at
/// 10.244.0.21, with its data (same host ID) or without (a new host ID, the old one a ghost).
async fn replace_cassandra_1(kept_its_data: bool) -> (bool, String) {
    replace_cassandra_1_in(IDENTITY, kept_its_data, Release::V40).await
}

/// [`replace_cassandra_1`] in the scenario `yaml`, the stand-in playing `release`.
async fn replace_cassandra_1_in(
    yaml: &str,
    kept_its_data: bool,
    release: Release,
) -> (bool, String) {
    let standin = StandIn::start_release(3, None, Faults::default(), release).await;
    let handle = standin.handle();
    let nodetool = handle.clone();
    let pods = cassandra_pods(&standin, move || nodetool.nodetool_status());
    let on_delete: OnDelete = Arc::new(move |pod: &mut FakePod| {
        pod.ip = "10.244.0.21".into();
        if !kept_its_data {
            // Its first container crashed: the ring still had its old host ID at another IP.
            pod.previous_log = Some(
                "Exception (java.lang.RuntimeException) encountered during startup: A node with address /10.244.0.11:7000 already exists, cancelling join\n".into(),
            );
        }
        handle.restart(1, std::net::Ipv4Addr::new(10, 244, 0, 21), kept_its_data);
    });
    let api = FakeApi::start_with(pods, Some(on_delete)).await;
    let (result, events) = run_scenario(&api, yaml).await;
    let requests = api.requests();
    assert!(
        requests.iter().any(|r| r
            .starts_with("DELETE /api/v1/namespaces/h-cassandra-identity-run1/pods/cassandra-1")),
        "{requests:?}"
    );
    (result.passed, serde_json::to_string(&events).unwrap())
}

#[tokio::test]
async fn a_replaced_pod_keeps_its_host_id_at_its_new_ip_and_serves_reads() {
    let (passed, text) = replace_cassandra_1(true).await;
    assert!(passed, "{text}");
    assert!(
        text.contains(&format!(
            "cassandra-1 kept host ID {} (now at 10.244.0.21)",
            host_id(1)
        )),
        "{text}"
    );
    assert!(
        text.contains("deleted pod cassandra-1; its replacement is Ready"),
        "{text}"
    );
    // The replacement coordinates a read at its new IP, and system.peers agree with nodetool.
    assert!(
        text.contains("3 row(s) read with each of 3 node(s) as coordinator at QUORUM"),
        "{text}"
    );
}

const WRITES_ACROSS_THE_REPLACEMENT: &str = r#"
name: cassandra-identity
description: QUORUM writes flow while cassandra-1 is replaced; all are read back through every node
timeouts: { scenario: 2m, step: 1m }
steps:
  - workload:
      start: writes
      cql.writes: { target: { pods: app=cassandra, port: 9042 }, consistency: QUORUM, writers: 2 }
  - sleep: 500ms
  - id: delete-pod
    fault:
      delete_pod: { name: cassandra-1 }
  - sleep: 500ms
  - workload: { stop: writes }
  - id: no-acknowledged-write-lost
    verify: { workload: writes }
  - id: rows-from-every-coordinator
    verify:
      cql:
        target: { pods: app=cassandra, port: 9042 }
        script: initial-seed.cql
        query: SELECT emp_id FROM my_cassandra_keyspace.employee
        expect_rows: 3
        consistency: QUORUM
"#;

// Layer 3 (fake API server, CQL stand-in playing Cassandra 4.0 and 4.1 behind the
// port-forwards): what the real ring showed. The workload's session was opened before
// cassandra-1 was replaced at a new IP, and on 4.0 each node gives its own address as 0.0.0.0;
// the read-back still reaches every node, the replacement too, by host ID through its bridge.
#[tokio::test]
async fn writes_across_a_replacement_are_read_back_through_every_node_on_4_0_and_4_1() {
    for release in [Release::V40, Release::V41] {
        let (passed, text) =
            replace_cassandra_1_in(WRITES_ACROSS_THE_REPLACEMENT, true, release).await;
        assert!(passed, "{release:?}: {text}");
        assert!(
            text.contains("read with each of 3 node(s) as coordinator"),
            "{release:?}: {text}"
        );
        assert!(
            !text.contains("0.0.0.0 as coordinator") && !text.contains("No rule for address"),
            "{release:?}: {text}"
        );
    }
}

#[tokio::test]
async fn a_replaced_pod_that_lost_its_data_fails_naming_the_new_host_id_and_the_ghost() {
    let (passed, text) = replace_cassandra_1(false).await;
    assert!(!passed);
    assert!(
        text.contains(&format!(
            "cassandra-1 changed host ID from {} to",
            host_id(1)
        )) && text.contains("it lost its data and joined as a new node"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ghost node(s) still in the ring: DN 10.244.0.11 {}",
            host_id(1)
        )),
        "{text}"
    );
    // Evidence gathered before clean-up: each pod's log, and the crashed container's too.
    assert!(text.contains("logs cassandra-0/main"), "{text}");
    assert!(
        text.contains("logs cassandra-1/main (previous container)")
            && text.contains("A node with address /10.244.0.11:7000 already exists"),
        "{text}"
    );
    assert!(
        !text.contains("logs cassandra-0/main (previous container)"),
        "{text}"
    );
}

/// A writer the test can read back (the console reporter's stdout).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every file under `dir`, as (path, text).
fn files_under(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    out
}

// Layer 3 (fake API server): a failing step's evidence holds the logs of init containers and
// sidecars (current and previous) and the state of every container, and a secret that a pod
// printed in its logs is masked in every output: console, JUnit, JSON and the evidence files.
#[tokio::test]
async fn evidence_covers_init_containers_and_sidecars_and_no_output_shows_a_secret() {
    const SECRET: &str = "s3cret-root-pw";
    let mut pod = fake_pod(
        "galera-0",
        "10.244.1.5",
        "galera",
        Arc::new(|_: &[String]| Command::Output {
            stdout: String::new(),
            stderr: "not synced\n".into(),
            exit: 1,
        }),
    );
    pod.log = format!("WSREP_SST: [INFO] auth root:{SECRET}\n");
    pod.init_containers = vec![
        FakeContainer {
            name: "discover".into(),
            log: "etcd at http://etcd:2379 unreachable; cannot decide bootstrap or join\n".into(),
            previous_log: Some(format!("using root password {SECRET}\nexit 1\n")),
            status: json!({"state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
                           "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-11-22T03:00:09Z"}},
                           "restartCount": 3}),
            ..Default::default()
        },
        FakeContainer {
            name: "register".into(),
            restart_policy: Some("Always".into()),
            log: "registered 10.244.1.5 in etcd\n".into(),
            status: json!({"state": {"running": {"startedAt": "2026-11-22T03:00:00Z"}}, "ready": true}),
            ..Default::default()
        },
    ];
    let api = FakeApi::start(vec![pod]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence.yaml");
    std::fs::write(
        &file,
        format!(
            "name: galera-evidence\nvariables:\n  root_password: {{ value: {SECRET}, secret: true }}\nsteps:\n  - id: synced\n    exec: {{ pod: galera-0, command: [sh, -c, 'mysql -p${{root_password}} -e status'] }}\n"
        ),
    )
    .unwrap();
    let (scenario, diags) = crate::scenario::validate::validate_file(&file, &|_| None, "run1");
    let scenario = scenario.unwrap_or_else(|| panic!("{diags:?}"));
    let plan = crate::plan::plan(&scenario, crate::plan::CleanupPolicy::default());
    let reports = dir.path().join("reports");
    let console = Captured::default();
    use crate::report::{
        Fanout, Reporter, console::ConsoleReporter, evidence_files::EvidenceFiles,
        json::SummaryReporter, junit::JunitReporter,
    };
    let reporters: Vec<Box<dyn Reporter>> = vec![
        Box::new(ConsoleReporter::new(console.clone(), false)),
        Box::new(JunitReporter::new(reports.join("junit.xml"))),
        Box::new(SummaryReporter::new(reports.join("summary.json"))),
        Box::new(EvidenceFiles::new(reports.clone())),
    ];
    let sink = Fanout::new(reporters);
    let cluster = cluster(&api);
    let result = crate::runner::Executor {
        cluster: &cluster,
        sink: &sink,
        cancel: Default::default(),
    }
    .run_scenario(&plan)
    .await;
    assert!(sink.finish().is_empty());
    assert!(!result.passed);

    let mut outputs = files_under(&reports);
    outputs.push((
        "console".into(),
        String::from_utf8(console.0.lock().unwrap().clone()).unwrap(),
    ));
    for (name, text) in &outputs {
        assert!(!text.contains(SECRET), "{name} shows the secret:\n{text}");
    }
    let evidence_dir = reports.join("evidence/galera-evidence/01-synced");
    let read = |name: &str| {
        std::fs::read_to_string(evidence_dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}: {outputs:?}"))
    };
    assert_eq!(
        read("logs_galera-0_main.txt"),
        "WSREP_SST: [INFO] auth root:******\n"
    );
    assert!(read("logs_galera-0_discover__init_.txt").contains("cannot decide bootstrap or join"));
    assert_eq!(
        read("logs_galera-0_discover__init___previous_container_.txt"),
        "using root password ******\nexit 1\n"
    );
    assert!(read("logs_galera-0_register__sidecar_.txt").contains("registered 10.244.1.5"));
    let states = read("container_states.txt");
    for line in [
        "pod galera-0 on node-galera-0: Pending, Ready=False",
        "  discover (init): waiting: CrashLoopBackOff: back-off 40s restarting failed container, restarted 3 time(s), last terminated: Error, exit code 1 at 2026-11-22T03:00:09Z",
        "  register (sidecar): running since 2026-11-22T03:00:00Z, ready",
        "  main: waiting: PodInitializing",
    ] {
        assert!(states.contains(line), "{line}\n{states}");
    }
    // JUnit carries the same evidence, masked.
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(
        junit.contains("===== logs galera-0/discover (init) (previous container) ====="),
        "{junit}"
    );
    assert!(junit.contains("using root password ******"), "{junit}");
}

// Layer 3 (fake API server): a `logs` step reads every container of every selected pod (init
// containers, sidecars and previous instances included) and fails naming the container whose
// log holds a secret, without showing the secret.
#[tokio::test]
async fn a_logs_step_finds_a_secret_in_any_container_and_never_shows_it() {
    const SECRET: &str = "rootpw-5c1e";
    let quiet = |name: &str| {
        let mut pod = fake_pod(
            name,
            "10.244.1.9",
            "galera",
            Arc::new(|_: &[String]| Command::Output {
                stdout: String::new(),
                stderr: String::new(),
                exit: 0,
            }),
        );
        pod.log = "WSREP: Synchronized with group, ready for connections\n".into();
        pod.init_containers = vec![FakeContainer {
            name: "discover".into(),
            log: "registered peers: none\n".into(),
            status: json!({"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}),
            ..Default::default()
        }];
        pod
    };
    let mut leaky = quiet("galera-1");
    leaky.init_containers[0].previous_log = Some(format!("sst auth root:{SECRET}\n"));
    let api = FakeApi::start(vec![quiet("galera-0"), leaky]).await;
    let (result, events) = run_scenario(&api, &format!(
            "name: galera-logs\nvariables:\n  pw: {{ value: {SECRET}, secret: true }}\nsteps:\n  - id: synced\n    logs: {{ selector: app=galera, contains: [Synchronized with group] }}\n  - id: no-password\n    logs: {{ selector: app=galera, previous: true, not_contains: [\"${{pw}}\"] }}\n"
        )).await;
    assert!(!result.passed);
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    let outcomes: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            crate::report::events::Event::StepFinished { step, outcome, .. } => Some((
                step.id.clone(),
                outcome.message().unwrap_or(outcome.label()).to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes[0], ("synced".to_string(), "PASS".to_string()));
    assert_eq!(
        outcomes[1],
        (
            "no-password".to_string(),
            "galera-1/discover (previous): 1 log line(s) contain `******`".to_string()
        )
    );
}

// Layer 3 (fake API server): guards through KubeCluster end to end: the log of every matching
// pod's containers (the init container's too) is followed, and a line matching the pattern
// fails the guard naming pod, container and line; a restart guard over the same pods passes.
#[tokio::test]
async fn guards_follow_every_containers_log_and_watch_the_pods() {
    let mut pod = fake_pod(
        "db-0",
        "10.244.1.7",
        "db",
        Arc::new(|_: &[String]| Command::Output {
            stdout: "ok\n".into(),
            stderr: String::new(),
            exit: 0,
        }),
    );
    pod.log = "starting\nready for connections\n".into();
    pod.init_containers = vec![FakeContainer {
        name: "discover".into(),
        log: "peers: none\n[ERROR] etcd unreachable, bootstrapping alone\n".into(),
        status: json!({"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}),
        ..Default::default()
    }];
    let api = FakeApi::start(vec![pod]).await;
    let (result, events) = run_scenario(&api, "name: guarded\nguards:\n  - no_log_match: { selector: app=db, regex: '\\[ERROR\\]' }\n  - no_restarts: { selector: app=db }\nsteps:\n  - id: settle\n    sleep: 2s\n  - id: check\n    exec: { pod: db-0, command: [true] }\n").await;
    assert!(!result.passed);
    let guards: Vec<(String, String, String)> = events
        .iter()
        .filter_map(|e| match e {
            crate::report::events::Event::StepFinished {
                step,
                outcome,
                output,
                ..
            } if step.phase == crate::report::events::Phase::Guard => Some((
                step.id.clone(),
                outcome.message().unwrap_or(outcome.label()).to_string(),
                output.clone(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(guards[0].0, "no-log-match");
    assert!(
        guards[0]
            .1
            .ends_with("db-0/discover: logged `[ERROR] etcd unreachable, bootstrapping alone`"),
        "{guards:?}"
    );
    assert!(guards[0].2.contains("    peers: none"), "{guards:?}");
    assert_eq!(guards[1].0, "no-restarts");
    assert_eq!(guards[1].1, "PASS", "{guards:?}");
    let requests = api.requests();
    assert!(
        requests.iter().any(|r| r.contains("/pods/db-0/log?")
            && r.contains("container=discover")
            && r.contains("follow=true")),
        "{requests:?}"
    );
}

// Layer 3 (fake API server): a `logs` step with `within` follows the logs until every expected
// line has appeared in every selected pod, and fails when one never does, naming the pod.
#[tokio::test]
async fn a_logs_step_within_a_window_waits_for_the_line_or_names_the_pod_without_it() {
    let quiet = |name: &str, log: &str| {
        let mut pod = fake_pod(
            name,
            "10.244.1.9",
            "galera",
            Arc::new(|_: &[String]| Command::Output {
                stdout: String::new(),
                stderr: String::new(),
                exit: 0,
            }),
        );
        pod.log = log.into();
        pod
    };
    let api = FakeApi::start(vec![
        quiet(
            "galera-0",
            "WSREP: Synchronized with group, ready for connections\n",
        ),
        quiet("galera-1", "WSREP: joining\n"),
    ])
    .await;
    let (result, events) = run_scenario(&api, "name: galera-within\nsteps:\n  - id: first\n    sleep: 1s\n  - id: synced\n    logs: { selector: app=galera, contains: [Synchronized with group], since: first, within: 2s }\n").await;
    assert!(!result.passed);
    let message = events
        .iter()
        .find_map(|e| match e {
            crate::report::events::Event::StepFinished { step, outcome, .. }
                if step.id == "synced" =>
            {
                outcome.message().map(str::to_string)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        message,
        "galera-1: no log line contains `Synchronized with group`"
    );
    let requests = api.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/pods/galera-0/log?") && r.contains("sinceSeconds=")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/log?") && r.contains("follow=true")),
        "{requests:?}"
    );
}

// Layer 3 (fake API server, CQL stand-in behind the port-forwards): a `cql.writes` workload
// started by one step writes through the bridges while later steps run, a later step stops
// it, `verify: { workload }` reads every acknowledged write back through every node at QUORUM,
// and the clean-up registered before the first write drops its keyspace.
#[tokio::test]
async fn a_cql_workload_runs_across_steps_and_is_verified_then_dropped() {
    let standin = StandIn::start(3, None, Faults::default()).await;
    let handle = standin.handle();
    let api = FakeApi::start(cassandra_pods(&standin, move || handle.nodetool_status())).await;
    let yaml = "name: cassandra-streams\nsteps:\n  - workload:\n      start: writes\n      cql.writes: { target: { pods: app=cassandra, port: 9042 }, writers: 2 }\n  - sleep: 1s\n  - workload: { stop: writes }\n  - verify: { workload: writes }\n";
    let (result, events) = run_scenario(&api, yaml).await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(result.passed, "{text}");
    assert!(text.contains("acknowledged"), "{text}");
    // Judged by its step: not reported a second time.
    assert!(!text.contains("was not judged"), "{text}");
    assert!(
        standin
            .keyspaces()
            .iter()
            .all(|k| !k.starts_with("harness_workload_")),
        "{:?}",
        standin.keyspaces()
    );
    let writes = standin
        .coordinated()
        .iter()
        .filter(|c| c.statement.starts_with("INSERT INTO harness_workload_"))
        .count();
    assert!(writes > 5, "{writes}");
}

/// What the log lines of `f` look like under the harness's filter `spec` (the default: `None`).
async fn logged_under<F: std::future::Future<Output = ()>>(spec: Option<&str>, f: F) -> String {
    let buffer = Captured::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter(crate::cli::log_filter(spec))
        .with_ansi(false)
        .finish();
    {
        // The test runtime has one thread: the bridge's tasks log through this subscriber.
        let _current = tracing::subscriber::set_default(subscriber);
        f.await;
    }
    String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
}

// Layer 3 (fake API server): a bridge to a pod that is gone (a fault step deleted it) closes
// the connection, which the verifier reports; by default the bridge itself prints nothing,
// and with HARNESS_LOG=debug its line is there.
#[tokio::test]
async fn a_bridge_to_a_deleted_pod_is_quiet_by_default() {
    let api = FakeApi::start(vec![]).await;
    let connect_once = || async {
        let (addr, task) =
            bridge::port_forward_listener(api.client.clone(), NS, "galera-ss-1", 3306)
                .await
                .unwrap();
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "the bridge closes: {read:?}"
        );
        task.abort();
    };
    let quiet = logged_under(None, connect_once()).await;
    assert!(!quiet.contains("galera-ss-1"), "{quiet}");
    let loud = logged_under(Some("debug"), connect_once()).await;
    assert!(loud.contains("port-forward to galera-ss-1:3306"), "{loud}");
}

// Layer 1 (CQL stand-in, three nodes, two of them targets): the driver logs an ERROR line for
// the node it cannot reach; the check reports it in its verdict, and by default the driver's
// own line stays off stderr (HARNESS_LOG=scylla=warn shows it).
#[tokio::test]
async fn the_cassandra_drivers_own_lines_are_off_by_default() {
    let standin = StandIn::start(3, None, Faults::default()).await;
    let two = crate::testing::eps(standin.endpoints())[..2].to_vec();
    let read_with_two = || async {
        let connected = crate::verify::cassandra::session::session(&two, None)
            .await
            .unwrap();
        let reads = crate::verify::cassandra::session::read_from_every_node(
            &connected,
            "SELECT emp_id FROM nothing.here",
            scylla::statement::Consistency::One,
        )
        .await;
        assert_eq!(reads.len(), 3);
        // Let the driver try (and fail) to reach the third node in the background.
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let quiet = logged_under(None, read_with_two()).await;
    assert!(quiet.is_empty(), "{quiet}");
    let loud = logged_under(Some("scylla=warn"), read_with_two()).await;
    assert!(loud.contains("scylla"), "{loud}");
}

// Layer 3 (fake API, CQL stand-in): a step fails while a workload runs, so the step that
// would judge the workload is skipped; what the workload measured (its figures, its history)
// is still reported, as the evidence of what the failure did to clients.
#[tokio::test]
async fn a_workload_whose_judge_was_skipped_is_still_reported() {
    let standin = StandIn::start(3, None, Faults::default()).await;
    let handle = standin.handle();
    let api = FakeApi::start(cassandra_pods(&standin, move || handle.nodetool_status())).await;
    let yaml = "name: cassandra-streams\nsteps:\n  - workload:\n      start: writes\n      cql.writes: { target: { pods: app=cassandra, port: 9042 }, writers: 2 }\n  - sleep: 500ms\n  - id: fails\n    verify:\n      cql: { target: { pods: app=cassandra, port: 9042 }, query: 'SELECT emp_id FROM nothing.here', expect_rows: 3, nodetool: false }\n  - workload: { stop: writes }\n  - verify: { workload: writes }\n";
    let (result, events) = run_scenario(&api, yaml).await;
    assert!(!result.passed);
    let reported = events.iter().find_map(|e| match e {
        crate::report::events::Event::StepFinished {
            step,
            outcome,
            output,
            evidence,
            measured,
            ..
        } if step.id == "workload-writes" => Some((
            outcome.clone(),
            output.clone(),
            evidence.clone(),
            measured.clone(),
        )),
        _ => None,
    });
    let (outcome, output, evidence, measured) =
        reported.expect("the unjudged workload is reported");
    assert!(
        matches!(&outcome, crate::report::events::Outcome::Skipped { reason } if reason.contains("was not judged")),
        "{outcome:?}"
    );
    assert!(output.contains("acknowledged"), "{output}");
    assert!(
        measured
            .figures
            .iter()
            .any(|f| f.name.ends_with(".acknowledged")),
        "{measured:?}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e.title.contains("history.edn") && e.body.contains(":type :ok")),
        "{evidence:?}"
    );
}
