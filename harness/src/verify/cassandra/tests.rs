//! Layer 1 (pure): the ring, identity and snapshot logic on recorded `nodetool` outputs through
//! a scripted [`PodShell`]. No Cassandra server runs here; on a cluster the same code runs
//! against real pods (layer 4).

use super::identity::CassandraIdentitySpec;
use super::ring::CassandraRingSpec;
use super::snapshot::CassandraSnapshotSpec;
use super::*;
use async_trait::async_trait;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

fn status(rows: &[(&str, &str, &str)]) -> String {
    let mut text = String::from(
        "Datacenter: DC1\n===============\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address      Load        Tokens  Owns (effective)  Host ID                               Rack\n",
    );
    for (code, ip, id) in rows {
        text.push_str(&format!("{code}  {ip}   104.36 KiB  16      50.0%             6d194555-f6eb-41d0-c000-00000000000{id}  Rack1\n"));
    }
    text
}

struct Scripted {
    pods: Vec<PodRef>,
    /// Outputs per pod, consumed in order.
    outputs: Mutex<BTreeMap<String, VecDeque<(i32, String)>>>,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(pods: &[(&str, &str)], outputs: Vec<(&str, (i32, String))>) -> Self {
        let mut map: BTreeMap<String, VecDeque<(i32, String)>> = BTreeMap::new();
        for (pod, out) in outputs {
            map.entry(pod.to_string()).or_default().push_back(out);
        }
        Self {
            pods: pods
                .iter()
                .map(|(n, ip)| PodRef {
                    name: n.to_string(),
                    ip: Some(ip.to_string()),
                    ready: true,
                })
                .collect(),
            outputs: Mutex::new(map),
            calls: Mutex::new(vec![]),
        }
    }
}

#[async_trait]
impl PodShell for Scripted {
    async fn pods(&self, _: &str) -> Result<Vec<PodRef>, String> {
        Ok(self.pods.clone())
    }
    async fn run(
        &self,
        pod: &str,
        _: Option<&str>,
        command: &[&str],
    ) -> Result<(i32, String), String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{pod}: {}", command.join(" ")));
        self.outputs
            .lock()
            .unwrap()
            .get_mut(pod)
            .and_then(|q| q.pop_front())
            .ok_or_else(|| format!("{pod}: no scripted output"))
    }
}

fn ring_spec(nodes: u32) -> CassandraRingSpec {
    CassandraRingSpec {
        pods: "app=cassandra".into(),
        container: None,
        nodes,
        stable_for: None,
    }
}

const PODS: [(&str, &str); 2] = [("cassandra-0", "10.0.0.1"), ("cassandra-1", "10.0.0.2")];

#[tokio::test]
async fn ring_passes_when_every_pod_sees_the_same_n_un_nodes() {
    let both = status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.2", "2")]);
    let shell = Scripted::new(
        &PODS,
        vec![
            ("cassandra-0", (0, both.clone())),
            ("cassandra-1", (0, both)),
        ],
    );
    let v = ring(&ring_spec(2), &shell).await;
    assert!(v.passed, "{}", v.summary);
    assert_eq!(v.evidence.len(), 2);
}

#[tokio::test]
async fn ring_failures_show_each_pods_view() {
    let full = status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.2", "2")]);
    let partial = status(&[("UN", "10.0.0.1", "1"), ("UJ", "10.0.0.2", "2")]);
    let shell = Scripted::new(
        &PODS,
        vec![("cassandra-0", (0, full)), ("cassandra-1", (0, partial))],
    );
    let v = ring(&ring_spec(2), &shell).await;
    assert!(!v.passed);
    assert!(
        v.summary
            .contains("cassandra-1 sees 1 UN node(s), expected 2"),
        "{}",
        v.summary
    );
    assert!(v.summary.contains("UJ 10.0.0.2"), "{}", v.summary);
    assert!(v.summary.contains("disagree"), "{}", v.summary);
    assert!(
        v.evidence
            .iter()
            .any(|e| e.starts_with("cassandra-1 sees: UN 10.0.0.1")),
        "{:?}",
        v.evidence
    );
}

