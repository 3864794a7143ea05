//! Watch-based waiting: a kube-runtime watcher keeps a local view of the matching objects
//! (re-listing on 410 Gone), and the condition is evaluated on every change, so a wait returns
//! as soon as the event that satisfies it arrives. No polling. Stale events (an older
//! resourceVersion after a newer one) are ignored.

use crate::cluster::ClusterError;
use futures::{StreamExt, TryStreamExt};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

fn newer(old: Option<&String>, new: Option<&String>) -> bool {
    match (
        old.and_then(|o| o.parse::<u64>().ok()),
        new.and_then(|n| n.parse::<u64>().ok()),
    ) {
        (Some(o), Some(n)) => n >= o,
        _ => true,
    }
}

/// Where a wait stands after an event.
pub enum Progress {
    /// It holds (what was found).
    Done(String),
    /// Not yet (what was seen).
    Waiting(String),
    /// It never can, by the API's own rules (why): the wait fails at once.
    Never(String),
}

impl From<Result<String, String>> for Progress {
    /// A plain condition's answer: found, or what was seen while waiting.
    fn from(check: Result<String, String>) -> Self {
        match check {
            Ok(found) => Progress::Done(found),
            Err(seen) => Progress::Waiting(seen),
        }
    }
}

/// Waits until `condition` holds on the objects the watcher sees (keyed by name), or `timeout`;
/// what it last saw is the step's journal note (a wait's `2/3 ready`).
pub async fn until<K>(
    api: Api<K>,
    config: watcher::Config,
    timeout: Duration,
    mut condition: impl FnMut(&BTreeMap<String, K>) -> Result<String, String>,
) -> Result<String, ClusterError>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watch_until(api, config, timeout, |view| condition(view).into(), true).await
}

/// [`until`] with a condition that can also say the wait can never succeed.
pub async fn until_settled<K>(
    api: Api<K>,
    config: watcher::Config,
    timeout: Duration,
    condition: impl FnMut(&BTreeMap<String, K>) -> Progress,
) -> Result<String, ClusterError>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watch_until(api, config, timeout, condition, true).await
}

/// [`until`] that leaves the journal alone (a watch beside the main one, such as the crash
/// watch of a wait).
pub async fn until_quietly<K>(
    api: Api<K>,
    config: watcher::Config,
    timeout: Duration,
    mut condition: impl FnMut(&BTreeMap<String, K>) -> Result<String, String>,
) -> Result<String, ClusterError>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watch_until(api, config, timeout, |view| condition(view).into(), false).await
}

async fn watch_until<K>(
    api: Api<K>,
    config: watcher::Config,
    timeout: Duration,
    mut condition: impl FnMut(&BTreeMap<String, K>) -> Progress,
    note: bool,
) -> Result<String, ClusterError>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut view: BTreeMap<String, K> = BTreeMap::new();
    let mut relist: Option<BTreeMap<String, K>> = None;
    let mut last = "nothing seen yet".to_string();
    let mut watch_error: Option<String> = None;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.try_next()).await;
        let event = match next {
            Err(_) => {
                let last_state = match watch_error {
                    Some(e) => format!("{last} (last watch error: {e})"),
                    None => last,
                };
                return Err(ClusterError::Timeout {
                    after: timeout,
                    last_state,
                });
            }
            Ok(Ok(Some(e))) => e,
            Ok(Ok(None)) => {
                return Err(ClusterError::Api(format!(
                    "the watch ended; last state: {last}"
                )));
            }
            Ok(Err(e)) => {
                // The backoff retries; remember why for the timeout message.
                watch_error = Some(e.to_string());
                continue;
            }
        };
        match event {
            Event::Init => {
                relist = Some(BTreeMap::new());
                continue;
            }
            Event::InitApply(o) => {
                if let Some(buffer) = relist.as_mut() {
                    buffer.insert(o.name_any(), o);
                }
                continue;
            }
            Event::InitDone => view = relist.take().unwrap_or_default(),
            Event::Apply(o) => {
                let name = o.name_any();
                if view.get(&name).is_some_and(|old| {
                    !newer(
                        old.meta().resource_version.as_ref(),
                        o.meta().resource_version.as_ref(),
                    )
                }) {
                    continue;
                }
                view.insert(name, o);
            }
            Event::Delete(o) => {
                view.remove(&o.name_any());
            }
        }
        watch_error = None;
        match condition(&view) {
            Progress::Done(found) => return Ok(found),
            Progress::Never(why) => return Err(ClusterError::Api(why)),
            Progress::Waiting(why) => {
                if note {
                    crate::journal::note(|| why.clone());
                }
                last = why;
            }
        }
    }
}
