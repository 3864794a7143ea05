//! Getting a cluster: one file per provider behind [`Provider`] (`up`, `teardown`,
//! `export_logs`): kind and Minikube through their CLIs (driven with duct, every command under a
//! timeout, its output kept for the report when it fails), k3s in a container, or an existing
//! kubeconfig context that the user names. The harness deletes only clusters it created.

mod existing;
#[cfg(feature = "k3s")]
mod k3s;
// Always compiled (and its test run in the one build the test command makes); it is the k3s
// provider only without the feature.
#[cfg_attr(feature = "k3s", allow(dead_code))]
mod k3s_absent;
#[cfg(not(feature = "k3s"))]
use k3s_absent as k3s;
mod kind;
mod minikube;
pub mod nodes;

pub use existing::Existing;
pub use k3s::{K3S_NODES, K3s};
pub use kind::Kind;
pub use minikube::Minikube;

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

/// `docker pull IMAGE`, only when the host does not have it: each image is pulled once,
/// instead of once per node (and once per node's retry) against the registry's rate limits.
pub async fn pull_once(image: &str) -> Result<&'static str, ProviderError> {
    let present = run_tool(
        "docker",
        &["image".into(), "inspect".into(), "--".into(), image.into()],
        Duration::from_secs(20),
    )
    .await
    .is_ok();
    if present {
        return Ok("on the host already");
    }
    run_tool("docker", &docker_pull_args(image), Duration::from_secs(600))
        .await
        .map(|_| "pulled")
}

/// `--` ends the options: an operand is never read as one.
pub fn docker_pull_args(image: &str) -> Vec<String> {
    vec!["pull".into(), "--".into(), image.into()]
}

/// Preloads each image with `load`, after pulling it once on the host; one line per image
/// (a failure is said, not fatal: the nodes will try to pull it themselves).
pub async fn preload_each<F, Fut>(images: &[String], load: F) -> Vec<String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, ProviderError>>,
{
    let mut out = vec![];
    for image in images {
        let line = match pull_once(image).await {
            Err(e) => format!(
                "{image}: not preloaded, the host could not pull it ({})",
                first_line(&e.to_string())
            ),
            Ok(how) => match load(image.clone()).await {
                Ok(_) => format!("{image}: {how}, loaded into the cluster"),
                Err(e) => format!(
                    "{image}: {how}, but loading it failed ({})",
                    first_line(&e.to_string())
                ),
            },
        };
        out.push(line);
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
}

/// What a run asks of a provider.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The cluster's name (kind cluster, Minikube profile).
    pub name: String,
    /// The user named the cluster: reuse it if it exists (and never delete it then).
    pub named: bool,
    /// Worker nodes the selected scenarios need.
    pub workers: u32,
    /// Where the provider keeps its files (kubeconfig, generated configs, logs).
    pub dir: PathBuf,
}

/// A way to get a cluster for a run and to give it back.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// Creates the cluster, or reuses one the user named; says how to reach it.
    async fn up(&mut self, request: &Request) -> Result<Prepared, ProviderError>;
    /// Deletes what `up` created; a cluster the harness did not create is left alone.
    async fn teardown(&mut self) -> Result<(), ProviderError>;
    /// Makes `images` present in the cluster before the first scenario (pulled once on the
    /// host, loaded into every node), where the provider can; returns one line per image.
    async fn preload(&self, _images: &[String]) -> Vec<String> {
        vec![]
    }
    /// Writes the cluster's own logs under `dir` after a failed run, where it can.
    async fn export_logs(&self, _dir: &Path) -> Result<(), ProviderError> {
        Ok(())
    }
    /// What can stop and restore the nodes' machines (node faults), where the provider owns
    /// them.
    fn node_host(&self) -> Option<std::sync::Arc<dyn crate::cluster::NodeHost>> {
        None
    }
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
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| ProviderError::Config(e.to_string()))?;
    let what = format!("context {} at {url}", context.unwrap_or("(current)"));
    let version = tokio::time::timeout(Duration::from_secs(20), client.apiserver_version())
        .await
        .map_err(|_| ProviderError::Unreachable {
            what: what.clone(),
            message: "no answer within 20s".into(),
        })?
        .map_err(|e| ProviderError::Unreachable {
            what,
            message: with_causes(&e),
        })?;
    Ok((client, version.git_version))
}

/// An error with the causes under it (`client error (Connect)` says nothing; `Connection
/// refused`, a certificate or a name that does not resolve says what to fix), each once.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 2 (the machine's real Docker, which has no registry here): an image the host lacks
    // and cannot pull is not loaded, and the line says why; the loader is never called for it.
    #[tokio::test]
    async fn preload_says_when_an_image_could_not_be_pulled_and_skips_loading_it() {
        let loaded = std::sync::Mutex::new(vec![]);
        let lines = preload_each(&["harness-test/no-such-image:0".to_string()], |image| {
            loaded.lock().unwrap().push(image);
            async { Ok(String::new()) }
        })
        .await;
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with(
                "harness-test/no-such-image:0: not preloaded, the host could not pull it"
            ),
            "{lines:?}"
        );
        assert!(loaded.lock().unwrap().is_empty());
    }

    // Layer 1 (pure): running tools, without the cluster binaries.
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
