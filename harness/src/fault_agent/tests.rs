use super::*;

// Layer 1 (pure): container IDs as pods report them, the agent's command line, and the
// reading of what it prints (each confirmation fails on what an ineffective fault leaves).
#[test]
fn container_ids_come_from_any_runtime_and_nothing_else_passes() {
    let id = "d654ab798652fb794aedd35bbcb31c60c20d48fea4aae030d8da12e20b3b08b1";
    assert_eq!(container_id(&format!("containerd://{id}")), Some(id));
    assert_eq!(container_id(&format!("docker://{id}")), Some(id));
    assert_eq!(container_id(&format!("cri-o://{id}")), Some(id));
    assert_eq!(container_id(id), Some(id));
    assert_eq!(container_id("containerd://"), None);
    assert_eq!(
        container_id("containerd://abc"),
        None,
        "too short to be unique"
    );
    assert_eq!(container_id("containerd://$(rm -rf /)aaaaaaaaaaaa"), None);
}

#[test]
fn the_command_passes_the_script_and_its_arguments_apart() {
    let argv = command(
        "abcdef012345",
        &Ask::Blackhole {
            add: true,
            addresses: vec!["10.244.1.7".into(), "10.244.2.9".into()],
        },
    );
    assert_eq!(&argv[..2], &["sh", "-c"]);
    assert_eq!(argv[2], SCRIPT);
    assert_eq!(
        &argv[3..],
        &[
            "agent",
            "blackhole",
            "abcdef012345",
            "add",
            "10.244.1.7",
            "10.244.2.9"
        ]
    );
    let argv = command("abcdef012345", &Ask::Signal(Signal::Kill));
    assert_eq!(&argv[4..], &["signal", "abcdef012345", "KILL"]);
}

#[test]
fn a_pause_is_confirmed_only_when_every_process_is_stopped() {
    assert!(
        paused("pid 10 T\npid 11 T\n")
            .unwrap()
            .contains("2 process(es) stopped")
    );
    let err = paused("pid 10 T\npid 11 S\n").unwrap_err();
    assert_eq!(
        err,
        "pause had no effect on process(es) 11 (S) (not in state T)"
    );
    assert!(paused("none\n").unwrap_err().contains("no process"));
    assert!(paused("").unwrap_err().contains("nothing usable"));
    assert!(resumed("pid 10 S\npid 11 R\n").is_ok());
    assert_eq!(
        resumed("pid 10 S\npid 11 T\n").unwrap_err(),
        "process(es) 11 still stopped"
    );
}

