# The fault agent: run as `sh -c "$AGENT" agent <action> <container-id> [args...]` in a process
# that shares the host's PID namespace (hostPID) with CAP_SYS_ADMIN, CAP_NET_ADMIN,
# CAP_SYS_PTRACE and CAP_KILL. It finds a container's processes by its ID in their cgroup, and
# acts from outside the container: signals PID 1 cannot ignore, routes in its network namespace.
# Works with busybox alone (the agent image) or a distribution's tools. Output: one fact a line.
set -u
action=$1; cid=$2; shift 2
case "$cid" in *[!0-9a-f]*|"") echo "error bad container id"; exit 2 ;; esac
pids() {
  for d in /proc/[0-9]*; do
    grep -qs "$cid" "$d/cgroup" && echo "${d#/proc/}"
  done
}
first() { pids | head -n 1; }
case "$action" in
  state)
    n=0
    for p in $(pids); do
      s=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$p/status" 2>/dev/null)
      [ -n "$s" ] && { echo "pid $p $s"; n=$((n + 1)); }
    done
    [ "$n" -gt 0 ] || echo "none"
    ;;
  signal)
    sig=$1; n=0
    for p in $(pids); do kill "-$sig" "$p" 2>/dev/null && n=$((n + 1)); done
    echo "signalled $n"
    ;;
  blackhole)
    op=$1; shift
    p=$(first); [ -n "$p" ] || { echo "none"; exit 1; }
    for ip in "$@"; do
      case "$ip" in *[!0-9a-fA-F.:]*|"") echo "error bad address"; exit 2 ;; esac
      if [ "$op" = add ]; then
        nsenter -t "$p" -n ip route replace blackhole "$ip" && echo "blackholed $ip"
      else
        nsenter -t "$p" -n ip route del blackhole "$ip" 2>/dev/null; echo "restored $ip"
      fi
    done
    ;;
  reach)
    ip=$1; port=$2
    case "$ip$port" in *[!0-9a-fA-F.:]*|"") echo "error bad address"; exit 2 ;; esac
    p=$(first); [ -n "$p" ] || { echo "none"; exit 1; }
    # busybox nc runs /bin/true once connected (exit 0; `-e` after the address, as its usage
    # says); openbsd nc has -z instead.
    if command -v busybox >/dev/null 2>&1; then
      probe() { nsenter -t "$p" -n busybox nc -w 2 "$ip" "$port" -e /bin/true; }
    else
      probe() { nsenter -t "$p" -n nc -z -w 2 "$ip" "$port"; }
    fi
    if probe </dev/null >/dev/null 2>&1; then
      echo "reach $ip $port yes"
    else
      echo "reach $ip $port no"
    fi
    ;;
  *) echo "error unknown action"; exit 2 ;;
esac
