//! What guards watch, as `Observation`s: pods (readiness, restart counts, deletion) and
//! namespace events through kube-runtime watchers (re-listing after 410 Gone), and log lines
//! followed (`follow=true`) for every container of every matching pod, also pods and container
//! instances that appear later. No polling. It runs until its receiver closes or it is dropped
//! (its followers are aborted with it).

use crate::cluster::{ClusterError, Observation, Selection, Watch};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::LogParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::mpsc::Sender;

pub async fn observe(
    client: &Client,
    namespace: &str,
    watch: &Watch,
    tx: Sender<Observation>,
) -> Result<(), ClusterError> {
    match watch {
        Watch::Pods { selector } => pods(client, namespace, selector, tx).await,
        Watch::Events => events(client, namespace, tx).await,
        Watch::Logs { pods, container } => {
            logs(client, namespace, pods, container.as_deref(), tx).await
        }
    }
}

fn watch_error(what: &str, e: watcher::Error) -> ClusterError {
    ClusterError::Api(format!("watching {what}: {e}"))
}

/// A pod as a guard sees it.
pub fn pod_observation(p: &Pod, initial: bool, gone: bool) -> Observation {
    let ready = super::conditions::pod_is_ready(p);
    let restarts: BTreeMap<String, i32> = super::conditions::container_statuses(p)
        .map(|c| (c.name.clone(), c.restart_count))
        .collect();
    Observation::Pod {
        name: p.name_any(),
        uid: p.uid().unwrap_or_default(),
        initial,
        ready,
        restarts,
        gone,
    }
}

async fn pods(
    client: &Client,
    ns: &str,
    selector: &str,
    tx: Sender<Observation>,
) -> Result<(), ClusterError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let config = watcher::Config::default().labels(selector);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut listed = false;
    while let Some(event) = stream
        .try_next()
        .await
        .map_err(|e| watch_error(&format!("pods {selector}"), e))?
    {
        let obs = match event {
            WatchEvent::Init => continue,
            WatchEvent::InitDone => {
                listed = true;
                continue;
            }
            WatchEvent::InitApply(p) => pod_observation(&p, !listed, false),
            WatchEvent::Apply(p) => pod_observation(&p, false, false),
            WatchEvent::Delete(p) => pod_observation(&p, false, true),
        };
        if tx.send(obs).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

async fn events(client: &Client, ns: &str, tx: Sender<Observation>) -> Result<(), ClusterError> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    // Events listed when the watch starts happened before the guard did.
    let mut listed = false;
    let mut before: BTreeSet<(String, i32)> = BTreeSet::new();
    while let Some(event) = stream
        .try_next()
        .await
        .map_err(|e| watch_error("events", e))?
    {
        let e = match event {
            WatchEvent::Init | WatchEvent::Delete(_) => continue,
            WatchEvent::InitDone => {
                listed = true;
                continue;
            }
            WatchEvent::InitApply(e) if !listed => {
                before.insert((e.name_any(), e.count.unwrap_or(1)));
                continue;
            }
            WatchEvent::InitApply(e) | WatchEvent::Apply(e) => e,
        };
        // A re-list repeats events already seen; only a new one or a new count is news.
        if !before.insert((e.name_any(), e.count.unwrap_or(1))) {
            continue;
        }
        let object = &e.involved_object;
        let obs = Observation::Event {
            kind: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            object: format!(
                "{}/{}",
                object.kind.clone().unwrap_or_default(),
                object.name.clone().unwrap_or_default()
            ),
            message: e.message.clone().unwrap_or_default(),
        };
        if tx.send(obs).await.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

async fn logs(
    client: &Client,
    ns: &str,
    pods: &Selection,
    only: Option<&str>,
    tx: Sender<Observation>,
) -> Result<(), ClusterError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    // One pod by name follows that pod only (its replacement too: same name).
    let config = match pods {
        Selection::Name(name) => {
            watcher::Config::default().fields(&format!("metadata.name={name}"))
        }
        Selection::Selector(selector) => watcher::Config::default().labels(selector),
    };
    let selector = pods.to_string();
    let mut stream = watcher::watcher(api.clone(), config)
        .default_backoff()
        .boxed();
    // Followers end with this set when the guard stops.
    let mut followers = tokio::task::JoinSet::new();
    // (pod uid, container, restart count): one follower per container instance.
    let mut followed: BTreeSet<(String, String, i32)> = BTreeSet::new();
    let mut listed = false;
    loop {
        let event = tokio::select! {
            e = stream.try_next() => e.map_err(|e| watch_error(&format!("pods {selector}"), e))?,
            _ = tx.closed() => return Ok(()),
        };
        let Some(event) = event else {
            return Ok(());
        };
        let (pod, initial) = match event {
            WatchEvent::InitDone => {
                listed = true;
                continue;
            }
            WatchEvent::InitApply(p) => (p, !listed),
            WatchEvent::Apply(p) => (p, false),
            WatchEvent::Init | WatchEvent::Delete(_) => continue,
        };
        let name = pod.name_any();
        let uid = pod.uid().unwrap_or_default();
        for status in super::conditions::container_statuses(&pod) {
            let started = status
                .state
                .as_ref()
                .is_some_and(|s| s.running.is_some() || s.terminated.is_some());
            if !started || only.is_some_and(|c| c != status.name) {
                continue;
            }
            let key = (uid.clone(), status.name.clone(), status.restart_count);
            if !followed.insert(key) {
                continue;
            }
            // A container that ran before the guard started: only what it logs from now.
            let since_seconds = (initial && status.restart_count == 0).then_some(1);
            let params = LogParams {
                container: Some(status.name.clone()),
                follow: true,
                since_seconds,
                ..Default::default()
            };
            let (api, pod_name, container, tx) =
                (api.clone(), name.clone(), status.name.clone(), tx.clone());
            let restarts = status.restart_count;
            followers.spawn(async move {
                let reader = match api.log_stream(&pod_name, &params).await {
                    Ok(reader) => reader,
                    Err(e) => {
                        // A container that ended or a pod that went meanwhile has nothing
                        // left to follow; one that still runs leaves the guard blind.
                        if still_runs(&api, &pod_name, &container, restarts).await {
                            let _ = tx
                                .send(Observation::LogFollowed {
                                    pod: pod_name,
                                    container,
                                    restarts,
                                    error: Some(e.to_string()),
                                })
                                .await;
                        }
                        return;
                    }
                };
                let followed = Observation::LogFollowed {
                    pod: pod_name.clone(),
                    container: container.clone(),
                    restarts,
                    error: None,
                };
                if tx.send(followed).await.is_err() {
                    return;
                }
                let mut lines = reader.lines();
                while let Some(Ok(line)) = lines.next().await {
                    let obs = Observation::LogLine {
                        pod: pod_name.clone(),
                        container: container.clone(),
                        line,
                    };
                    if tx.send(obs).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
}

/// Whether this instance of the container (same restart count) still runs in the pod.
async fn still_runs(api: &Api<Pod>, pod: &str, container: &str, restarts: i32) -> bool {
    let Ok(Some(p)) = api.get_opt(pod).await else {
        return false;
    };
    super::conditions::container_statuses(&p).any(|s| {
        s.name == container
            && s.restart_count == restarts
            && s.state.as_ref().is_some_and(|st| st.running.is_some())
    })
}
