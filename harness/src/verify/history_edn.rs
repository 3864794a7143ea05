//! A workload's operations as a Jepsen history: EDN, one map per line, an `:invoke` when an
//! operation was sent and its completion when the answer came, ordered by time and indexed,
//! the form `jepsen.history`, Elle and Knossos read (`(jepsen.history/parse-ops (edn/read...))`
//! or line by line). Each event is written as it happens (the ledger holds one lock for the
//! index, the time and the line), so the file is in real-time order and memory stays flat.
//!
//! - `:f :add` for an insert (as Jepsen's set workloads write them), `:f :delete` for a delete;
//!   `:value` is the row, key or document id.
//! - `:type :ok` when acknowledged; `:type :info` when refused or unanswered (the write may or
//!   may not have happened, so it is indeterminate, never `:fail`), with `:error`.
//! - `:process` is the writer; after an `:info` the writer continues as a new process, as
//!   Jepsen requires. `:time` is nanoseconds from the workload's start; `:node` the node it went
//!   through.

use std::fmt::Write as _;
use std::time::Duration;

/// What an operation did: `:f :add` (an insert) or `:f :delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Insert,
    Delete,
}

/// One event of the history as an EDN map: an invocation (`completion` `None`) or its
/// completion (`Some(None)`: acknowledged, `Some(Some(error))`: indeterminate).
pub fn line(
    index: u64,
    time: Duration,
    completion: Option<Option<&str>>,
    process: u64,
    kind: OpKind,
    value: &str,
    node: &str,
) -> String {
    let f = match kind {
        OpKind::Insert => ":add",
        OpKind::Delete => ":delete",
    };
    let type_ = match completion {
        None => ":invoke",
        Some(None) => ":ok",
        Some(Some(_)) => ":info",
    };
    let error = match completion {
        Some(Some(e)) => Some(e),
        _ => None,
    };
    event(index, time, type_, process, f, &string(value), node, error)
}

/// One event of any shape as a line: `:type`, `:f` and `:value` given in EDN already, `:node`
/// and `:error` as strings.
#[allow(clippy::too_many_arguments)]
pub fn event(
    index: u64,
    time: Duration,
    type_: &str,
    process: u64,
    f: &str,
    value: &str,
    node: &str,
    error: Option<&str>,
) -> String {
    let mut out = format!(
        "{{:index {index}, :time {}, :type {type_}, :process {process}, :f {f}, :value {value}, :node {}",
        time.as_nanos(),
        string(node)
    );
    if let Some(e) = error {
        let _ = write!(out, ", :error {}", string(e));
    }
    out.push('}');
    out
}

/// An EDN string literal.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    //! Layer 1 (pure): the ledger of a scripted writer, exported and read back with an
    //! independent EDN reader (edn-format), checked against the ledger.
    use crate::verify::ledger::{self, Ledger, Target, Writer};
    use edn_format::{Keyword, Value};
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    /// Every third insert refused (with a hostile error text), every delete of a multiple of
    /// ten refused; stops after 40 inserts.
    struct Scripted {
        stop: CancellationToken,
    }

    #[async_trait::async_trait]
    impl Writer for Scripted {
        fn target(&self, seq: u64) -> Target {
            Target {
                node: format!("node-{}", seq % 2),
                id: format!("w-{seq}"),
            }
        }
        async fn insert(&mut self, target: &Target) -> Result<(), String> {
            let seq: u64 = target.id[2..].parse().unwrap();
            if seq >= 40 {
                self.stop.cancel();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            if seq.is_multiple_of(3) {
                Err("refused: \"read only\"\\\n\tby {server}".into())
            } else {
                Ok(())
            }
        }
        async fn delete(&mut self, _: &str, id: &str) -> Result<(), String> {
            if id.ends_with('0') {
                Err("timed out".into())
            } else {
                Ok(())
            }
        }
    }

    fn kw(name: &str) -> Value {
        Value::Keyword(Keyword::from_name(name))
    }

    fn get<'a>(m: &'a BTreeMap<Value, Value>, key: &str) -> &'a Value {
        m.get(&kw(key))
            .unwrap_or_else(|| panic!("no :{key} in {m:?}"))
    }

    fn text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }

    fn int(v: &Value) -> i64 {
        match v {
            Value::Integer(i) => *i,
            other => panic!("not an integer: {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_history_reads_back_as_the_ledger_says() {
        let ledger = Ledger::new();
        let stop = CancellationToken::new();
        let writer = Scripted { stop: stop.clone() };
        ledger::drive(writer, 2, Duration::from_millis(1), &stop, &ledger).await;
        let h = ledger.snapshot();
        let evidence = ledger.history_evidence("history.edn");
        let edn = std::fs::read_to_string(evidence.spooled.expect("spooled").path()).unwrap();

        let mut index = 0;
        let mut last_time = 0;
        let mut open: BTreeMap<i64, (Value, String)> = BTreeMap::new();
        let mut retired: BTreeSet<i64> = BTreeSet::new();
        let (mut ok_adds, mut info_adds, mut ok_deletes) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for line in edn.lines() {
            let Value::Map(m) = edn_format::parse_str(line).expect("EDN") else {
                panic!("not a map: {line}");
            };
            assert_eq!(int(get(&m, "index")), index);
            index += 1;
            let time = int(get(&m, "time"));
            assert!(time >= last_time, "time goes back at {line}");
            last_time = time;
            let process = int(get(&m, "process"));
            let f = get(&m, "f").clone();
            let value = text(get(&m, "value"));
            let kind = get(&m, "type").clone();
            assert!(
                !retired.contains(&process),
                "process {process} reused after :info"
            );
            if kind == kw("invoke") {
                assert!(
                    open.insert(process, (f, value)).is_none(),
                    "two open ops on {process}"
                );
                continue;
            }
            let (invoked_f, invoked_value) = open
                .remove(&process)
                .expect("a completion without its invoke");
            assert_eq!((&invoked_f, &invoked_value), (&f, &value));
            match (kind, f) {
                (k, f) if k == kw("ok") && f == kw("add") => {
                    ok_adds.insert(value);
                }
                (k, f) if k == kw("info") && f == kw("add") => {
                    assert!(text(get(&m, "error")).contains("\"read only\"\\\n\tby {server}"));
                    info_adds.insert(value);
                    retired.insert(process);
                }
                (k, f) if k == kw("ok") && f == kw("delete") => {
                    ok_deletes.insert(value);
                }
                (k, f) if k == kw("info") && f == kw("delete") => {
                    retired.insert(process);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(open.is_empty(), "operations never completed: {open:?}");
        assert_eq!(index as usize, ledger.operations() * 2);

        let acked: BTreeSet<String> = h
            .present()
            .iter()
            .chain(h.deleted().iter())
            .chain(h.uncertain().iter())
            .collect();
        assert_eq!(ok_adds, acked);
        let refused: BTreeSet<String> = h.unacknowledged.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(info_adds, refused);
        assert_eq!(ok_deletes, h.deleted().iter().collect::<BTreeSet<_>>());
        assert!(!h.uncertain().is_empty() && !refused.is_empty() && !h.deleted().is_empty());
    }
}
