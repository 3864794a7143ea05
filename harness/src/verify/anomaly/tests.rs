//! Layer 1 (pure): hand-built list-append histories, one for each anomaly class (each must be
//! found, named with its transactions), and histories that look suspicious but are valid
//! (each must pass: no false anomaly), including long simulated histories of a strictly
//! serializable store.

use super::history::{Key, Value};
use super::list_append::check;
use super::*;

fn a(k: Key, v: Value) -> Mop {
    Mop::Append(k, v)
}
fn r(k: Key, vs: &[Value]) -> Mop {
    Mop::Read(k, Some(vs.to_vec()))
}

/// Builds a history; transactions run one after another unless given times.
#[derive(Default)]
struct H {
    rec: Recorder,
    clock: u64,
}

impl H {
    fn txn(&mut self, outcome: Outcome, mops: Vec<Mop>) -> &mut Self {
        let t = self.clock;
        self.clock += 2;
        self.at(outcome, t, t + 1, mops)
    }
    fn ok(&mut self, mops: Vec<Mop>) -> &mut Self {
        self.txn(Outcome::Ok, mops)
    }
    fn at(&mut self, outcome: Outcome, invoked: u64, completed: u64, mops: Vec<Mop>) -> &mut Self {
        let process = u32::try_from(self.rec.len()).unwrap();
        self.rec.add(&Txn {
            process,
            node: format!("n{}", process % 3),
            outcome,
            invoked,
            completed,
            mops,
        });
        self
    }
    fn found(&self, realtime: bool) -> Findings {
        check(&self.rec, realtime)
    }
}

fn kinds(f: &Findings) -> Vec<Kind> {
    f.counts.keys().copied().collect()
}

/// Exactly these kinds were found, and each explanation names transactions.
fn assert_found(f: &Findings, expected: &[Kind]) {
    assert_eq!(kinds(f), expected, "{:#?}", f.examples);
    for e in &f.examples {
        assert!(
            e.explanation.contains('T') || e.kind == Kind::GarbageRead,
            "{e:?}"
        );
    }
}

#[test]
fn g0_a_cycle_of_appends() {
    let mut h = H::default();
    h.ok(vec![a(1, 1), a(2, 2)])
        .ok(vec![a(1, 3), a(2, 4)])
        .ok(vec![r(1, &[1, 3]), r(2, &[4, 2])]);
    let f = h.found(false);
    assert_found(&f, &[Kind::G0]);
    let e = &f.examples[0].explanation;
    assert!(
        e.contains("T0 (ok, process 0 on n0)") && e.contains("T1") && e.contains("(ww)"),
        "{e}"
    );
}

#[test]
fn g1a_aborted_read_and_dirty_update() {
    let mut h = H::default();
    h.txn(Outcome::Fail, vec![a(1, 1)]).ok(vec![r(1, &[1])]);
    let f = h.found(false);
    assert_found(&f, &[Kind::G1a]);
    assert!(
        f.examples[0].explanation.contains("appended by T0 (failed"),
        "{:?}",
        f.examples
    );

    let mut h = H::default();
    h.txn(Outcome::Fail, vec![a(1, 1)])
        .ok(vec![a(1, 2)])
        .ok(vec![r(1, &[1, 2])]);
    assert_found(&h.found(false), &[Kind::G1a, Kind::DirtyUpdate]);
}

#[test]
fn g1b_intermediate_read() {
    let mut h = H::default();
    h.ok(vec![a(1, 1), a(1, 2)])
        .ok(vec![r(1, &[1])])
        .ok(vec![r(1, &[1, 2])]);
    let f = h.found(false);
    assert_found(&f, &[Kind::G1b]);
    assert!(
        f.examples[0]
            .explanation
            .contains("intermediate state of T0"),
        "{:?}",
        f.examples
    );
}

#[test]
fn g1c_circular_information_flow() {
    let mut h = H::default();
    h.ok(vec![a(1, 1), r(2, &[2])])
        .ok(vec![a(2, 2), r(1, &[1])]);
    assert_found(&h.found(false), &[Kind::G1c]);
}

#[test]
fn g_single_read_skew() {
    let mut h = H::default();
    h.ok(vec![a(1, 1), a(2, 2)])
        .ok(vec![r(1, &[]), r(2, &[2])])
        .ok(vec![r(1, &[1])]);
    let f = h.found(false);
    assert_found(&f, &[Kind::GSingle]);
    assert!(
        f.examples[0].explanation.contains("(rw)"),
        "{:?}",
        f.examples
    );
}

