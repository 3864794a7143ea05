#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test that does not need a
# Kubernetes cluster (pure, real-server rig, mocked API). Scenario tests (layer 4) stay out:
# they run in the workflows under ci/ against kind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --workspace --all-targets
# The API documentation builds without a warning (broken links, stray HTML).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q -p harness
# The binary just built (`cargo run` would build the harness again with other features).
target/debug/harness validate scenarios/
cargo nextest run --workspace --profile ci --run-ignored all
mkdir -p reports
cp target/nextest/ci/junit.xml reports/nextest-junit.xml
