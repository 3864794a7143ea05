//! Getting a cluster: kind and Minikube through their CLIs (driven with duct, every command
//! under a timeout, its output kept for the report when it fails), or an existing kubeconfig
//! context that the user names. The harness deletes only clusters it created.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("`{program}` is not installed or not on PATH: {hint}")]
    Missing { program: String, hint: &'static str },
    #[error(
        "the Docker daemon is not reachable ({0}): start it (e.g. `sudo service docker start`), kind and minikube need it"
    )]
    DockerDown(String),
    #[error("`{command}` failed:\n{output}")]
    Failed { command: String, output: String },
    #[error("`{command}` did not finish within {after:?}")]
    Timeout { command: String, after: Duration },
    #[error("cannot reach the Kubernetes API server of {what}: {message}")]
    Unreachable { what: String, message: String },
    #[error("{0}")]
    Config(String),
}

fn hint(program: &str) -> &'static str {
    match program {
        "kind" => "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
        "minikube" => "install minikube (https://minikube.sigs.k8s.io/docs/start/)",
        "docker" => "install Docker Engine (e.g. `apt-get install docker.io`)",
        _ => "install it",
    }
}

/// The command line as text, for messages.
pub fn command_line(program: &str, args: &[String]) -> String {
    std::iter::once(program.to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a tool with a timeout; stdout on success, stdout+stderr in the error otherwise.
pub async fn run_tool(
    program: &str,
    args: &[String],
    timeout: Duration,
) -> Result<String, ProviderError> {
    let (program, args) = (program.to_string(), args.to_vec());
    tokio::task::spawn_blocking(move || {
        let line = command_line(&program, &args);
        let handle = duct::cmd(&program, &args)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    ProviderError::Missing {
                        program: program.clone(),
                        hint: hint(&program),
                    }
                } else {
                    ProviderError::Failed {
                        command: line.clone(),
                        output: e.to_string(),
                    }
                }
            })?;
        match handle.wait_timeout(timeout) {
            Ok(Some(out)) if out.status.success() => {
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
            Ok(Some(out)) => Err(ProviderError::Failed {
                command: line,
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            }),
            Ok(None) => {
                let _ = handle.kill();
                Err(ProviderError::Timeout {
                    command: line,
                    after: timeout,
                })
            }
            Err(e) => Err(ProviderError::Failed {
                command: line,
                output: e.to_string(),
            }),
        }
    })
    .await
    .map_err(|e| ProviderError::Config(format!("running a tool: {e}")))?
}

/// A kind config with one control plane and `workers` workers.
pub fn kind_config(workers: u32) -> String {
    let mut text = String::from(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n",
    );
    for _ in 0..workers {
        text.push_str("  - role: worker\n");
    }
    text
}

pub fn kind_create_args(name: &str, config: &Path, kubeconfig: &Path) -> Vec<String> {
    vec![
        "create".into(),
        "cluster".into(),
        "--name".into(),
        name.into(),
        "--config".into(),
        config.display().to_string(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--wait".into(),
        "5m".into(),
    ]
}

pub fn minikube_start_args(profile: &str, nodes: u32) -> Vec<String> {
    vec![
        "start".into(),
        "-p".into(),
        profile.into(),
        "--nodes".into(),
        nodes.max(1).to_string(),
        "--wait=all".into(),
    ]
}

/// A cluster ready for a run, and how to give it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub provider: &'static str,
    pub name: String,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// The harness created it, so it deletes it at the end (unless --keep-cluster).
    pub created: bool,
}

pub async fn docker_running() -> Result<(), ProviderError> {
    match run_tool(
        "docker",
        &[
            "info".into(),
            "--format".into(),
            "{{.ServerVersion}}".into(),
        ],
        Duration::from_secs(20),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(ProviderError::Failed { output, .. }) => Err(ProviderError::DockerDown(
            output.lines().last().unwrap_or_default().to_string(),
        )),
        Err(e) => Err(e),
    }
}

