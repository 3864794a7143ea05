//! Exec and port-forward: a command in a pod with its output and exit status; a byte stream to
//! a pod port (port-forward) or to `nc <host> <port>` run inside a pod (exec); and local TCP
//! listeners that bridge to those streams, for protocol clients that need a socket address.
//! Each accepted connection gets its own stream.

use super::{api_error, exec_status};
use crate::cluster::{ClusterError, ExecOutput};
use k8s_openapi::api::core::v1::Pod;
use kube::api::AttachParams;
use kube::{Api, Client};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Output kept per stream of an exec (the rest is dropped, with a note).
pub const MAX_EXEC_OUTPUT: usize = 1024 * 1024;

/// Output of one stream, bounded: what was read so far survives if reading is cut short.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: usize,
}

impl Captured {
    fn text(self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("\n[... {} more bytes dropped]", self.dropped));
        }
        text
    }
}

async fn read_bounded(r: Option<impl AsyncRead + Unpin>, into: &mut Captured) {
    let Some(mut r) = r else { return };
    let mut chunk = [0u8; 8192];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = MAX_EXEC_OUTPUT.saturating_sub(into.bytes.len());
        into.bytes.extend_from_slice(&chunk[..n.min(room)]);
        into.dropped += n.saturating_sub(room);
    }
}

/// After the exec's stream has ended, how long buffered output may take to be read. kube
/// closes the output streams only when the stream ends normally; after an abrupt end they never
/// reach EOF, and waiting for it would hang the step.
const DRAIN_AFTER_END: Duration = Duration::from_millis(500);

/// The Kubernetes versions the harness runs against: from 1.24 (the oldest minor users still
/// run, and kind still ships node images for) to the newest it knows. Newer servers keep the
/// stable APIs it uses and are run with a warning; older ones are refused before anything runs.
pub const OLDEST_SUPPORTED: (u32, u32) = (1, 24);
pub const NEWEST_KNOWN: (u32, u32) = (1, 37);

/// `(major, minor)` of a server version (`v1.29.4`, `v1.30.0-gke.1`).
pub fn minor_version(server: &str) -> Option<(u32, u32)> {
    let mut parts = server.trim_start_matches('v').split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// The exec protocol a server speaks: `v5.channel.k8s.io` (it can pass on the end of stdin)
/// since 1.30, `v4.channel.k8s.io` before, which kube negotiates by offering both.
pub fn exec_protocol(server: &str) -> &'static str {
    match minor_version(server) {
        Some(v) if v < (1, 30) => "v4.channel.k8s.io",
        _ => "v5.channel.k8s.io",
    }
}

/// Runs `command` in `pod`: its stdout, stderr and exit status, read to their end. Without
/// stdin, nothing is closed before the status arrives: on `v4.channel.k8s.io` (servers before
/// 1.30) a client can only signal the end of stdin by closing the whole stream, which would
/// cut the command's output and status off. With stdin, the command needs the end of its
/// input, which only `v5` carries: on an older server the exec is refused before it runs.
pub async fn exec(
    client: &Client,
    server: &str,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
    stdin: Option<&str>,
) -> Result<ExecOutput, ClusterError> {
    let protocol = exec_protocol(server);
    let on = format!("Kubernetes {server}, {protocol}");
    if stdin.is_some() && protocol != "v5.channel.k8s.io" {
        return Err(ClusterError::Api(format!(
            "exec in {pod} with stdin: the command needs the end of its input, which API servers pass on only since Kubernetes 1.30 (v5.channel.k8s.io); this one is {server} ({protocol}), where the client can only close the whole stream: give the input another way (a file from a ConfigMap, or `sh -c` with the text in the command)"
        )));
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut params = AttachParams::default()
        .stdout(true)
        .stderr(true)
        .stdin(stdin.is_some());
    if let Some(c) = container {
        params = params.container(c);
    }
    let mut process = api
        .exec(pod, command.to_vec(), &params)
        .await
        .map_err(|e| api_error(&format!("exec in {pod} ({on})"), e))?;
    if let (Some(input), Some(mut w)) = (stdin, process.stdin()) {
        let _ = w.write_all(input.as_bytes()).await;
        // v5: a close signal for stdin alone; the output and the status still come.
        let _ = w.shutdown().await;
    }
    let (stdout, stderr) = (process.stdout(), process.stderr());
    let status = process.take_status();
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let status = {
        // Keep reading while the stream runs (a full buffer would stall it). The status ends
        // the stream: kube sends it, then closes the output streams. A stream that ends
        // without one (or an abrupt end, after which kube leaves the output streams open)
        // resolves the status to nothing; reading then stops shortly after.
        let reading = async {
            tokio::join!(
                read_bounded(stdout, &mut out),
                read_bounded(stderr, &mut err)
            )
        };
        tokio::pin!(reading);
        let status = async {
            match status {
                Some(s) => s.await,
                None => None,
            }
        };
        tokio::pin!(status);
        tokio::select! {
            s = &mut status => {
                let _ = tokio::time::timeout(DRAIN_AFTER_END, &mut reading).await;
                s
            }
            _ = &mut reading => tokio::time::timeout(DRAIN_AFTER_END, &mut status)
                .await
                .ok()
                .flatten(),
        }
    };
    // The stream is over: nothing is cut off by closing it now.
    let _ = tokio::time::timeout(DRAIN_AFTER_END, process.join()).await;
    let exit_code = match status {
        Some(s) => exec_status::exit_code(&s)
            .map_err(|e| ClusterError::Api(format!("exec in {pod} ({on}): {e}")))?,
        None => {
            return Err(ClusterError::Api(format!(
                "exec in {pod} ({on}): the stream ended without an exit status (output so far: {})",
                crate::diag::visible(out.text().trim())
            )));
        }
    };
    Ok(ExecOutput {
        stdout: out.text(),
        stderr: err.text(),
        exit_code,
    })
}

/// Copies both ways between a local connection and a remote stream until either side closes.
async fn splice(mut local: TcpStream, mut remote: impl AsyncRead + AsyncWrite + Unpin) {
    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
}

/// A listener on 127.0.0.1 (any free port) that hands every accepted connection to `serve`,
/// each on its own task, until the returned task is aborted.
async fn local_listener<F, Fut>(serve: F) -> Result<(SocketAddr, JoinHandle<()>), ClusterError>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| ClusterError::Api(format!("binding a local port: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ClusterError::Api(e.to_string()))?;
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve(conn));
        }
    });
    Ok((addr, task))
}

