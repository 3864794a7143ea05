//! What a scenario writes under `guards:` and its validation into typed guards.
//!
//! ```yaml
//! guards:
//!   - no_restarts: { selector: app=galera-ss }
//!   - no_unready: { selector: app=galera-ss, grace: 20s }
//!     from: galera-ready            # the step that starts it (default: the first)
//!   - no_log_match: { selector: app=galera-ss, container: mariadb, regex: '\[ERROR\]' }
//!     fail_fast: true               # stop the scenario at the first violation
//!   - no_warning_events: { reasons: [BackOff, Unhealthy] }
//!     name: no-backoff              # the JUnit test case is `guard <name>`
//! ```

use crate::check::Checker;
use crate::cluster::Watch;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    pub name: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub fail_fast: bool,
    pub no_restarts: Option<RawSelector>,
    pub no_unready: Option<RawUnready>,
    pub no_log_match: Option<RawLogMatch>,
    pub no_warning_events: Option<RawWarningEvents>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSelector {
    pub selector: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUnready {
    pub selector: String,
    #[serde(default = "default_grace")]
    pub grace: String,
}

fn default_grace() -> String {
    "0s".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLogMatch {
    pub selector: String,
    pub container: Option<String>,
    pub regex: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWarningEvents {
    /// Event reasons that violate the guard; every Warning event when empty.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// A validated guard.
#[derive(Debug, Clone, Serialize)]
pub struct Guard {
    pub name: String,
    /// Index of the main step it starts at.
    pub from: usize,
    pub fail_fast: bool,
    pub kind: GuardKind,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardKind {
    NoRestarts {
        selector: String,
    },
    NoUnready {
        selector: String,
        #[serde(serialize_with = "crate::check::duration_text")]
        grace: Duration,
    },
    NoLogMatch {
        selector: String,
        container: Option<String>,
        #[serde(serialize_with = "crate::steps::exec::pattern")]
        regex: crate::check::Pattern,
    },
    NoWarningEvents {
        reasons: Vec<String>,
    },
}

impl GuardKind {
    pub fn key(&self) -> &'static str {
        match self {
            GuardKind::NoRestarts { .. } => "no_restarts",
            GuardKind::NoUnready { .. } => "no_unready",
            GuardKind::NoLogMatch { .. } => "no_log_match",
            GuardKind::NoWarningEvents { .. } => "no_warning_events",
        }
    }

    /// What the cluster must report for this guard.
    pub fn watch(&self) -> Watch {
        match self {
            GuardKind::NoRestarts { selector } | GuardKind::NoUnready { selector, .. } => {
                Watch::Pods {
                    selector: selector.clone(),
                }
            }
            GuardKind::NoLogMatch {
                selector,
                container,
                ..
            } => Watch::Logs {
                pods: crate::cluster::Selection::Selector(selector.clone()),
                container: container.clone(),
            },
            GuardKind::NoWarningEvents { .. } => Watch::Events,
        }
    }

    /// One line for plans and reports.
    pub fn summary(&self) -> String {
        match self {
            GuardKind::NoRestarts { selector } => {
                format!("no container of {selector} restarts")
            }
            GuardKind::NoUnready { selector, grace } => format!(
                "no pod of {selector} stays not Ready longer than {}",
                humantime::format_duration(*grace)
            ),
            GuardKind::NoLogMatch {
                selector,
                container,
                regex,
            } => format!(
                "no log line of {selector}{} matches /{}/",
                container
                    .as_ref()
                    .map_or(String::new(), |c| format!(" ({c})")),
                regex.as_str()
            ),
            GuardKind::NoWarningEvents { reasons } if reasons.is_empty() => {
                "no Warning event".to_string()
            }
            GuardKind::NoWarningEvents { reasons } => {
                format!("no Warning event with reason {}", reasons.join(", "))
            }
        }
    }
}

impl RawGuard {
    /// Validates at `path` (`guards[i]`); `steps` are the main steps' ids, in order.
    pub fn check(&self, cx: &mut Checker, path: &str, steps: &[String]) -> Option<Guard> {
        let given = [
            ("no_restarts", self.no_restarts.is_some()),
            ("no_unready", self.no_unready.is_some()),
            ("no_log_match", self.no_log_match.is_some()),
            ("no_warning_events", self.no_warning_events.is_some()),
        ];
        let one = cx.exactly_one(path, &given);
        let from = match &self.from {
            None => Some(0),
            Some(id) => match steps.iter().position(|s| s == id) {
                Some(i) => Some(i),
                None => {
                    cx.error(
                        &format!("{path}.from"),
                        format!("no main step has the id `{id}`"),
                    );
                    None
                }
            },
        };
        if !one {
            return None;
        }
        let kind = if let Some(r) = &self.no_restarts {
            GuardKind::NoRestarts {
                selector: cx.selector(&format!("{path}.no_restarts.selector"), &r.selector)?,
            }
        } else if let Some(r) = &self.no_unready {
            let selector = cx.selector(&format!("{path}.no_unready.selector"), &r.selector);
            let grace = cx.duration_or_zero(&format!("{path}.no_unready.grace"), &r.grace);
            GuardKind::NoUnready {
                selector: selector?,
                grace: grace?,
            }
        } else if let Some(r) = &self.no_log_match {
            let at = format!("{path}.no_log_match");
            let selector = cx.selector(&format!("{at}.selector"), &r.selector);
            let regex = cx.pattern(
                &format!("{at}.regex"),
                &r.regex,
                crate::check::Judged::Lines,
            );
            GuardKind::NoLogMatch {
                selector: selector?,
                container: r.container.clone(),
                regex: regex?,
            }
        } else {
            let r = self.no_warning_events.as_ref()?;
            if let Some(i) = r.reasons.iter().position(|reason| reason.trim().is_empty()) {
                cx.error(
                    &format!("{path}.no_warning_events.reasons[{i}]"),
                    "an empty reason matches no event: name an event reason such as `BackOff`, or leave `reasons` out to watch every Warning event",
                );
                return None;
            }
            GuardKind::NoWarningEvents {
                reasons: r.reasons.clone(),
            }
        };
        let name = match &self.name {
            Some(n) => n.clone(),
            None => kind.key().replace('_', "-"),
        };
        Some(Guard {
            name,
            from: from?,
            fail_fast: self.fail_fast,
            kind,
        })
    }
}
