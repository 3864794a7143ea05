//! A fake Kubernetes API server on a loopback port, for the streams the tower-test mock cannot
//! carry (layer 3): it lists pods, and it upgrades `exec` and `portforward` requests to
//! WebSockets speaking the channel protocol (`v5.channel.k8s.io` for exec, with its stdin
//! close signal, and `v4.channel.k8s.io` for port-forward), as API servers since 1.30 do. kube-rs connects to it with a plain `Client`, so the exec
//! status channel, the port-forward port frames and the local bridges run through kube's real
//! WebSocket code. It is not a cluster: no scheduling, no containers, no authentication.
//!
//! Each fake pod says how its commands answer ([`Command`]) and where its ports really are (a
//! local TCP address that the port-forward pipes to).

use futures::{SinkExt, StreamExt};
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// How a fake pod answers an exec.
#[derive(Clone)]
pub enum Command {
    /// Prints `stdout` and `stderr`, then exits with `exit`.
    Output {
        stdout: String,
        stderr: String,
        exit: i32,
    },
    /// Pipes stdin and stdout to a TCP connection to this address (what `nc host port` does).
    Pipe(SocketAddr),
}

/// Answers an exec's command line.
pub type Commands = Arc<dyn Fn(&[String]) -> Command + Send + Sync>;

#[derive(Clone)]
pub struct FakePod {
    pub name: String,
    pub ip: String,
    pub node: String,
    pub labels: BTreeMap<String, String>,
    pub commands: Commands,
    /// Pod port -> where that port is served on this machine.
    pub ports: BTreeMap<u16, SocketAddr>,
    /// Bumped each time the pod is replaced: the UID changes with it.
    pub generation: u32,
    /// What the container printed, and what its previous instance printed before it crashed
    /// (`None`: there was none, and the API answers 400 as a real one does).
    pub log: String,
    pub previous_log: Option<String>,
    /// Init containers (and native sidecars), before the app container `main`.
    pub init_containers: Vec<FakeContainer>,
}

/// An init container or a sidecar of a fake pod, with its own logs and the status the kubelet
/// reports for it.
#[derive(Clone, Debug, Default)]
pub struct FakeContainer {
    pub name: String,
    /// `Some("Always")` makes it a native sidecar.
    pub restart_policy: Option<String>,
    pub log: String,
    pub previous_log: Option<String>,
    /// Its `initContainerStatuses` entry without the name: `state`, `lastState`,
    /// `restartCount`, `ready`.
    pub status: serde_json::Value,
}

impl FakeContainer {
    /// Whether it has finished (an init container) or runs (a sidecar), so the pod can start.
    fn done(&self) -> bool {
        let state = self.status.get("state");
        if self.restart_policy.as_deref() == Some("Always") {
            return state.and_then(|s| s.get("running")).is_some();
        }
        state
            .and_then(|s| s.get("terminated"))
            .and_then(|t| t.get("exitCode"))
            .and_then(|c| c.as_i64())
            == Some(0)
    }
}

/// What happens to a deleted pod: its controller recreates it at once, and this hook says how
/// the replacement differs (a new IP, say). It runs after the generation was bumped.
pub type OnDelete = Arc<dyn Fn(&mut FakePod) + Send + Sync>;

impl State {
    fn pod(&self, name: &str) -> Option<FakePod> {
        self.pods
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.name == name)
            .cloned()
    }
}

struct State {
    pods: Mutex<Vec<FakePod>>,
    on_delete: Option<OnDelete>,
    /// Answer exec with v4 only, as API servers before 1.30 do.
    v4_only: std::sync::atomic::AtomicBool,
    /// Namespaces created through the API, by name.
    namespaces: Mutex<BTreeMap<String, serde_json::Value>>,
    /// `METHOD path?query` of every request, in order.
    requests: Mutex<Vec<String>>,
}

pub struct FakeApi {
    pub client: kube::Client,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApi {
    pub async fn start(pods: Vec<FakePod>) -> Self {
        Self::start_with(pods, None).await
    }

    pub async fn start_with(pods: Vec<FakePod>, on_delete: Option<OnDelete>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            pods: Mutex::new(pods),
            on_delete,
            v4_only: Default::default(),
            namespaces: Mutex::default(),
            requests: Mutex::default(),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
        let client = kube::Client::try_from(config).expect("a client for the fake API");
        FakeApi {
            client,
            state,
            task,
        }
    }

    /// From now on, speak only v4 for exec, like an API server older than 1.30.
    pub fn speak_v4_only(&self) {
        self.state
            .v4_only
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn text_reply(text: String) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(text)))
        .unwrap()
}

