//! Layer 1 (pure): guards judged on recorded observations and fault windows.

use super::*;
use crate::guards::spec::{Guard, GuardKind};

fn guard(kind: GuardKind) -> Judge {
    Judge::new(Guard {
        name: "g".into(),
        from: 0,
        fail_fast: false,
        kind,
    })
}

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn pod(name: &str, uid: &str, initial: bool, ready: bool, restarts: i32) -> Observation {
    Observation::Pod {
        name: name.into(),
        uid: uid.into(),
        initial,
        ready,
        restarts: BTreeMap::from([("mariadb".to_string(), restarts)]),
        gone: false,
    }
}

fn deleting(pod: &str, from: u64, to: u64) -> FaultWindow {
    FaultWindow {
        start: s(from),
        end: Some(s(to)),
        pods: Some(vec![pod.into()]),
        step: "kill".into(),
    }
}

#[test]
fn a_restart_counts_only_after_the_guard_started_and_outside_fault_windows() {
    let mut j = guard(GuardKind::NoRestarts {
        selector: "app=db".into(),
    });
    // Two restarts before the guard started: not counted.
    assert_eq!(j.see(s(0), &pod("db-0", "u0", true, true, 2), &[]), 0);
    assert_eq!(j.see(s(5), &pod("db-0", "u0", false, true, 2), &[]), 0);
    // One more: a violation, named.
    assert_eq!(j.see(s(9), &pod("db-0", "u0", false, true, 3), &[]), 1);
    assert_eq!(
        j.violations[0].what,
        "container mariadb of db-0 restarted (restart count 2 -> 3)"
    );
    // The pod a fault step deleted comes back (new UID) and restarts once while the fault's
    // consequences settle: excused, and said.
    let faults = [deleting("db-1", 20, 25)];
    j.see(s(21), &pod("db-1", "u1b", false, false, 0), &faults);
    assert_eq!(
        j.see(s(40), &pod("db-1", "u1b", false, true, 1), &faults),
        0
    );
    assert!(j.excused[0].contains("during `kill`"), "{:?}", j.excused);
    // Long after the window, a restart of the same pod is a violation again.
    assert_eq!(
        j.see(s(90), &pod("db-1", "u1b", false, true, 2), &faults),
        1
    );
    // A pod created after the guard started that already restarted: counted from zero.
    assert_eq!(j.see(s(95), &pod("db-2", "u2", false, true, 1), &faults), 1);
}

#[test]
fn unready_longer_than_the_grace_outside_a_fault_is_a_violation() {
    let mut j = guard(GuardKind::NoUnready {
        selector: "app=db".into(),
        grace: s(20),
    });
    j.see(s(0), &pod("db-0", "u0", true, true, 0), &[]);
    // A 10 s flap: within the grace.
    j.see(s(10), &pod("db-0", "u0", false, false, 0), &[]);
    assert_eq!(j.see(s(20), &pod("db-0", "u0", false, true, 0), &[]), 0);
    // 45 s not Ready: a violation when it comes back...
    j.see(s(30), &pod("db-0", "u0", false, false, 0), &[]);
    assert_eq!(j.next_deadline(), Some(s(50)));
    assert_eq!(j.see(s(75), &pod("db-0", "u0", false, true, 0), &[]), 1);
    assert_eq!(
        j.violations[0].what,
        "db-0 was not Ready for 45s from +30s (grace 20s)"
    );
    // ...or at a tick past the deadline, once, while it is still down.
    j.see(s(100), &pod("db-0", "u0", false, false, 0), &[]);
    assert_eq!(j.tick(s(110)), 0);
    assert_eq!(j.tick(s(121)), 1);
    assert_eq!(j.tick(s(200)), 0);
    // The pod a fault deleted is excused until it is Ready again, however long that takes.
    let faults = [deleting("db-1", 300, 301)];
    j.see(s(300), &pod("db-1", "u1", false, false, 0), &faults);
    assert_eq!(j.tick(s(900)), 0);
    assert_eq!(
        j.see(s(901), &pod("db-1", "u1", false, true, 0), &faults),
        0
    );
}

#[test]
fn a_matching_log_line_is_reported_with_the_lines_before_it() {
    let mut j = guard(GuardKind::NoLogMatch {
        selector: "app=db".into(),
        container: None,
        regex: crate::check::Pattern::new(r"\[ERROR\]").unwrap(),
    });
    let line = |pod: &str, text: &str| Observation::LogLine {
        pod: pod.into(),
        container: "mariadb".into(),
        line: text.into(),
    };
    for (i, text) in ["a", "b", "c", "d"].iter().enumerate() {
        j.see(s(i as u64), &line("db-0", text), &[]);
    }
    j.see(s(4), &line("db-1", "other pod"), &[]);
    assert_eq!(
        j.see(s(5), &line("db-0", "[ERROR] Aborted connection"), &[]),
        1
    );
    let v = &j.violations[0];
    assert_eq!(v.object, "db-0/mariadb");
    assert_eq!(v.what, "logged `[ERROR] Aborted connection`");
    assert_eq!(
        v.context,
        vec!["b", "c", "d", "> [ERROR] Aborted connection"]
    );
}

