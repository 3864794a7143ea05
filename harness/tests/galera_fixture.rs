//! The Galera fixture's own scripts on real servers (layer 2: Debian's MariaDB 10.11 + Galera 4,
//! mariabackup and etcd 3.4 from the rig image; the official `mariadb` image cannot be pulled
//! here, so its entrypoint is stood in for by `rig::MARIADB_ENTRYPOINT`). The scripts are read
//! from `fixtures/galera/discovery.yaml` as a scenario renders them, so what runs here is what
//! runs in the pods.

mod rig {
    use harness::cluster::Endpoint;
    use harness::verify::galera::Login;
    use harness::verify::galera::status::{GaleraStatusSpec, check};
    use harness_testkit::rig::{self, Node};
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};
    use testcontainers::core::WaitFor;

    const ROOT_PASSWORD: &str = "root-pw-7b3e91";
    const SST_PASSWORD: &str = "sst-pw-c04d2a";

    /// The ConfigMap's scripts as the harness renders them (`$${` is a literal `${`).
    fn scripts() -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/galera/discovery.yaml"
        ))
        .unwrap();
        let map: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        map["data"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap().to_string(),
                    v.as_str().unwrap().replace("$${", "${"),
                )
            })
            .collect()
    }

    fn endpoint(s: harness_testkit::Server) -> Endpoint {
        Endpoint {
            name: s.name,
            host: s.host,
            port: s.port,
            advertised: s.advertised,
            node: None,
            via: None,
        }
    }

    /// A Galera node started by the fixture's `start.sh`: the first bootstraps (no peer
    /// registered), the others join it and receive their data by state transfer (mariabackup,
    /// logging in as the fixture's `sst` user).
    async fn galera_node(
        net: &str,
        name: &str,
        peers: &str,
        scripts: &BTreeMap<String, String>,
    ) -> Node {
        let rig_user = format!(
            "docker_process_sql <<SQL\nCREATE USER IF NOT EXISTS '{}'@'%' IDENTIFIED BY '{}';\nGRANT ALL PRIVILEGES ON *.* TO '{}'@'%';\nSQL",
            rig::GALERA_USER,
            rig::GALERA_PASSWORD,
            rig::GALERA_USER
        );
        let address = format!("gcomm://{peers}");
        let files = [
            ("/discovery/start.sh", scripts["start.sh"].as_str()),
            (
                "/docker-entrypoint-initdb.d/sst-user.sh",
                scripts["sst-user.sh"].as_str(),
            ),
            ("/docker-entrypoint-initdb.d/rig-user.sh", rig_user.as_str()),
            (
                "/usr/local/bin/docker-entrypoint.sh",
                rig::MARIADB_ENTRYPOINT,
            ),
            ("/shared/cluster-address", address.as_str()),
        ];
        rig::script_node(
            net,
            name,
            &files,
            &[
                ("CLUSTER_NAME", "fixture"),
                ("MARIADB_ROOT_PASSWORD", ROOT_PASSWORD),
                ("MARIADB_SST_PASSWORD", SST_PASSWORD),
                ("GALERA_PROVIDER", "/usr/lib/galera/libgalera_smm.so"),
            ],
            // POD_IP is the downward API's in a pod; here the container's own address. The
            // data directory starts empty, as a new PersistentVolume does (Debian's package
            // initialised one in the image).
            "env POD_IP=$(hostname -i) bash -c 'rm -rf /var/lib/mysql/* && mkdir -p /run/galera && chmod +x /usr/local/bin/docker-entrypoint.sh && exec bash /discovery/start.sh'",
            // Not "ready for connections": the entrypoint's temporary server says that too.
            WaitFor::message_on_stderr("Synchronized with group"),
        )
        .await
    }

    // Layer 2: three nodes from the fixture's start script form one cluster, the joiners by
    // mariabackup state transfer as the `sst` user; neither password is on any process's
    // command line or in any container's output; the option file is 0600 and mysql's; the
    // `sst` user holds only what mariabackup needs.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn the_start_script_transfers_state_without_a_password_on_any_command_line() {
        let scripts = scripts();
        let net = rig::unique("rig-fixture");
        let names: Vec<String> = (0..3).map(|i| format!("{net}-g{i}")).collect();
        let mut nodes = vec![galera_node(&net, &names[0], "", &scripts).await];
        for name in &names[1..] {
            nodes.push(galera_node(&net, name, &names[0], &scripts).await);
        }
        let mut endpoints = vec![];
        for node in &nodes {
            endpoints.push(endpoint(node.endpoint(3306).await));
        }
        let login = Login {
            user: rig::GALERA_USER.into(),
            password: Some(rig::GALERA_PASSWORD.into()),
        };
        let spec = GaleraStatusSpec {
            target: Default::default(),
            credentials: harness::verify::Credentials {
                user: rig::GALERA_USER.into(),
                password: None,
            },
            size: Some(3),
            // The fixture's settings keep every acknowledged commit through a crash of
            // several nodes at once (the `galera-crash` scenario relies on it).
            durable_commits: true,
            version: None,
        };
        let v = check(&spec, &endpoints, &login).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);

        for (i, node) in nodes.iter().enumerate() {
            let log = rig::output(node).await;
            for secret in [ROOT_PASSWORD, SST_PASSWORD] {
                assert!(
                    !log.contains(secret),
                    "{}'s output shows a password:\n{log}",
                    node.name
                );
            }
            if i > 0 {
                assert!(
                    log.contains("mariabackup") && log.contains("SST"),
                    "{} joined without a mariabackup state transfer:\n{log}",
                    node.name
                );
            }
            let processes = rig::exec(node, &["ps", "-eo", "args"]).await;
            assert!(processes.contains("mariadbd"), "{processes}");
            for secret in [ROOT_PASSWORD, SST_PASSWORD] {
                assert!(
                    !processes.contains(secret),
                    "a command line on {} shows a password:\n{processes}",
                    node.name
                );
            }
            let mode = rig::exec(node, &["stat", "-c", "%a %U", "/run/galera/sst.cnf"]).await;
            assert_eq!(mode.trim(), "600 mysql", "{}", node.name);
        }
        let grants: Vec<String> = {
            use mysql_async::prelude::Queryable;
            let mut conn = harness::verify::galera::connect(&endpoints[2], &login)
                .await
                .unwrap();
            conn.query("SHOW GRANTS FOR 'sst'@'localhost'")
                .await
                .unwrap()
        };
        let grants = grants.join("\n");
        assert!(
            grants.contains(
                "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO `sst`@`localhost`"
            ),
            "{grants}"
        );
        assert_eq!(grants.matches("GRANT ").count(), 1, "{grants}");
    }

    // Layer 2: the register sidecar, as PID 1 with the fixture's script, registers its node
    // in a real etcd and, told to stop (SIGTERM), removes the registration and exits at once,
    // long before a 10 s grace period or the registration's TTL.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn the_register_sidecar_deregisters_and_exits_on_sigterm() {
        let scripts = scripts();
        let (etcd_nodes, members) = rig::etcd(1).await;
        let member = endpoint(members[0].clone());
        let net = etcd_network(&etcd_nodes[0]);
        let etcd_name = etcd_nodes[0].name.clone();
        let service = format!("{etcd_name}:2379");
        let sidecar = rig::script_node(
            &net,
            &format!("{net}-register"),
            &[("/discovery/register.sh", scripts["register.sh"].as_str())],
            &[
                ("DISCOVERY_SERVICE", service.as_str()),
                ("CLUSTER_NAME", "fixture"),
                ("TTL", "10"),
            ],
            "env POD_IP=$(hostname -i) sh -c 'echo sidecar-up >&2; exec sh /discovery/register.sh'",
            WaitFor::message_on_stderr("sidecar-up"),
        )
        .await;
        let ip = sidecar.ip().await;
        let registered = || async {
            harness::verify::etcd::client::registrations_v2(&member, "fixture")
                .await
                .unwrap_or_default()
                .by_address
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !registered().await.contains_key(&ip) {
            assert!(Instant::now() < deadline, "{ip} never registered");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let stopping = Instant::now();
        sidecar
            .container
            .stop_with_timeout(Some(10))
            .await
            .expect("stop the sidecar");
        let took = stopping.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "the sidecar ignored SIGTERM: stopping took {took:?} (killed after the grace period)"
        );
        let left = registered().await;
        assert!(
            !left.contains_key(&ip),
            "{ip} is still registered: {left:?}"
        );
        assert!(
            rig::output(&sidecar)
                .await
                .contains(&format!("deregistered {ip}"))
        );
    }

    // Layer 2 (real etcd 3.4, the fixture's discover.sh): a joiner's peers are the addresses
    // whose `ipaddress` key is alive. An address whose key expired keeps its directory in etcd;
    // listing directories would make a joiner dial a dead peer.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn discovery_lists_only_peers_whose_registration_is_alive() {
        let scripts = scripts();
        let (etcd_nodes, _members) = rig::etcd(1).await;
        let net = etcd_network(&etcd_nodes[0]);
        let service = format!("{}:2379", etcd_nodes[0].name);
        let put = |ip: &str, ttl: u32| {
            format!(
                "curl -fsS -XPUT http://{service}/v2/keys/galera/fixture/{ip}/ipaddress -d value={ip} -d ttl={ttl} >/dev/null"
            )
        };
        // 10.9.0.1 alive, 10.9.0.2 expired (its directory stays), and the joiner's own address.
        let setup = format!(
            "set -e\n{}\n{}\n{}\nsleep 3\necho setup-done >&2\nsleep 600\n",
            put("10.9.0.1", 120),
            put("10.9.0.2", 1),
            put("$(hostname -i)", 120),
        );
        let joiner = rig::script_node(
            &net,
            &format!("{net}-joiner"),
            &[
                ("/discovery/discover.sh", scripts["discover.sh"].as_str()),
                ("/setup.sh", setup.as_str()),
            ],
            &[
                ("DISCOVERY_SERVICE", service.as_str()),
                ("CLUSTER_NAME", "fixture"),
            ],
            "sh /setup.sh",
            WaitFor::message_on_stderr("setup-done"),
        )
        .await;
        // The expired address's directory is still listed.
        let listing = rig::exec(
            &joiner,
            &[
                "sh",
                "-c",
                &format!("curl -fsS http://{service}/v2/keys/galera/fixture"),
            ],
        )
        .await;
        assert!(listing.contains("/galera/fixture/10.9.0.2"), "{listing}");
        let (status, out) = rig::exec_status(
            &joiner,
            &[
                "sh",
                "-c",
                "mkdir -p /shared && env POD_IP=$(hostname -i) sh /discovery/discover.sh && cat /shared/cluster-address",
            ],
        )
        .await;
        assert_eq!(status, 0, "{out}");
        assert_eq!(out.lines().last(), Some("gcomm://10.9.0.1"), "{out}");
    }

    /// The Docker network an etcd node of the rig is on (named after its container).
    fn etcd_network(node: &Node) -> String {
        node.name
            .rsplit_once("-e")
            .map(|(net, _)| net.to_string())
            .expect("rig etcd names are <network>-e<i>")
    }
}
