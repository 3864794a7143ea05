//! A list-append transaction as lines of Elle's history format (what `elle.list-append/check`
//! and `jepsen.history` read): `{:index 0, :time 12, :type :invoke, :process 3, :f :txn,
//! :value [[:append 1 7] [:r 2 nil]], :node "galera-ss-0"}` when it is sent; the completion
//! with the same `:f` and its reads filled in (`:ok`), as invoked (`:fail`: certainly did not
//! happen; `:info`: may or may not have, with `:error`). `:time` is nanoseconds from the
//! workload's start.

use super::history::Mop;
use std::fmt::Write as _;
use std::time::Duration;

/// The EDN of a transaction's micro-operations: `[[:append 1 7] [:r 2 [3 4]]]`; reads `nil`
/// where not known.
pub fn value(mops: &[Mop]) -> String {
    let mut out = String::from("[");
    for (i, m) in mops.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match m {
            Mop::Append(k, v) => {
                let _ = write!(out, "[:append {k} {v}]");
            }
            Mop::Read(k, None) => {
                let _ = write!(out, "[:r {k} nil]");
            }
            Mop::Read(k, Some(vs)) => {
                let _ = write!(out, "[:r {k} [");
                for (j, v) in vs.iter().enumerate() {
                    if j > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{v}");
                }
                out.push_str("]]");
            }
        }
    }
    out.push(']');
    out
}

/// How an event of the history ended, if it is a completion.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Invoke,
    Ok,
    Fail(&'a str),
    Info(&'a str),
}

/// One event as a line.
pub fn line(
    index: u64,
    time: Duration,
    event: Event<'_>,
    process: u64,
    mops: &[Mop],
    node: &str,
) -> String {
    let (type_, error) = match event {
        Event::Invoke => (":invoke", None),
        Event::Ok => (":ok", None),
        Event::Fail(e) => (":fail", Some(e)),
        Event::Info(e) => (":info", Some(e)),
    };
    crate::verify::history_edn::event(
        index,
        time,
        type_,
        process,
        ":txn",
        &value(mops),
        node,
        error,
    )
}

/// The micro-operations as invoked: reads not yet known.
pub fn invoked(mops: &[Mop]) -> Vec<Mop> {
    mops.iter()
        .map(|m| match m {
            Mop::Read(k, _) => Mop::Read(*k, None),
            a => a.clone(),
        })
        .collect()
}