fn not_found(what: &str) -> Response<Full<Bytes>> {
    reply(
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": format!("{what} not found"), "reason": "NotFound", "code": 404}),
    )
}

fn pod_json(ns: &str, p: &FakePod) -> serde_json::Value {
    let init_specs: Vec<_> = p
        .init_containers
        .iter()
        .map(|c| match &c.restart_policy {
            Some(policy) => json!({"name": c.name, "image": "fake", "restartPolicy": policy}),
            None => json!({"name": c.name, "image": "fake"}),
        })
        .collect();
    let init_statuses: Vec<_> = p
        .init_containers
        .iter()
        .map(|c| {
            let mut status = c.status.clone();
            if let Some(map) = status.as_object_mut() {
                map.insert("name".into(), json!(c.name));
                map.entry("image").or_insert(json!("fake"));
                map.entry("imageID").or_insert(json!(""));
                map.entry("restartCount").or_insert(json!(0));
                map.entry("ready").or_insert(json!(false));
            }
            status
        })
        .collect();
    // A pod whose init containers have not all finished is Pending and its app container
    // waits in PodInitializing, as the kubelet reports it.
    let started = p.init_containers.iter().all(FakeContainer::done);
    let (phase, ready, main_state) = if started {
        (
            "Running",
            "True",
            json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
        )
    } else {
        (
            "Pending",
            "False",
            json!({"waiting": {"reason": "PodInitializing"}}),
        )
    };
    json!({
        "metadata": {"name": p.name, "namespace": ns, "labels": p.labels, "uid": format!("uid-{}-{}", p.name, p.generation)},
        "spec": {"nodeName": p.node, "initContainers": init_specs, "containers": [{"name": "main", "image": "fake"}]},
        "status": {"phase": phase, "podIP": p.ip, "hostIP": node_ip(&p.node),
                   "conditions": [{"type": "Ready", "status": ready}],
                   "initContainerStatuses": init_statuses,
                   "containerStatuses": [{"name": "main", "image": "fake", "imageID": "", "restartCount": 0,
                                          "ready": started, "state": main_state}]}
    })
}

/// `key=value` pairs of a query string, decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn selected(p: &FakePod, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => p.labels.get(k).map(String::as_str) == Some(v),
            None => p.labels.contains_key(term),
        })
}