/// A local listener whose connections are port-forwarded to `pod:port`.
pub async fn port_forward_listener(
    client: Client,
    ns: &str,
    pod: &str,
    port: u16,
) -> Result<(SocketAddr, JoinHandle<()>), ClusterError> {
    let api: Api<Pod> = Api::namespaced(client, ns);
    let pod = pod.to_string();
    local_listener(move |conn| {
        let (api, pod) = (api.clone(), pod.clone());
        async move {
            match api.portforward(&pod, &[port]).await {
                Ok(mut pf) => {
                    if let Some(stream) = pf.take_stream(port) {
                        splice(conn, stream).await;
                    }
                    let _ = pf.join().await;
                }
                // The connection closes and the verifier using it reports the failure with its
                // context; a pod deleted by a fault step makes this expected, not alarming.
                Err(e) => tracing::debug!("port-forward to {pod}:{port}: {e}"),
            }
        }
    })
    .await
}

/// A local listener whose connections run `nc $<host_env> <port>` in `pod` and pipe through it:
/// the way to reach a proxy on the pod's own node (`$NODE_NAME:5000`).
pub async fn exec_nc_listener(
    client: Client,
    ns: &str,
    pod: &str,
    host_env: &str,
    port: u16,
) -> Result<(SocketAddr, JoinHandle<()>), ClusterError> {
    let api: Api<Pod> = Api::namespaced(client, ns);
    let pod = pod.to_string();
    let script = format!("exec nc \"${host_env}\" {port}");
    local_listener(move |conn| {
        let (api, pod, script) = (api.clone(), pod.clone(), script.clone());
        async move {
            let params = AttachParams::default()
                .stdin(true)
                .stdout(true)
                .stderr(false);
            match api
                .exec(
                    &pod,
                    vec!["/bin/sh".to_string(), "-c".to_string(), script],
                    &params,
                )
                .await
            {
                Ok(mut process) => {
                    let (out, inp) = (process.stdout(), process.stdin());
                    let ended = process.join();
                    tokio::pin!(ended);
                    if let (Some(out), Some(inp)) = (out, inp) {
                        // As in `exec`: after an abrupt end kube never closes stdout, so the
                        // copy stops shortly after the stream ends instead of waiting forever.
                        let copying = splice(conn, tokio::io::join(out, inp));
                        tokio::pin!(copying);
                        tokio::select! {
                            _ = &mut copying => {
                                let _ = tokio::time::timeout(DRAIN_AFTER_END, &mut ended).await;
                            }
                            _ = &mut ended => {
                                let _ = tokio::time::timeout(DRAIN_AFTER_END, &mut copying).await;
                            }
                        }
                    } else {
                        let _ = ended.await;
                    }
                }
                // As for port-forwards: the verifier reports the closed connection.
                Err(e) => tracing::debug!("exec nc in {pod}: {e}"),
            }
        }
    })
    .await
}