#[test]
fn a_partition_is_confirmed_only_when_no_peer_answers() {
    let peer = |a: &str, yes: bool| ((a.to_string(), 4567), yes);
    assert_eq!(
        cut_off(
            "galera-2",
            &[peer("10.0.0.1", false), peer("10.0.0.2", false)]
        )
        .unwrap(),
        "galera-2 reaches none of 10.0.0.1:4567, 10.0.0.2:4567"
    );
    assert_eq!(
        cut_off(
            "galera-2",
            &[peer("10.0.0.1", false), peer("10.0.0.2", true)]
        )
        .unwrap_err(),
        "partition had no effect: galera-2 still reaches 10.0.0.2:4567"
    );
    assert_eq!(reached("reach 10.0.0.1 4567 yes\n"), Ok(true));
    assert_eq!(reached("reach 10.0.0.1 4567 no\n"), Ok(false));
    assert!(reached("none\n").unwrap_err().contains("no process"));
    assert_eq!(signalled("signalled 3\n"), Ok(3));
    assert!(signalled("").is_err());
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers): the agent script in a container with the rights a node's agent
    //! has (host PID namespace, SYS_ADMIN, NET_ADMIN, SYS_PTRACE, KILL; not privileged),
    //! acting on real memcached and MariaDB Galera processes in their own containers.
    use super::*;
    use crate::cluster::Endpoint;
    use crate::testing::{eps, galera_login};
    use crate::verify::galera::{connect, wsrep_status};
    use crate::verify::memcache::client::connect_within;
    use harness_testkit::rig::{self, Node};
    use std::time::Duration;

    async fn ask(agent: &Node, target: &Node, ask: &Ask) -> String {
        let argv = command(&rig::container_id(target), ask);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        rig::exec(agent, &argv).await
    }

    /// Freezes `target` from the agent: not confirmed before, every process in state T after.
    async fn freeze(agent: &Node, target: &Node) {
        let not_yet = paused(&ask(agent, target, &Ask::State).await).unwrap_err();
        assert!(not_yet.starts_with("pause had no effect"), "{not_yet}");
        let out = ask(agent, target, &Ask::Signal(Signal::Stop)).await;
        assert!(signalled(&out).unwrap() >= 1, "{out}");
        let confirmed = paused(&ask(agent, target, &Ask::State).await).unwrap();
        assert!(confirmed.contains("stopped (state T)"), "{confirmed}");
    }

    /// Resumes `target`, confirmed.
    async fn thaw(agent: &Node, target: &Node) {
        ask(agent, target, &Ask::Signal(Signal::Cont)).await;
        resumed(&ask(agent, target, &Ask::State).await).unwrap();
    }

    /// SIGKILL from the agent ends `target`'s container at once (within 5 s).
    async fn kill_ends_it_at_once(agent: &Node, target: &Node) {
        let started = std::time::Instant::now();
        let out = ask(agent, target, &Ask::Signal(Signal::Kill)).await;
        assert!(signalled(&out).unwrap() >= 1, "{out}");
        tokio::time::timeout(Duration::from_secs(10), async {
            while target.container.is_running().await.unwrap_or(false) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the container ended");
        assert!(started.elapsed() < Duration::from_secs(5), "not at once");
    }

    /// Whether memcached answers `version` within a second.
    async fn answers(server: &Endpoint) -> bool {
        tokio::time::timeout(Duration::from_secs(2), async {
            let mut c = connect_within(server, Duration::from_secs(1)).await.ok()?;
            c.version().await.ok()
        })
        .await
        .ok()
        .flatten()
        .is_some()
    }

    // A paused memcached is frozen (every process in state T, its clients get no answer),
    // and answers again after the resume; a "pause" that froze nothing is not confirmed.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_pause_freezes_a_real_memcached_and_the_resume_thaws_it() {
        let (_net, nodes, servers) = rig::memcached(1).await;
        let server = &eps(servers)[0];
        let agent = rig::fault_agent().await;
        assert!(answers(server).await);
        freeze(&agent, &nodes[0]).await;
        assert!(!answers(server).await, "a frozen memcached answered");

        thaw(&agent, &nodes[0]).await;
        assert!(
            answers(server).await,
            "memcached did not answer after the resume"
        );
    }

    // SIGKILL from outside ends the container's PID 1 at once (no grace, no trap): nothing of
    // it is left to answer; the agent then finds no process.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_kill_ends_a_real_memcached_at_once() {
        let (_net, nodes, servers) = rig::memcached(1).await;
        let server = &eps(servers)[0];
        let agent = rig::fault_agent().await;
        kill_ends_it_at_once(&agent, &nodes[0]).await;
        assert!(!answers(server).await);
        let after = ask(&agent, &nodes[0], &Ask::State).await;
        assert!(
            states(&after).unwrap_err().contains("no process"),
            "{after}"
        );
    }

    async fn reach(agent: &Node, from: &Node, to: &str) -> bool {
        let ask_ = Ask::Reach {
            address: to.into(),
            port: 4567,
        };
        reached(&ask(agent, from, &ask_).await).unwrap()
    }

    async fn wsrep(node: &Endpoint) -> Option<(String, String)> {
        let mut conn = connect(node, &galera_login()).await.ok()?;
        let s = wsrep_status(&mut conn).await.ok()?;
        Some((
            s.get("wsrep_cluster_status").cloned().unwrap_or_default(),
            s.get("wsrep_cluster_size").cloned().unwrap_or_default(),
        ))
    }

    /// Waits (bounded) until `node` reports `status` and `size`.
    async fn until(node: &Endpoint, status: &str, size: &str) {
        let limit = Duration::from_secs(90);
        let seen = tokio::time::timeout(limit, async {
            loop {
                if let Some((s, n)) = wsrep(node).await
                    && s == status
                    && n == size
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        assert!(
            seen.is_ok(),
            "{node} never reported {status} with size {size}: {:?}",
            wsrep(node).await
        );
    }

    // One Galera node cut off from the other two, both ways, while all three keep running: it
    // cannot reach their replication port (it could just before), leaves the Primary component
    // while the other two keep it at size 2; after the heal it reaches them again and rejoins.
    // A "partition" that blackholed the wrong address is not confirmed.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_partition_cuts_a_real_galera_node_off_both_ways_and_the_heal_restores_it() {
        let (nodes, servers) = rig::galera(3).await;
        let endpoints = eps(servers);
        let agent = rig::fault_agent().await;
        let ips = [
            nodes[0].ip().await,
            nodes[1].ip().await,
            nodes[2].ip().await,
        ];
        assert!(reach(&agent, &nodes[2], &ips[0]).await, "reachable before");

        // Made ineffective: the wrong address blackholed.
        let wrong = Ask::Blackhole {
            add: true,
            addresses: vec!["192.0.2.1".into()],
        };
        ask(&agent, &nodes[2], &wrong).await;
        let peers =
            |r0: bool, r1: bool| vec![((ips[0].clone(), 4567), r0), ((ips[1].clone(), 4567), r1)];
        let r = (
            reach(&agent, &nodes[2], &ips[0]).await,
            reach(&agent, &nodes[2], &ips[1]).await,
        );
        let err = cut_off("galera-2", &peers(r.0, r.1)).unwrap_err();
        assert!(
            err.starts_with("partition had no effect: galera-2 still reaches"),
            "{err}"
        );

        // The partition: the isolated side drops the others, and each other drops it.
        let isolate = Ask::Blackhole {
            add: true,
            addresses: vec![ips[0].clone(), ips[1].clone()],
        };
        let out = ask(&agent, &nodes[2], &isolate).await;
        assert!(out.contains(&format!("blackholed {}", ips[0])), "{out}");
        for side in &nodes[..2] {
            let cut = Ask::Blackhole {
                add: true,
                addresses: vec![ips[2].clone()],
            };
            ask(&agent, side, &cut).await;
        }
        let r = (
            reach(&agent, &nodes[2], &ips[0]).await,
            reach(&agent, &nodes[2], &ips[1]).await,
        );
        cut_off("galera-2", &peers(r.0, r.1)).unwrap();
        assert!(
            !reach(&agent, &nodes[0], &ips[2]).await,
            "the other way too"
        );
        assert!(
            reach(&agent, &nodes[0], &ips[1]).await,
            "the majority still talks"
        );
        until(&endpoints[2], "non-Primary", "1").await;
        until(&endpoints[0], "Primary", "2").await;

        // The heal.
        for (node, addresses) in [
            (
                &nodes[2],
                vec![ips[0].clone(), ips[1].clone(), "192.0.2.1".into()],
            ),
            (&nodes[0], vec![ips[2].clone()]),
            (&nodes[1], vec![ips[2].clone()]),
        ] {
            let heal = Ask::Blackhole {
                add: false,
                addresses,
            };
            ask(&agent, node, &heal).await;
        }
        assert!(
            reach(&agent, &nodes[2], &ips[0]).await,
            "reachable after the heal"
        );
        until(&endpoints[2], "Primary", "3").await;
    }

    /// Whether a node answers `SELECT 1` within two seconds.
    async fn sql_answers(node: &Endpoint) -> bool {
        tokio::time::timeout(Duration::from_secs(2), async {
            let mut conn = connect(node, &galera_login()).await.ok()?;
            crate::verify::galera::run(&mut conn, "SELECT 1").await.ok()
        })
        .await
        .ok()
        .flatten()
        .is_some()
    }

    // A real mariadbd in a three-node Galera cluster: paused, every process is in state T and
    // its clients get no answer, while the other two answer; resumed, it answers again and the
    // cluster is whole. Then SIGKILL from outside ends another node's mariadbd at once, and the
    // two left keep a Primary component of size 2.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_real_mariadbd_is_frozen_thawed_and_killed() {
        let (nodes, servers) = rig::galera(3).await;
        let endpoints = eps(servers);
        let agent = rig::fault_agent().await;
        assert!(sql_answers(&endpoints[2]).await);
        freeze(&agent, &nodes[2]).await;
        assert!(
            !sql_answers(&endpoints[2]).await,
            "a frozen mariadbd answered"
        );
        assert!(sql_answers(&endpoints[0]).await, "the others still answer");

        thaw(&agent, &nodes[2]).await;
        assert!(
            sql_answers(&endpoints[2]).await,
            "no answer after the resume"
        );
        until(&endpoints[2], "Primary", "3").await;

        kill_ends_it_at_once(&agent, &nodes[1]).await;
        assert!(!sql_answers(&endpoints[1]).await);
        until(&endpoints[0], "Primary", "2").await;
    }
}