async fn answer(
    state: Arc<State>,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("{} {path}?{query}", req.method()));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let pairs = query_pairs(&query);
    let method = req.method().clone();
    let response = match parts.as_slice() {
        ["api", "v1", "namespaces"] if method == http::Method::POST => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let mut ns: serde_json::Value = body
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            let name = ns["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            ns["metadata"]["uid"] = json!(format!("uid-{name}"));
            state.namespaces.lock().unwrap().insert(name, ns.clone());
            reply(StatusCode::CREATED, ns)
        }
        ["api", "v1", "namespaces"] => {
            let items: Vec<_> = state.namespaces.lock().unwrap().values().cloned().collect();
            reply(
                StatusCode::OK,
                json!({"apiVersion": "v1", "kind": "NamespaceList",
                       "metadata": {"resourceVersion": "2"}, "items": items}),
            )
        }
        ["api", "v1", "namespaces", ns] => {
            let mut namespaces = state.namespaces.lock().unwrap();
            let found = if method == http::Method::DELETE {
                namespaces.remove(*ns)
            } else {
                namespaces.get(*ns).cloned()
            };
            match found {
                Some(body) => reply(StatusCode::OK, body),
                None => not_found(&format!("namespaces \"{ns}\"")),
            }
        }
        ["api", "v1", "namespaces", _, "pods"] if pairs.iter().any(|(k, _)| k == "watch") => {
            // Every wait here is met by the initial list; the watch that follows stays open,
            // quiet, like a real one with nothing to report.
            futures::future::pending::<()>().await;
            unreachable!()
        }
        ["api", "v1", "namespaces", ns, "pods"] => {
            let param = |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let (selector, field) = (param("labelSelector"), param("fieldSelector"));
            let by_name = field.strip_prefix("metadata.name=");
            let items: Vec<_> = state
                .pods
                .lock()
                .unwrap()
                .iter()
                .filter(|p| selected(p, &selector) && by_name.is_none_or(|n| n == p.name))
                .map(|p| pod_json(ns, p))
                .collect();
            reply(
                StatusCode::OK,
                json!({"apiVersion": "v1", "kind": "PodList",
                       "metadata": {"resourceVersion": "1"}, "items": items}),
            )
        }
        ["api", "v1", "namespaces", _, "pods", name, "log"] => {
            let found = state.pod(name);
            let previous = pairs.iter().any(|(k, v)| k == "previous" && v == "true");
            let container = pairs
                .iter()
                .find(|(k, _)| k == "container")
                .map_or("main".to_string(), |(_, v)| v.clone());
            let logs = found.map(|p| {
                if container == "main" {
                    Some((p.log, p.previous_log))
                } else {
                    p.init_containers
                        .into_iter()
                        .find(|c| c.name == container)
                        .map(|c| (c.log, c.previous_log))
                }
            });
            match logs {
                None => not_found(&format!("pods \"{name}\"")),
                Some(None) => reply(
                    StatusCode::BAD_REQUEST,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "reason": "BadRequest", "code": 400,
                           "message": format!("container {container} is not valid for pod {name}")}),
                ),
                Some(Some((_, Some(text)))) if previous => text_reply(text),
                Some(Some((_, None))) if previous => reply(
                    StatusCode::BAD_REQUEST,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                           "status": "Failure", "reason": "BadRequest", "code": 400,
                           "message": format!("previous terminated container \"{container}\" in pod \"{name}\" not found")}),
                ),
                Some(Some((current, _))) => text_reply(current),
            }
        }
        ["api", "v1", "namespaces", ns, "pods", name] => {
            let mut pods = state.pods.lock().unwrap();
            let Some(pod) = pods.iter_mut().find(|p| p.name == *name) else {
                return Ok(not_found(&format!("pods \"{name}\"")));
            };
            let before = pod_json(ns, pod);
            if method == http::Method::DELETE {
                pod.generation += 1;
                if let Some(hook) = &state.on_delete {
                    hook(pod);
                }
            }
            reply(StatusCode::OK, before)
        }
        [
            "api",
            "v1",
            "namespaces",
            _,
            "pods",
            name,
            verb @ ("exec" | "portforward"),
        ] => {
            let found = state.pod(name);
            let Some(pod) = found else {
                return Ok(not_found(&format!("pods \"{name}\"")));
            };
            let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).cloned() else {
                return Ok(reply(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "not an upgrade"}),
                ));
            };
            let offered = req
                .headers()
                .get(SEC_WEBSOCKET_PROTOCOL)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let offers = |p: &str| offered.split(',').any(|o| o.trim() == p);
            // Like API servers since 1.30: v5 (stream close) for exec, v4 for port-forward.
            let protocol = match *verb {
                "exec"
                    if offers("v5.channel.k8s.io")
                        && !state.v4_only.load(std::sync::atomic::Ordering::Relaxed) =>
                {
                    "v5.channel.k8s.io"
                }
                _ if offers("v4.channel.k8s.io") => "v4.channel.k8s.io",
                _ => {
                    return Ok(reply(
                        StatusCode::BAD_REQUEST,
                        json!({"message": "no supported channel protocol"}),
                    ));
                }
            };
            let upgrade = hyper::upgrade::on(&mut req);
            let verb = verb.to_string();
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                if verb == "exec" {
                    let command: Vec<String> = pairs
                        .iter()
                        .filter(|(k, _)| k == "command")
                        .map(|(_, v)| v.clone())
                        .collect();
                    serve_exec(
                        ws,
                        (pod.commands)(&command),
                        protocol == "v5.channel.k8s.io",
                    )
                    .await;
                } else {
                    let port: Option<u16> = pairs
                        .iter()
                        .find(|(k, _)| k == "ports")
                        .and_then(|(_, v)| v.parse().ok());
                    serve_portforward(ws, port, &pod).await;
                }
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(UPGRADE, "websocket")
                .header(CONNECTION, "Upgrade")
                .header(SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
                .header(SEC_WEBSOCKET_PROTOCOL, protocol)
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
        _ => not_found(&path),
    };
    Ok(response)
}

/// The address of a fake node (the pods on it report it as `status.hostIP`).
pub fn node_ip(node: &str) -> String {
    let n = node
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("172.30.{}.{}", (n >> 8) % 250 + 1, n % 250 + 2)
}

