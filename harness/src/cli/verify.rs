//! `harness verify VERIFIER --endpoint ...`: one verifier against servers outside Kubernetes.
//! The flags become the verifier's raw spec, which goes through the same validation as a
//! scenario step; then a one-step static plan runs through the same runner and reporters as
//! `harness run` (the verdict on stdout, JUnit on request).

use super::run::execute_with;
use super::select::new_run_id;
use super::{EXIT_USAGE, VerifyArgs};
use crate::check::Checker;
use crate::cluster::NoCluster;
use crate::plan::{CleanupPolicy, PlannedStep, ScenarioPlan};
use crate::report::verdict::VerdictReporter;
use crate::report::{Reporter, junit::JunitReporter};
use crate::scenario::model::ClusterNeeds;
use crate::steps::{Action, Verify};
use crate::vars::Values;
use crate::verify::RawVerify;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub async fn verify(args: VerifyArgs) -> u8 {
    match plan(&args) {
        Ok(plan) => {
            let mut reporters: Vec<Box<dyn Reporter>> =
                vec![Box::new(VerdictReporter::new(std::io::stdout()))];
            if let Some(path) = &args.junit {
                reporters.push(Box::new(JunitReporter::new(path.clone())));
            }
            let setup = super::run::RunSetup {
                run_id: plan.run_id.clone(),
                run_dir: PathBuf::new(),
                junit: args.junit.clone().unwrap_or_default(),
                summary: PathBuf::new(),
                parallel: 1,
                reran: None,
                selection: Default::default(),
            };
            execute_with(&NoCluster, std::slice::from_ref(&plan), &setup, reporters).await
        }
        Err(problems) => {
            for p in problems {
                say!("error: {p}");
            }
            EXIT_USAGE
        }
    }
}

/// The one-step static plan of a `harness verify` call; `Err` lists usage problems.
pub fn plan(args: &VerifyArgs) -> Result<ScenarioPlan, Vec<String>> {
    let max = crate::check::MAX_DURATION;
    let timeout = match humantime::parse_duration(&args.timeout) {
        Ok(d) if !d.is_zero() && d <= max => d,
        Ok(d) if d > max => {
            return Err(vec![format!(
                "--timeout `{}` is longer than {}",
                crate::diag::visible(&args.timeout),
                humantime::format_duration(max)
            )]);
        }
        _ => {
            return Err(vec![format!(
                "--timeout `{}` is not a positive duration",
                crate::diag::visible(&args.timeout)
            )]);
        }
    };
    let raw = RawVerify::from_flags(&args.verifier, &args.flags).map_err(|e| vec![e])?;
    let mut secrets = vec![];
    if let Some(var) = &args.flags.password_env {
        match std::env::var(var) {
            Ok(p) => secrets.push(p),
            Err(_) => {
                return Err(vec![format!(
                    "--password-env names the environment variable {}, which is not set",
                    crate::vars::env_name_shown(var)
                )]);
            }
        }
    }
    let values = Values::default();
    let origin = Path::new("command line");
    let mut cx = Checker::new(origin, None, &values);
    let spec = raw.check(&mut cx, "verify");
    let diags = cx.into_diagnostics();
    if diags.has_errors() {
        return Err(diags
            .errors()
            .map(|d| format!("{} (at `{}`)", d.message, d.path))
            .collect());
    }
    let Some(spec) = spec else {
        return Err(vec![format!("{}: invalid flags", args.verifier)]);
    };
    if spec.needs_cluster() {
        return Err(vec![format!(
            "{} needs a cluster; run it from a scenario",
            spec.name()
        )]);
    }
    let name = spec.name();
    let step = PlannedStep {
        id: name.to_string(),
        kind: "verify",
        description: None,
        timeout,
        continue_on_error: false,
        retry: None,
        action: Action::Verify(Verify(spec)),
    };
    Ok(ScenarioPlan {
        name: format!("verify-{name}"),
        file: PathBuf::from("-"),
        description: String::new(),
        tags: vec![],
        run_id: new_run_id(),
        namespace: String::new(),
        cluster: ClusterNeeds {
            required: false,
            workers: 0,
            kubernetes_min: None,
            kubernetes_max: None,
        },
        // The step's own timeout bounds the check; the scenario's only needs to outlast it.
        deadline: timeout.saturating_add(Duration::from_secs(1)),
        cleanup: CleanupPolicy::default(),
        steps: vec![step],
        finally: vec![],
        guards: vec![],
        demand: Default::default(),
        images: vec![],
        probe_window: None,
        probe_window_reason: None,
        skip_if_undersized: false,
        secrets,
        values,
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command, EXIT_FAIL, EXIT_PASS};
    use crate::testing::eps;
    use clap::Parser;
    use harness_testkit::cql_standin::StandIn;

    fn verify_args(argv: &[&str]) -> VerifyArgs {
        let argv = [&["harness", "verify"], argv].concat();
        match Cli::try_parse_from(argv).expect("valid arguments").command {
            Command::Verify(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    // Layer 2b: `harness verify cql` on servers outside Kubernetes, against the CQL protocol
    // stand-in (not Cassandra): exit 0 with JUnit, 1 when the rows differ, 2 on bad usage.
    #[tokio::test]
    async fn verify_cql_on_static_servers_exits_0_1_or_2() {
        let standin = StandIn::start_static(3).await;
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("cql.xml");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/cassandra/initial-seed.cql"
        );
        let endpoints: Vec<String> = eps(standin.endpoints())
            .iter()
            .map(|e| e.address())
            .collect();
        let mut common = vec![];
        for e in &endpoints {
            common.extend(["--endpoint", e.as_str()]);
        }
        common.extend([
            "--query",
            "SELECT emp_id FROM my_cassandra_keyspace.employee",
        ]);
        let run = |extra: &[&str]| verify_args(&[&["cql"], common.as_slice(), extra].concat());

        let seeded = run(&[
            "--consistency",
            "ONE",
            "--script",
            script,
            "--expect-rows",
            "3",
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(verify(seeded).await, EXIT_PASS);
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains("cql") && !xml.contains("<failure"), "{xml}");

        assert_eq!(verify(run(&["--expect-rows", "4"])).await, EXIT_FAIL);
        assert_eq!(
            verify(run(&["--expect-rows", "3", "--script", "/no/such.cql"])).await,
            EXIT_USAGE
        );
        let bad_level = plan(&run(&["--expect-rows", "3", "--consistency", "MOST"])).unwrap_err();
        assert!(
            bad_level[0].contains("`MOST` is not a consistency level"),
            "{bad_level:?}"
        );
        assert_eq!(
            plan(&run(&[])).unwrap_err(),
            vec!["cql needs --expect-rows"]
        );
    }
}