#[test]
fn g2_item_write_skew_is_allowed_by_snapshot_isolation_only() {
    let mut h = H::default();
    h.ok(vec![r(1, &[]), r(2, &[]), a(1, 1)])
        .ok(vec![r(1, &[]), r(2, &[]), a(2, 2)])
        .ok(vec![r(1, &[1]), r(2, &[2])]);
    let f = h.found(false);
    assert_found(&f, &[Kind::G2Item]);
    let si = Expect {
        consistency: Model::SnapshotIsolation,
        allow: Default::default(),
    };
    assert!(f.breaking(&si).is_empty());
    let serializable = Expect {
        consistency: Model::Serializable,
        allow: Default::default(),
    };
    assert_eq!(f.breaking(&serializable), vec![Kind::G2Item]);
    let tolerated = Expect {
        consistency: Model::Serializable,
        allow: [Kind::G2Item].into(),
    };
    assert!(f.breaking(&tolerated).is_empty());
}

#[test]
fn lost_update_two_commits_from_one_state() {
    let mut h = H::default();
    h.ok(vec![r(1, &[]), a(1, 1)])
        .ok(vec![r(1, &[]), a(1, 2)])
        .ok(vec![r(1, &[1, 2])]);
    let f = h.found(false);
    assert_eq!(f.count(Kind::LostUpdate), 1, "{f:#?}");
    let e = f
        .examples
        .iter()
        .find(|e| e.kind == Kind::LostUpdate)
        .unwrap();
    assert!(
        e.explanation.contains("T0") && e.explanation.contains("T1"),
        "{e:?}"
    );
    let si = Expect {
        consistency: Model::SnapshotIsolation,
        allow: Default::default(),
    };
    assert!(f.breaking(&si).contains(&Kind::LostUpdate));
}

#[test]
fn internal_duplicate_incompatible_and_garbage_reads() {
    let mut h = H::default();
    h.ok(vec![a(1, 5), r(1, &[])]);
    assert_found(&h.found(false), &[Kind::Internal]);

    // Read again after its own append, it sees another's append in between: reads that do
    // not repeat (read committed allows it; a snapshot does not).
    let mut h = H::default();
    h.ok(vec![a(1, 1)])
        .ok(vec![r(1, &[1]), a(1, 3), r(1, &[1, 2, 3])])
        .ok(vec![a(1, 2)]);
    let f = h.found(false);
    assert!(f.counts.contains_key(&Kind::NonRepeatableRead), "{f:#?}");
    let rc = Expect {
        consistency: Model::ReadCommitted,
        allow: Default::default(),
    };
    assert!(f.breaking(&rc).is_empty(), "{f:#?}");
    // Losing what it read is nonsense.
    let mut h = H::default();
    h.ok(vec![a(1, 1)])
        .ok(vec![r(1, &[1]), a(1, 3), r(1, &[3])]);
    assert_found(&h.found(false), &[Kind::Internal]);

    let mut h = H::default();
    h.ok(vec![a(1, 1)]).ok(vec![r(1, &[1, 1])]);
    assert_found(&h.found(false), &[Kind::DuplicateElements]);

    let mut h = H::default();
    h.ok(vec![a(1, 1)])
        .ok(vec![a(1, 2)])
        .ok(vec![r(1, &[1, 2])])
        .ok(vec![r(1, &[2, 1])]);
    assert_found(&h.found(false), &[Kind::IncompatibleOrder]);

    let mut h = H::default();
    h.ok(vec![a(1, 1)]).ok(vec![r(1, &[1, 99])]);
    let f = h.found(false);
    assert_found(&f, &[Kind::GarbageRead]);
    // Nonsense fails whatever the promise.
    let weakest = Expect {
        consistency: Model::ReadUncommitted,
        allow: Default::default(),
    };
    assert_eq!(f.breaking(&weakest), vec![Kind::GarbageRead]);
}

#[test]
fn a_stale_read_is_a_cycle_only_in_real_time() {
    let mut h = H::default();
    h.ok(vec![a(1, 1)]).ok(vec![r(1, &[])]).ok(vec![r(1, &[1])]);
    assert_found(&h.found(false), &[]);
    let f = h.found(true);
    assert_found(&f, &[Kind::Realtime]);
    assert!(
        f.examples[0].explanation.contains("(realtime)")
            && f.examples[0].explanation.contains("G-single"),
        "{:?}",
        f.examples
    );
}

// Valid histories that look suspicious.

#[test]
fn concurrent_transactions_may_miss_each_other() {
    let mut h = H::default();
    h.at(Outcome::Ok, 0, 10, vec![a(1, 1)])
        .at(Outcome::Ok, 1, 5, vec![r(1, &[])])
        .at(Outcome::Ok, 11, 12, vec![r(1, &[1])]);
    assert_found(&h.found(true), &[]);
}

#[test]
fn indeterminate_appends_may_be_seen_or_not() {
    let mut h = H::default();
    h.txn(Outcome::Info, vec![a(1, 1)])
        .txn(Outcome::Info, vec![a(1, 2)])
        .ok(vec![r(1, &[1])])
        .txn(Outcome::Fail, vec![a(1, 3)])
        .ok(vec![r(1, &[1])]);
    assert_found(&h.found(true), &[]);
}

