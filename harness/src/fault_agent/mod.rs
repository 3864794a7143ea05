//! What runs on a node to make pod-level faults and prove they took effect: the agent script
//! (`agent.sh`, POSIX `sh`, busybox is enough), the commands that invoke it, and the pure
//! reading of what it prints. The agent shares the host's PID namespace: it finds a container's
//! processes by the container's ID in their cgroup and acts from outside the container, where
//! PID 1 cannot ignore SIGSTOP or SIGKILL and where the pod's network namespace can be entered
//! whatever the CNI (a blackhole route in the pod's own namespace, not a NetworkPolicy that a
//! CNI may not enforce).
//!
//! The Kubernetes layer runs it by exec in an agent pod on the target's node; the rig's tests
//! run the same script in a container with the same rights beside real servers.

/// The agent's image: busybox has every tool the script needs (`sh`, `nsenter`, `ip`, `nc`,
/// `kill`). A scenario with pod-level faults lists it among the images to preload.
pub const DEFAULT_AGENT_IMAGE: &str = "busybox:1.36.1";

/// The agent's image: `HARNESS_FAULT_AGENT_IMAGE` names another (a mirror, a pinned digest).
pub fn agent_image() -> String {
    std::env::var("HARNESS_FAULT_AGENT_IMAGE")
        .ok()
        .filter(|i| !i.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_AGENT_IMAGE.to_string())
}

/// The agent script, run as `sh -c SCRIPT agent <action> <container-id> [args]`.
pub const SCRIPT: &str = include_str!("agent.sh");

/// A signal the agent sends to every process of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Freeze (cannot be caught or ignored).
    Stop,
    /// Resume.
    Cont,
    /// Kill without grace (no preStop, no trap).
    Kill,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
            Signal::Kill => "KILL",
        }
    }
}

/// What to ask the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Each process of the container and its state (`R`, `S`, `T`...).
    State,
    Signal(Signal),
    /// Drop (or restore) every packet from the container's network namespace to `addresses`.
    Blackhole {
        add: bool,
        addresses: Vec<String>,
    },
    /// Whether a TCP connection from the container's network namespace to `address:port`
    /// succeeds.
    Reach {
        address: String,
        port: u16,
    },
}

/// The container ID in a pod's `containerID` (`containerd://abc…`, `docker://abc…`,
/// `cri-o://abc…`): lowercase hex, at least 12 characters; `None` otherwise.
pub fn container_id(status_id: &str) -> Option<&str> {
    let id = status_id.split_once("://").map_or(status_id, |(_, id)| id);
    (id.len() >= 12
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(id)
}

/// The command line that asks the agent `ask` about container `cid`.
pub fn command(cid: &str, ask: &Ask) -> Vec<String> {
    let mut argv: Vec<String> = vec!["sh".into(), "-c".into(), SCRIPT.into(), "agent".into()];
    let (action, args): (&str, Vec<String>) = match ask {
        Ask::State => ("state", vec![]),
        Ask::Signal(s) => ("signal", vec![s.name().into()]),
        Ask::Blackhole { add, addresses } => (
            "blackhole",
            std::iter::once(if *add { "add" } else { "del" }.to_string())
                .chain(addresses.iter().cloned())
                .collect(),
        ),
        Ask::Reach { address, port } => ("reach", vec![address.clone(), port.to_string()]),
    };
    argv.push(action.into());
    argv.push(cid.into());
    argv.extend(args);
    argv
}

/// The processes of a container and the state letter of each (`pid 1600 T`), or why not.
pub fn states(output: &str) -> Result<Vec<(u32, char)>, String> {
    if output.lines().any(|l| l.trim() == "none") {
        return Err("the container has no process on this node (it is not running here)".into());
    }
    let found: Vec<(u32, char)> = output
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some("pid")).then_some(())?;
            let pid = parts.next()?.parse().ok()?;
            let state = parts.next()?.chars().next()?;
            Some((pid, state))
        })
        .collect();
    if found.is_empty() {
        Err(format!("the agent said nothing usable: {}", output.trim()))
    } else {
        Ok(found)
    }
}

/// A pause took effect: every process of the container is stopped (`T`).
pub fn paused(output: &str) -> Result<String, String> {
    let states = states(output)?;
    let running: Vec<String> = states
        .iter()
        .filter(|(_, s)| *s != 'T' && *s != 't')
        .map(|(p, s)| format!("{p} ({s})"))
        .collect();
    if running.is_empty() {
        Ok(format!(
            "{} process(es) stopped (state T): {}",
            states.len(),
            listed(&states)
        ))
    } else {
        Err(format!(
            "pause had no effect on process(es) {} (not in state T)",
            running.join(", ")
        ))
    }
}

/// A resume took effect: no process of the container is stopped.
pub fn resumed(output: &str) -> Result<String, String> {
    let states = states(output)?;
    let stopped: Vec<String> = states
        .iter()
        .filter(|(_, s)| *s == 'T' || *s == 't')
        .map(|(p, _)| p.to_string())
        .collect();
    if stopped.is_empty() {
        Ok(format!(
            "{} process(es) running again: {}",
            states.len(),
            listed(&states)
        ))
    } else {
        Err(format!("process(es) {} still stopped", stopped.join(", ")))
    }
}

fn listed(states: &[(u32, char)]) -> String {
    states
        .iter()
        .map(|(p, s)| format!("{p} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many processes a signal reached.
pub fn signalled(output: &str) -> Result<u32, String> {
    output
        .lines()
        .find_map(|l| l.strip_prefix("signalled ")?.trim().parse().ok())
        .ok_or_else(|| format!("the agent said nothing usable: {}", output.trim()))
}

/// Whether the connection succeeded (`reach 10.0.0.2 4567 yes`).
pub fn reached(output: &str) -> Result<bool, String> {
    output
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("reach ")?;
            match rest.rsplit_once(' ')?.1 {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            }
        })
        .ok_or_else(|| {
            if output.lines().any(|l| l.trim() == "none") {
                "the container has no process on this node".to_string()
            } else {
                format!("the agent said nothing usable: {}", output.trim())
            }
        })
}

/// The peers (address:port) that did not answer, of what a pod's probes saw.
pub fn unreached(reach: &[((String, u16), bool)]) -> Vec<String> {
    peers(reach, false)
}

fn peers(reach: &[((String, u16), bool)], answered: bool) -> Vec<String> {
    reach
        .iter()
        .filter(|(_, yes)| *yes == answered)
        .map(|((a, p), _)| format!("{a}:{p}"))
        .collect()
}

/// A partition took effect: from `who`, none of `peers` (address, port) answers; else what
/// still does, in the words the step reports.
pub fn cut_off(who: &str, reach: &[((String, u16), bool)]) -> Result<String, String> {
    let still = peers(reach, true);
    if still.is_empty() {
        Ok(format!(
            "{who} reaches none of {}",
            unreached(reach).join(", ")
        ))
    } else {
        Err(format!(
            "partition had no effect: {who} still reaches {}",
            still.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests;
