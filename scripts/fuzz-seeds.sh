#!/usr/bin/env bash
# Seeds the fuzz corpora with what the harness reads: every scenario and bad-input case (the
# newest syntax included) for scenario_loader, and sample run summaries for summary_reader.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p fuzz/corpus/scenario_loader fuzz/corpus/summary_reader fuzz/corpus/shard_merge
find scenarios fixtures/invalid -name '*.yaml' -exec cp -t fuzz/corpus/scenario_loader {} +
cargo run -q -p harness -- schema --summary > fuzz/corpus/summary_reader/schema.json
# A real summary: a tiny scenario without a cluster, one step passing and one failing.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'name: tiny\ncluster: { required: false }\nsteps:\n  - sleep: 10ms\n  - id: fails\n    continue_on_error: true\n    verify: { http: { target: { endpoints: ["127.0.0.1:1"] }, path: / } }\n' > "$work/tiny.yaml"
cargo run -q -p harness -- run "$work/tiny.yaml" --report-dir "$work/reports" >/dev/null 2>&1 || true
cp "$work"/reports/*/summary.json fuzz/corpus/summary_reader/tiny.json
printf '{"format":1,"run_id":"r","selection":["scenarios"],"scenarios":[]}' > fuzz/corpus/summary_reader/minimal.json
# A shard: its summary, a NUL, then the bytes of one evidence file.
{ cat fuzz/corpus/summary_reader/tiny.json; printf '\0'; printf 'evidence line\n'; } > fuzz/corpus/shard_merge/tiny-shard
echo "seeded: $(ls fuzz/corpus/scenario_loader | wc -l) scenarios, $(ls fuzz/corpus/summary_reader | wc -l) summaries"