#[test]
fn reads_of_own_appends_and_shorter_older_reads() {
    let mut h = H::default();
    h.ok(vec![a(1, 1), r(1, &[1])])
        .ok(vec![r(1, &[1]), a(1, 2), r(1, &[1, 2]), a(1, 3)])
        .ok(vec![r(2, &[]), a(2, 4), r(2, &[4])])
        .at(Outcome::Ok, 100, 110, vec![r(1, &[1, 2, 3])]);
    assert_found(&h.found(true), &[]);
}

use super::simulate::serial_history;

#[test]
fn a_simulated_strictly_serializable_store_shows_no_anomaly() {
    for seed in 0..20 {
        let rec = serial_history(2_000, 8, seed);
        let f = check(&rec, true);
        assert!(f.counts.is_empty(), "seed {seed}: {:#?}", f.examples);
    }
}

#[test]
fn an_anomaly_planted_in_a_long_valid_history_is_found() {
    // A read skew planted among 5,000 valid transactions.
    let mut rec = serial_history(5_000, 8, 7);
    let late = 1_000_000;
    rec.add(&Txn {
        process: 99,
        node: "n0".into(),
        outcome: Outcome::Ok,
        invoked: late,
        completed: late + 1,
        mops: vec![a(1_000_000, 900_001), a(1_000_001, 900_002)],
    });
    rec.add(&Txn {
        process: 98,
        node: "n1".into(),
        outcome: Outcome::Ok,
        invoked: late + 2,
        completed: late + 3,
        mops: vec![r(1_000_000, &[]), r(1_000_001, &[900_002])],
    });
    rec.add(&Txn {
        process: 97,
        node: "n2".into(),
        outcome: Outcome::Ok,
        invoked: late + 4,
        completed: late + 5,
        mops: vec![r(1_000_000, &[900_001])],
    });
    let f = check(&rec, false);
    assert_eq!(kinds(&f), vec![Kind::GSingle], "{:#?}", f.examples);
    assert!(
        f.examples[0].explanation.contains("process 98"),
        "{:?}",
        f.examples
    );
}

#[test]
fn each_model_prohibits_more_than_the_one_below() {
    let mut last: std::collections::BTreeSet<Kind> = Default::default();
    for m in [
        Model::ReadUncommitted,
        Model::ReadCommitted,
        Model::SnapshotIsolation,
        Model::StrongSnapshotIsolation,
    ] {
        let p = m.prohibits();
        assert!(p.is_superset(&last) && p != last, "{m:?}");
        last = p;
    }
    let rr = Model::RepeatableRead.prohibits();
    assert!(rr.is_superset(&Model::SnapshotIsolation.prohibits()));
    assert!(
        Model::StrictSerializable
            .prohibits()
            .is_superset(&Model::Serializable.prohibits())
    );
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.name()), Some(k));
    }
    for m in Model::ALL {
        assert_eq!(Model::parse(m.name()), Some(m));
    }
}

#[test]
fn edn_lines_read_back_with_an_independent_reader() {
    use edn_format::{Keyword, Value as E};
    let mops = vec![a(1, 7), r(2, &[3, 4]), Mop::Read(3, None)];
    let line = edn::line(
        5,
        std::time::Duration::from_micros(3),
        edn::Event::Info("lost \"connection\""),
        4,
        &edn::invoked(&mops),
        "galera-ss-0",
    );
    let E::Map(m) = edn_format::parse_str(&line).expect("EDN") else {
        panic!("{line}")
    };
    let kw = |s: &str| E::Keyword(Keyword::from_name(s));
    assert_eq!(m[&kw("type")], kw("info"));
    assert_eq!(m[&kw("f")], kw("txn"));
    assert_eq!(m[&kw("time")], E::Integer(3000));
    let E::Vector(v) = &m[&kw("value")] else {
        panic!("{line}")
    };
    assert_eq!(
        v[0],
        E::Vector(vec![kw("append"), E::Integer(1), E::Integer(7)])
    );
    assert_eq!(v[1], E::Vector(vec![kw("r"), E::Integer(2), E::Nil]));
    assert_eq!(m[&kw("error")], E::String("lost \"connection\"".into()));
    let ok = edn::line(6, Default::default(), edn::Event::Ok, 4, &mops, "n");
    let E::Map(m) = edn_format::parse_str(&ok).unwrap() else {
        panic!()
    };
    let E::Vector(v) = &m[&kw("value")] else {
        panic!()
    };
    assert_eq!(
        v[1],
        E::Vector(vec![
            kw("r"),
            E::Integer(2),
            E::Vector(vec![E::Integer(3), E::Integer(4)])
        ])
    );
}