#[test]
fn a_pod_missing_from_the_ring_and_duplicate_host_ids_fail() {
    let dup = parse_status(&status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.9", "1")])).unwrap();
    let views: Views = PODS
        .iter()
        .map(|(n, ip)| {
            (
                PodRef {
                    name: n.to_string(),
                    ip: Some(ip.to_string()),
                    ready: true,
                },
                Ok(dup.clone()),
            )
        })
        .collect();
    let v = judge_ring(&views, 2);
    assert!(v.summary.contains("duplicate host IDs"), "{}", v.summary);
    assert!(
        v.summary
            .contains("cassandra-1 (10.0.0.2) is in no pod's view"),
        "{}",
        v.summary
    );
}

#[tokio::test]
async fn nodetool_errors_and_unparseable_output_fail_naming_the_pod() {
    let shell = Scripted::new(
        &PODS,
        vec![
            (
                "cassandra-0",
                (1, "nodetool: Failed to connect to '127.0.0.1:7199'".into()),
            ),
            ("cassandra-1", (0, "garbage\n".into())),
        ],
    );
    let v = ring(&ring_spec(2), &shell).await;
    assert!(
        v.summary
            .contains("cassandra-0: nodetool status exited 1: nodetool: Failed to connect"),
        "{}",
        v.summary
    );
    assert!(
        v.summary.contains("cassandra-1: nodetool status line 1"),
        "{}",
        v.summary
    );
}

/// The same output for both pods, `looks` times.
fn looks(outputs: &[(String, usize)]) -> Vec<(&'static str, (i32, String))> {
    outputs
        .iter()
        .flat_map(|(text, n)| std::iter::repeat_n(text, *n))
        .flat_map(|t| {
            [
                ("cassandra-0", (0, t.clone())),
                ("cassandra-1", (0, t.clone())),
            ]
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn ring_must_stay_stable_for_the_window() {
    let a = status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.2", "2")]);
    let b = status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.2", "3")]);
    let spec = CassandraRingSpec {
        stable_for: Some(Duration::from_secs(30)),
        ..ring_spec(2)
    };
    // 30s window: a look every 5s, the last at 30s.
    assert_eq!(
        stability_sample(Duration::from_secs(30)),
        Duration::from_secs(5)
    );
    let steady = Scripted::new(&PODS, looks(&[(a.clone(), 7)]));
    let started = tokio::time::Instant::now();
    let v = ring(&spec, &steady).await;
    assert!(v.passed, "{}", v.summary);
    assert!(
        v.summary.ends_with("unchanged over 30s (6 looks)"),
        "{}",
        v.summary
    );
    assert_eq!(started.elapsed(), Duration::from_secs(30));

    let changed = Scripted::new(&PODS, looks(&[(a.clone(), 3), (b, 1)]));
    let v = ring(&spec, &changed).await;
    assert_eq!(
        v.summary, "the ring changed, 15s into the 30s stability window",
        "{v:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_node_that_flaps_down_and_back_inside_the_window_fails() {
    let up = status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.2", "2")]);
    let flap = status(&[("UN", "10.0.0.1", "1"), ("DN", "10.0.0.2", "2")]);
    // Up at the start and at the end: one look after the window alone would pass.
    let shell = Scripted::new(&PODS, looks(&[(up.clone(), 2), (flap, 1), (up, 10)]));
    let spec = CassandraRingSpec {
        stable_for: Some(Duration::from_secs(30)),
        ..ring_spec(2)
    };
    let v = ring(&spec, &shell).await;
    assert!(!v.passed);
    assert!(
        v.summary
            .contains("cassandra-0 sees 1 UN node(s), expected 2")
            && v.summary.ends_with(", 10s into the 30s stability window"),
        "{}",
        v.summary
    );
    assert!(
        v.evidence.iter().any(|l| l.contains("DN 10.0.0.2")),
        "{:?}",
        v.evidence
    );
}

#[tokio::test]
async fn identity_is_recorded_then_compared_and_ghost_nodes_fail() {
    let facts = Mutex::new(BTreeMap::new());
    let spec = CassandraIdentitySpec {
        pods: "app=cassandra".into(),
        container: None,
        pod: "cassandra-1".into(),
    };
    let before = status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.2", "2")]);
    let shell = Scripted::new(
        &PODS,
        vec![
            ("cassandra-0", (0, before.clone())),
            ("cassandra-1", (0, before)),
        ],
    );
    let v = identity(&spec, &shell, &facts).await;
    assert!(v.passed && v.summary.contains("recorded"), "{}", v.summary);

    // Replaced with a new IP, same host ID: passes.
    let pods = [("cassandra-0", "10.0.0.1"), ("cassandra-1", "10.0.0.7")];
    let kept = status(&[("UN", "10.0.0.1", "1"), ("UN", "10.0.0.7", "2")]);
    let shell = Scripted::new(
        &pods,
        vec![
            ("cassandra-0", (0, kept.clone())),
            ("cassandra-1", (0, kept)),
        ],
    );
    let v = identity(&spec, &shell, &facts).await;
    assert!(
        v.passed
            && v.summary
                .contains("kept host ID 6d194555-f6eb-41d0-c000-000000000002"),
        "{}",
        v.summary
    );

    // A new host ID, and the old identity left behind as a DN ghost: fails on both counts.
    let lost = status(&[
        ("UN", "10.0.0.1", "1"),
        ("UN", "10.0.0.7", "5"),
        ("DN", "10.0.0.2", "2"),
    ]);
    let shell = Scripted::new(
        &pods,
        vec![
            ("cassandra-0", (0, lost.clone())),
            ("cassandra-1", (0, lost)),
        ],
    );
    let v = identity(&spec, &shell, &facts).await;
    assert!(!v.passed);
    assert!(v.summary.contains("changed host ID"), "{}", v.summary);
    assert!(
        v.summary
            .contains("ghost node(s) still in the ring: DN 10.0.0.2"),
        "{}",
        v.summary
    );
}

#[tokio::test]
async fn snapshot_is_taken_listed_and_cleared_with_a_name() {
    let spec = CassandraSnapshotSpec {
        pod: "cassandra-0".into(),
        container: None,
        keyspace: "my_cassandra_keyspace".into(),
    };
    // The tag is generated; the scripted listing echoes whatever was asked for via a lookup.
    struct Listing(Mutex<Option<String>>, Mutex<Vec<String>>);
    #[async_trait]
    impl PodShell for Listing {
        async fn pods(&self, _: &str) -> Result<Vec<PodRef>, String> {
            Ok(vec![])
        }
        async fn run(
            &self,
            _: &str,
            _: Option<&str>,
            cmd: &[&str],
        ) -> Result<(i32, String), String> {
            self.1.lock().unwrap().push(cmd.join(" "));
            let mut tag = self.0.lock().unwrap();
            Ok(match cmd[1] {
                "snapshot" => {
                    *tag = Some(cmd[3].to_string());
                    (0, "Requested creating snapshot(s) for [my_cassandra_keyspace]\nSnapshot directory: x".into())
                }
                "listsnapshots" => (0, tag.as_ref().map_or("There are no snapshots".into(), |t| format!("Snapshot Details:\n{t}  my_cassandra_keyspace  employee  5.2 KiB  5.2 KiB"))),
                "clearsnapshot" => {
                    *tag = None;
                    (0, String::new())
                }
                _ => (1, "unknown".into()),
            })
        }
    }
    let shell = Listing(Mutex::new(None), Mutex::new(vec![]));
    let v = snapshot(&spec, &shell).await;
    assert!(v.passed, "{} {:?}", v.summary, v.evidence);
    let calls = shell.1.lock().unwrap().clone();
    assert!(
        calls[2].starts_with("nodetool clearsnapshot -t harness-")
            && calls[2].ends_with("-- my_cassandra_keyspace"),
        "{calls:?}"
    );
}