/// Creates a kind cluster (or reuses the one the user named) with `workers` workers.
pub async fn kind_up(
    name: &str,
    reuse: bool,
    workers: u32,
    config: Option<&Path>,
    dir: &Path,
) -> Result<Prepared, ProviderError> {
    // The binary first (so a missing kind is named as such), then the Docker daemon it needs.
    run_tool("kind", &["version".into()], Duration::from_secs(30)).await?;
    docker_running().await?;
    let kubeconfig = dir.join(format!("kubeconfig-{name}"));
    std::fs::create_dir_all(dir)
        .map_err(|e| ProviderError::Config(format!("{}: {e}", dir.display())))?;
    let existing = run_tool(
        "kind",
        &["get".into(), "clusters".into()],
        Duration::from_secs(30),
    )
    .await?;
    if existing.lines().any(|l| l.trim() == name) {
        if !reuse {
            return Err(ProviderError::Config(format!(
                "a kind cluster named `{name}` exists and was not created by this run; name it with --cluster-name to reuse it"
            )));
        }
        let text = run_tool(
            "kind",
            &[
                "get".into(),
                "kubeconfig".into(),
                "--name".into(),
                name.into(),
            ],
            Duration::from_secs(30),
        )
        .await?;
        std::fs::write(&kubeconfig, text).map_err(|e| ProviderError::Config(e.to_string()))?;
        return Ok(Prepared {
            provider: "kind",
            name: name.into(),
            kubeconfig: Some(kubeconfig),
            context: Some(format!("kind-{name}")),
            created: false,
        });
    }
    let config_path = match config {
        Some(p) => p.to_path_buf(),
        None => {
            let p = dir.join(format!("kind-{name}.yaml"));
            std::fs::write(&p, kind_config(workers))
                .map_err(|e| ProviderError::Config(e.to_string()))?;
            p
        }
    };
    run_tool(
        "kind",
        &kind_create_args(name, &config_path, &kubeconfig),
        Duration::from_secs(600),
    )
    .await?;
    Ok(Prepared {
        provider: "kind",
        name: name.into(),
        kubeconfig: Some(kubeconfig),
        context: Some(format!("kind-{name}")),
        created: true,
    })
}

pub async fn kind_export_logs(name: &str, dir: &Path) -> Result<(), ProviderError> {
    run_tool(
        "kind",
        &[
            "export".into(),
            "logs".into(),
            dir.display().to_string(),
            "--name".into(),
            name.into(),
        ],
        Duration::from_secs(300),
    )
    .await
    .map(|_| ())
}

pub async fn minikube_up(profile: &str, nodes: u32) -> Result<Prepared, ProviderError> {
    run_tool("minikube", &["version".into()], Duration::from_secs(30)).await?;
    run_tool(
        "minikube",
        &minikube_start_args(profile, nodes),
        Duration::from_secs(900),
    )
    .await?;
    Ok(Prepared {
        provider: "minikube",
        name: profile.into(),
        kubeconfig: None,
        context: Some(profile.into()),
        created: true,
    })
}

pub async fn teardown(p: &Prepared) -> Result<(), ProviderError> {
    if !p.created {
        return Ok(());
    }
    match p.provider {
        "kind" => run_tool(
            "kind",
            &[
                "delete".into(),
                "cluster".into(),
                "--name".into(),
                p.name.clone(),
            ],
            Duration::from_secs(300),
        )
        .await
        .map(|_| ()),
        "minikube" => run_tool(
            "minikube",
            &["delete".into(), "-p".into(), p.name.clone()],
            Duration::from_secs(300),
        )
        .await
        .map(|_| ()),
        _ => Ok(()),
    }
}

/// k3s in a container, one node (DaemonSet-per-node flows need several nodes: use kind).
pub const K3S_IMAGE: (&str, &str) = ("rancher/k3s", "v1.33.4-k3s1");

/// Starts k3s through testcontainers; the returned container is removed when dropped, so the
/// caller holds it for the run. Settings as testcontainers-modules' k3s module.
pub async fn k3s_up(
    dir: &Path,
) -> Result<
    (
        Prepared,
        testcontainers::ContainerAsync<testcontainers::GenericImage>,
    ),
    ProviderError,