#[test]
fn warning_events_by_reason_with_fault_windows() {
    let mut j = guard(GuardKind::NoWarningEvents {
        reasons: vec!["BackOff".into()],
    });
    let event = |kind: &str, reason: &str, object: &str| Observation::Event {
        kind: kind.into(),
        reason: reason.into(),
        object: object.into(),
        message: "m".into(),
    };
    assert_eq!(j.see(s(1), &event("Normal", "BackOff", "Pod/db-0"), &[]), 0);
    assert_eq!(
        j.see(s(2), &event("Warning", "Unhealthy", "Pod/db-0"), &[]),
        0
    );
    assert_eq!(
        j.see(s(3), &event("Warning", "BackOff", "Pod/db-0"), &[]),
        1
    );
    let faults = [deleting("db-1", 10, 12)];
    assert_eq!(
        j.see(s(11), &event("Warning", "BackOff", "Pod/db-1"), &faults),
        0
    );
    assert_eq!(
        j.see(s(11), &event("Warning", "BackOff", "Pod/db-2"), &faults),
        1
    );
    // A rollout's window excuses the pods of its workload (`db-*`), not another's.
    let rollout = [FaultWindow {
        start: s(10),
        end: Some(s(12)),
        pods: Some(vec!["db-*".into()]),
        step: "upgrade".into(),
    }];
    assert_eq!(
        j.see(s(11), &event("Warning", "BackOff", "Pod/db-2"), &rollout),
        0
    );
    assert_eq!(
        j.see(
            s(11),
            &event("Warning", "BackOff", "Pod/proxy-7c9"),
            &rollout
        ),
        1
    );
    // An open window (the fault still running) with no pod named excuses any pod.
    let any = [FaultWindow {
        start: s(20),
        end: None,
        pods: None,
        step: "cordon".into(),
    }];
    assert_eq!(
        j.see(s(500), &event("Warning", "BackOff", "Pod/db-2"), &any),
        0
    );
}

#[test]
fn a_log_guard_says_which_logs_it_followed_and_a_log_it_could_not_follow_is_a_violation() {
    let mut j = guard(GuardKind::NoLogMatch {
        selector: "app=db".into(),
        container: Some("mariadb".into()),
        regex: crate::check::Pattern::new(r"\[ERROR\]").unwrap(),
    });
    // Nothing followed: the guard is blind, and says why.
    assert_eq!(
        j.blind().as_deref(),
        Some(
            "it followed no log: no running container named mariadb of a pod matching app=db while it watched"
        )
    );
    let followed = |pod: &str, restarts: i32, error: Option<&str>| Observation::LogFollowed {
        pod: pod.into(),
        container: "mariadb".into(),
        restarts,
        error: error.map(String::from),
    };
    j.see(s(1), &followed("db-0", 0, None), &[]);
    j.see(s(1), &followed("db-1", 0, None), &[]);
    j.see(
        s(2),
        &Observation::LogLine {
            pod: "db-0".into(),
            container: "mariadb".into(),
            line: "[Note] ready".into(),
        },
        &[],
    );
    assert_eq!(j.blind(), None);
    assert_eq!(
        j.watched(),
        "no log line of app=db (mariadb) matches /\\[ERROR\\]/: followed the log of 2 container(s) (db-0/mariadb, db-1/mariadb) (2 instance(s) counting restarts), 1 line(s) read"
    );
    // A log the guard could not open while its container ran: excused inside a fault that
    // disrupts that pod, a violation outside one.
    let faults = [deleting("db-1", 10, 12)];
    assert_eq!(
        j.see(
            s(11),
            &followed("db-1", 1, Some("connection reset")),
            &faults
        ),
        0
    );
    assert_eq!(
        j.see(
            s(100),
            &followed("db-0", 1, Some("connection reset")),
            &faults
        ),
        1
    );
    assert_eq!(
        j.violations[0].what,
        "could not follow the log of container mariadb (restart 1), which still runs: connection reset"
    );
}

#[test]
fn pod_guards_name_the_pods_they_watched_and_a_selector_that_matched_nothing_is_blind() {
    let mut j = guard(GuardKind::NoRestarts {
        selector: "app=db".into(),
    });
    assert_eq!(
        j.blind().as_deref(),
        Some("no pod matched app=db while it watched")
    );
    for i in 0..8 {
        j.see(s(1), &pod(&format!("db-{i}"), "u", true, true, 0), &[]);
    }
    assert_eq!(j.blind(), None);
    assert_eq!(
        j.watched(),
        "no container of app=db restarts: watched 8 pod(s) (db-0, db-1, db-2, db-3, db-4, db-5 and 2 more), 8 update(s)"
    );
    // Events need no selector: a quiet namespace is not blind.
    let events = guard(GuardKind::NoWarningEvents { reasons: vec![] });
    assert_eq!(events.blind(), None);
}

// Layer 1 (paused clock): the scenario's fault windows as a workload sees them: from its
// start, clipped to its run, an open (lasting) one to its end, one before it not at all.
#[tokio::test(start_paused = true)]
async fn fault_windows_are_seen_from_a_workloads_start_and_an_open_one_runs_to_its_end() {
    let log = FaultLog::default();
    let window = |step: &str, start: u64, end: Option<u64>| FaultWindow {
        start: Duration::from_secs(start),
        end: end.map(Duration::from_secs),
        pods: None,
        step: step.into(),
    };
    *log.windows.lock().unwrap() = vec![
        window("early", 0, Some(2)),
        window("freeze", 5, Some(15)),
        window("isolate", 15, None),
    ];
    tokio::time::sleep(Duration::from_secs(3)).await;
    let workload = tokio::time::Instant::now();
    assert_eq!(
        log.seen_from(workload, Duration::from_secs(30)),
        vec![
            (
                "freeze".into(),
                Duration::from_secs(2),
                Duration::from_secs(12)
            ),
            (
                "isolate".into(),
                Duration::from_secs(12),
                Duration::from_secs(30)
            ),
        ]
    );
}
