#!/usr/bin/env bash
# Renders an HTML report in headless Chromium (Debian's `chromium`) and writes a PNG, to look at
# the page as a user would. With no argument it makes a small run first: two static scenarios
# (one passes, one fails against a closed port) with `--provider none`, no cluster needed.
#
#   scripts/html-screenshot.sh [reports/<run>/index.html] [out.png]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "chromium is missing: apt-get install chromium" >&2; exit 2; }
page="${1:-}"
out="${2:-reports/html-screenshot.png}"
if [[ -z "$page" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cat > "$work/passes.yaml" <<'YAML'
name: static-passes
cluster: { required: false }
steps:
  - id: settle
    sleep: 300ms
  - id: wait-a-bit
    sleep: 200ms
YAML
  cat > "$work/fails.yaml" <<'YAML'
name: static-fails
cluster: { required: false }
steps:
  - id: settle
    sleep: 200ms
  - id: pool
    verify:
      memcache.pool: { target: { endpoints: ["127.0.0.1:1", "127.0.0.1:2"] }, keys: 10 }
  - id: after
    sleep: 100ms
finally:
  - id: note
    sleep: 100ms
YAML
  cargo build -q -p harness
  ./target/debug/harness run --provider none --report-dir "$work/reports" "$work/passes.yaml" "$work/fails.yaml" >/dev/null || true
  page="$(ls -d "$work"/reports/*/index.html | head -n1)"
fi
mkdir -p "$(dirname "$out")"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${HARNESS_SCREEN_WIDTH:-1400},${HARNESS_SCREEN_HEIGHT:-1400}" \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$page")" >/dev/null 2>&1
echo "$out"