> {
    use testcontainers::core::{ExecCommand, IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{GenericImage, ImageExt};
    docker_running().await?;
    let image = GenericImage::new(K3S_IMAGE.0, K3S_IMAGE.1)
        .with_exposed_port(6443.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "Node controller sync successful",
        ));
    let container = image
        .with_cmd(["server", "--snapshotter=native", "--disable=traefik"])
        .with_privileged(true)
        .with_userns_mode("host")
        .with_startup_timeout(Duration::from_secs(300))
        .start()
        .await
        .map_err(|e| {
            ProviderError::Config(format!("starting {}:{}: {e}", K3S_IMAGE.0, K3S_IMAGE.1))
        })?;
    let port = container
        .get_host_port_ipv4(6443)
        .await
        .map_err(|e| ProviderError::Config(e.to_string()))?;
    let mut exec = container
        .exec(ExecCommand::new(["cat", "/etc/rancher/k3s/k3s.yaml"]))
        .await
        .map_err(|e| ProviderError::Config(format!("reading the k3s kubeconfig: {e}")))?;
    let text = String::from_utf8_lossy(
        &exec
            .stdout_to_vec()
            .await
            .map_err(|e| ProviderError::Config(e.to_string()))?,
    )
    .into_owned();
    let kubeconfig = dir.join("kubeconfig-k3s");
    std::fs::create_dir_all(dir).map_err(|e| ProviderError::Config(e.to_string()))?;
    std::fs::write(&kubeconfig, k3s_kubeconfig(&text, port))
        .map_err(|e| ProviderError::Config(e.to_string()))?;
    let prepared = Prepared {
        provider: "k3s",
        name: container.id().to_string(),
        kubeconfig: Some(kubeconfig),
        context: Some("default".into()),
        created: true,
    };
    Ok((prepared, container))
}

/// The kubeconfig k3s writes, pointed at the port Docker mapped for its API server.
pub fn k3s_kubeconfig(text: &str, port: u16) -> String {
    text.replace(
        "https://127.0.0.1:6443",
        &format!("https://127.0.0.1:{port}"),
    )
}

/// A client for a kubeconfig (default locations when `None`) and context; checks that the API
/// server answers and returns its version.
pub async fn client_for(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<(Client, String), ProviderError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| ProviderError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kc, &options).await
        }
        None => Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| {
        ProviderError::Config(format!(
            "kubeconfig context {}: {e}",
            context.unwrap_or("(current)")
        ))
    })?;
    let client = Client::try_from(config).map_err(|e| ProviderError::Config(e.to_string()))?;
    let what = format!("context {}", context.unwrap_or("(current)"));
    let version = tokio::time::timeout(Duration::from_secs(20), client.apiserver_version())
        .await
        .map_err(|_| ProviderError::Unreachable {
            what: what.clone(),
            message: "no answer within 20s".into(),
        })?
        .map_err(|e| ProviderError::Unreachable {
            what,
            message: e.to_string(),
        })?;
    Ok((client, version.git_version))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): command lines and generated configs, without the binaries.
    #[test]
    fn kind_config_has_one_control_plane_and_the_workers() {
        let text = kind_config(3);
        assert_eq!(text.matches("role: control-plane").count(), 1);
        assert_eq!(text.matches("role: worker").count(), 3);
        let parsed: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["apiVersion"], "kind.x-k8s.io/v1alpha4");
        assert_eq!(
            text,
            std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/kind/three-workers.yaml"
            ))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
                + "\n"
        );
    }

    #[test]
    fn k3s_kubeconfig_points_at_the_mapped_port() {
        let text = "clusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n";
        assert_eq!(
            k3s_kubeconfig(text, 32771),
            "clusters:\n- cluster:\n    server: https://127.0.0.1:32771\n  name: default\n"
        );
    }

    #[test]
    fn command_lines() {
        let args = kind_create_args("harness-x", Path::new("/r/kind.yaml"), Path::new("/r/kc"));
        assert_eq!(
            command_line("kind", &args),
            "kind create cluster --name harness-x --config /r/kind.yaml --kubeconfig /r/kc --wait 5m"
        );
        assert_eq!(
            command_line("minikube", &minikube_start_args("p", 0)),
            "minikube start -p p --nodes 1 --wait=all"
        );
    }

    #[tokio::test]
    async fn a_missing_binary_is_named_with_what_to_install() {
        let err = run_tool("harness-no-such-tool", &[], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::Missing { ref program, .. } if program == "harness-no-such-tool"),
            "{err}"
        );
        let err = run_tool(
            "sh",
            &["-c".into(), "echo out; echo boom >&2; exit 3".into()],
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("out") && err.to_string().contains("boom"),
            "{err}"
        );
        let err = run_tool("sleep", &["5".into()], Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Timeout { .. }), "{err}");
    }
}
