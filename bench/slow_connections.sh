#!/usr/bin/env bash
# Benchmark: GET /healthz while slow clients hold connections open (issue 8, item 5).
#
# SLOW (1,000) connections each send a request line and then one header line every
# INTERVAL (5 s), never finishing their headers; the daemon closes each after
# --request-receive-timeout-s (default 10 s) and the load opens it again at once, so about
# SLOW stay open for the whole run. Meanwhile a probe sends GET /healthz on a new connection
# over TCP, then over the --unix socket, every 20 ms for DURATION (25 s), with a 5 s client
# timeout (a timeout counts as a failed probe). A first run without slow connections gives
# the baseline. Target: /healthz p99 < 100 ms with the slow connections, on both sockets.
# The daemon's resident memory before and at the peak shows the cost of the connections.
#
# Usage (as root or not):  bench/slow_connections.sh
# Environment:             PINLEASED_BIN (default .build/release/pinleased), SLOW (1000),
#                          INTERVAL (5), DURATION (25), BENCH_OUT (bench/out/slow_connections.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
SLOW="${SLOW:-1000}"
INTERVAL="${INTERVAL:-5}"
DURATION="${DURATION:-25}"
OUT="${BENCH_OUT:-$REPO/bench/out/slow_connections.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in curl python3; do command -v "$tool" >/dev/null || die "$tool not found"; done
# The load holds SLOW sockets; the daemon raises its own soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((SLOW + 256)) ] || die "the descriptor limit $(ulimit -n) is too low for $SLOW connections"

WORK="$(mktemp -d /var/tmp/pinlease-slow-bench.XXXXXX)"
cleanup() {
  set +e
  stop_pinleased
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/data"
start_pinleased --root "bench=$WORK/data" --unix "$WORK/api.sock" --log-level warning
PORT="${API##*:}"

run_load() { python3 "$REPO/bench/slow_connections_driver.py" "$PORT" "$WORK/api.sock" "$1" "$INTERVAL" "$2" "$DAEMON_PID"; }

echo "baseline: /healthz without slow connections for 5 s"
BASELINE="$(run_load 0 5)"
echo "$BASELINE"
echo "$SLOW slow connections, a header line every ${INTERVAL}s, /healthz probed for ${DURATION}s"
LOADED="$(run_load "$SLOW" "$DURATION")"
echo "$LOADED"
kill -0 "$DAEMON_PID" 2>/dev/null || die "pinleased died during the run"

mkdir -p "$(dirname "$OUT")"
python3 - "$BASELINE" "$LOADED" "$(nproc)" >"$OUT" <<'EOF'
import json, sys
base, load, cores = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"`bench/slow_connections.sh`, {cores} cores, {load['slow']} slow connections (a header line every "
      f"{load['interval_s']:g} s, at least {load['slow_open_min']} open at any time, {load['slow_closed_by_server']} "
      f"closed by the daemon's receive limit), /healthz on a new connection every 20 ms for {load['duration_s']:g} s.\n")
print("| load | socket | probes | failed | p50 (ms) | p99 (ms) | max (ms) | target | met | daemon RSS |")
print("|---|---|---:|---:|---:|---:|---:|---|---|---:|")
for name, run in (("none (baseline)", base), (f"{load['slow']} slow connections", load)):
    rss = f"{run['rss_peak_kib'] / 1024:.1f} MiB"
    for socket_name in ("tcp", "unix"):
        s = run[socket_name]
        target = "p99 < 100 ms" if run is load else ""
        met = ("yes" if s["failed"] == 0 and s["p99_ms"] is not None and s["p99_ms"] < 100 else "NO") if run is load else ""
        print(f"| {name} | {socket_name} | {s['probes']} | {s['failed']} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} | {target} | {met} | {rss} |")
EOF
cat "$OUT"