/// The v5 signal that a channel reached EOF: `[255, channel]`.
const CLOSE: u8 = 255;

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut b = Vec::with_capacity(data.len() + 1);
    b.push(channel);
    b.extend_from_slice(data);
    Message::Binary(b.into())
}

/// The `Status` the API server sends on channel 3 when the command ends.
fn exit_status(code: i32) -> serde_json::Value {
    if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure",
               "message": format!("command terminated with non-zero exit code: exit status {code}"),
               "reason": "NonZeroExitCode",
               "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    }
}

/// How long a command takes to start printing after the stream opened.
const COMMAND_START: std::time::Duration = std::time::Duration::from_millis(30);

/// Serves an exec as an API server does: the command starts a moment after the stream opened
/// and prints as it runs, while the server reads what the client sends at the same time. On
/// `v5` a client signals the end of stdin with a close frame for that channel; on `v4` it can
/// only close the whole stream, which ends it at once: the rest of the output and the exit
/// status are lost (a kubelet logs "use of closed network connection").
async fn serve_exec(mut ws: Ws, command: Command, v5: bool) {
    match command {
        Command::Output {
            stdout,
            stderr,
            exit,
        } => {
            let mut frames: std::collections::VecDeque<Message> = [(1, stdout), (2, stderr)]
                .into_iter()
                // Several frames per stream, as a kubelet sends them.
                .flat_map(|(channel, text)| {
                    text.as_bytes()
                        .chunks(64)
                        .map(|c| frame(channel, c))
                        .collect::<Vec<_>>()
                })
                .collect();
            frames.push_back(frame(3, exit_status(exit).to_string().as_bytes()));
            let mut next = tokio::time::Instant::now() + COMMAND_START;
            loop {
                tokio::select! {
                    message = ws.next() => match message {
                        // v5: stdin ended; this command does not read it.
                        Some(Ok(Message::Binary(data))) if v5 && data[..] == [CLOSE, 0] => {}
                        Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                        // A close ends the stream at once.
                        _ => return,
                    },
                    _ = tokio::time::sleep_until(next) => {
                        let Some(f) = frames.pop_front() else { break };
                        if ws.send(f).await.is_err() {
                            return;
                        }
                        next = tokio::time::Instant::now();
                    }
                }
            }
        }
        Command::Pipe(to) => {
            let Ok(tcp) = TcpStream::connect(to).await else {
                let _ = ws.send(frame(2, b"nc: connection refused\n")).await;
                let _ = ws
                    .send(frame(3, exit_status(1).to_string().as_bytes()))
                    .await;
                let _ = ws.close(None).await;
                return;
            };
            pipe(&mut ws, tcp, 0, 1).await;
            let _ = ws
                .send(frame(3, exit_status(0).to_string().as_bytes()))
                .await;
        }
    }
    let _ = ws.close(None).await;
}

/// Copies frames on channel `from_client` to the TCP connection, and what it sends back to
/// channel `to_client`, until either side closes.
async fn pipe(ws: &mut Ws, tcp: TcpStream, from_client: u8, to_client: u8) {
    let (mut read, mut write) = tcp.into_split();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Binary(data))) if data.first() == Some(&from_client) => {
                    if write.write_all(&data[1..]).await.is_err() {
                        return;
                    }
                }
                // v5: the client closed its stdin; the command sees EOF and finishes its output.
                Some(Ok(Message::Binary(data))) if data[..] == [CLOSE, from_client] => {
                    let _ = write.shutdown().await;
                }
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                _ => return,
            },
            n = read.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if ws.send(frame(to_client, &buf[..n])).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}

async fn serve_portforward(mut ws: Ws, port: Option<u16>, pod: &FakePod) {
    let Some(port) = port else {
        let _ = ws.close(None).await;
        return;
    };
    // The first frame of each channel names its port (little-endian), data then error.
    let le = port.to_le_bytes();
    let _ = ws.send(frame(0, &le)).await;
    let _ = ws.send(frame(1, &le)).await;
    let target = pod.ports.get(&port).copied();
    match target {
        Some(to) => match TcpStream::connect(to).await {
            Ok(tcp) => pipe(&mut ws, tcp, 0, 0).await,
            Err(e) => {
                let _ = ws.send(frame(1, format!("connect: {e}").as_bytes())).await;
            }
        },
        None => {
            let message = format!(
                "error forwarding port {port} to pod {}: connection refused",
                pod.name
            );
            let _ = ws.send(frame(1, message.as_bytes())).await;
        }
    }
    let _ = ws.close(None).await;
}
