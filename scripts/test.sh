#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test that does not need a
# Kubernetes cluster (pure, real-server rig, mocked API). Scenario tests (layer 4) stay out:
# they run in the workflows under ci/ against kind. Each crate is compiled once: the build is
# `--workspace --all-targets`, what nextest and the tests' own nested cargo runs reuse.
# The time of each phase is printed at the end (to stderr), so a slower run shows where.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
phases=()
phase() {
  local name=$1 began=$SECONDS
  shift
  "$@"
  phases+=("$(printf '%-34s %5ds' "$name" $((SECONDS - began)))")
}
report() {
  {
    echo "test command phases:"
    printf '  %s\n' "${phases[@]}"
    printf '  %-34s %5ds\n' total $((SECONDS - started))
  } >&2
}
trap report EXIT
phase "install test dependencies" scripts/install-test-deps.sh
phase "build (workspace, all targets)" cargo build --workspace --all-targets
# The binary just built (`cargo run` would build the harness again with other features).
phase "validate scenarios/" target/debug/harness validate scenarios/
phase "tests (nextest)" cargo nextest run --workspace --profile ci --run-ignored all
mkdir -p reports
cp target/nextest/ci/junit.xml reports/nextest-junit.xml
