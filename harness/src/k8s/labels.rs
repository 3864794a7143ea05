//! The labels the harness puts on everything it creates, and the ownership check that keeps it
//! from deleting anything it did not create.

use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "harness";
pub const RUN_ID: &str = "harness.run-id";
pub const SCENARIO: &str = "harness.scenario";

/// Label values are at most 63 characters of `[A-Za-z0-9._-]`.
pub fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

pub fn ours(run_id: &str, scenario: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (RUN_ID.to_string(), label_value(run_id)),
        (SCENARIO.to_string(), label_value(scenario)),
    ])
}

/// True when the labels say this run of the harness created the object.
pub fn is_ours(labels: Option<&BTreeMap<String, String>>, run_id: &str) -> bool {
    labels.is_some_and(|l| {
        l.get(MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && l.get(RUN_ID) == Some(&label_value(run_id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn only_objects_with_this_runs_labels_are_ours() {
        let labels = ours("20261122-031500-abcd", "galera-etcd-sync");
        assert!(is_ours(Some(&labels), "20261122-031500-abcd"));
        assert!(!is_ours(Some(&labels), "another-run"));
        assert!(!is_ours(None, "20261122-031500-abcd"));
        let mut foreign = labels.clone();
        foreign.remove(MANAGED_BY);
        assert!(!is_ours(Some(&foreign), "20261122-031500-abcd"));
        assert_eq!(label_value("a b/c"), "a-b-c");
    }
}
