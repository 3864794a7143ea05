//! `cassandra.snapshot`: `nodetool snapshot -t`, `listsnapshots` shows it, `clearsnapshot -t`
//! removes it.

use super::PodShell;
use crate::check::Checker;
use crate::verify::{Verdict, Verifier, VerifyContext, VerifyFlags, nonce};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub pod: String,
    pub container: Option<String>,
    pub keyspace: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CassandraSnapshotSpec {
    pub pod: String,
    pub container: Option<String>,
    pub keyspace: String,
}

#[async_trait::async_trait]
impl Verifier for CassandraSnapshotSpec {
    const NAME: &'static str = "cassandra.snapshot";
    const CHECKS: &'static str =
        "`nodetool snapshot -t`, `listsnapshots` shows it, `clearsnapshot -t` removes it";
    const FROM_VERIFY: bool = false;
    type Raw = Raw;

    fn check(raw: Raw, _cx: &mut Checker, _path: &str) -> Option<Self> {
        Some(Self {
            pod: raw.pod,
            container: raw.container,
            keyspace: raw.keyspace,
        })
    }

    fn from_flags(_: &VerifyFlags) -> Result<Self::Raw, String> {
        Err("cassandra.snapshot runs nodetool in pods: run it from a scenario step, not from `harness verify`".into())
    }

    fn needs_cluster(&self) -> bool {
        true
    }

    type Shape = crate::verify::NoTargets;

    fn targets(&self) {}

    async fn run(&self, cx: &VerifyContext<'_>, (): ()) -> Verdict {
        snapshot(self, cx.pods).await
    }
}

pub async fn snapshot(spec: &CassandraSnapshotSpec, shell: &dyn PodShell) -> Verdict {
    let tag = format!("harness-{}", nonce());
    let c = spec.container.as_deref();
    let mut log = vec![];
    let mut step = |cmd: Vec<&str>, text: String, code: i32| {
        log.push(format!(
            "$ {} -> exit {code}\n{}",
            cmd.join(" "),
            text.trim()
        ))
    };
    let take = ["nodetool", "snapshot", "-t", &tag, spec.keyspace.as_str()];
    match shell.run(&spec.pod, c, &take).await {
        Ok((0, text)) => step(take.to_vec(), text, 0),
        Ok((code, text)) => {
            return Verdict::fail(
                format!(
                    "{}: nodetool snapshot exited {code}: {}",
                    spec.pod,
                    text.trim()
                ),
                log,
            );
        }
        Err(e) => return Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
    let list = ["nodetool", "listsnapshots"];
    match shell.run(&spec.pod, c, &list).await {
        Ok((0, text)) if text.contains(&tag) => step(list.to_vec(), text, 0),
        Ok((code, text)) => {
            return Verdict::fail(
                format!("{}: listsnapshots does not show {tag}", spec.pod),
                [log, vec![format!("exit {code}: {text}")]].concat(),
            );
        }
        Err(e) => return Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
    // 4.x and later refuse `clearsnapshot` without -t or --all.
    let clear = [
        "nodetool",
        "clearsnapshot",
        "-t",
        &tag,
        "--",
        spec.keyspace.as_str(),
    ];
    match shell.run(&spec.pod, c, &clear).await {
        Ok((0, text)) => step(clear.to_vec(), text, 0),
        Ok((code, text)) => {
            return Verdict::fail(
                format!("{}: clearsnapshot exited {code}: {}", spec.pod, text.trim()),
                log,
            );
        }
        Err(e) => return Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
    match shell.run(&spec.pod, c, &list).await {
        Ok((0, text)) if !text.contains(&tag) => Verdict::pass(
            format!(
                "snapshot {tag} of {} taken, listed and cleared on {}",
                spec.keyspace, spec.pod
            ),
            log,
        ),
        Ok((_, text)) => Verdict::fail(
            format!(
                "{}: snapshot {tag} is still listed after clearsnapshot",
                spec.pod
            ),
            [log, vec![text]].concat(),
        ),
        Err(e) => Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
}
