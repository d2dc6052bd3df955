#!/usr/bin/env bash
# Benchmark: connections and load (issue 12). Three phases against one daemon, on loopback:
#
# 1. load: CONNECTIONS (1,000) kept-alive connections, each doing lease grant + release round
#    trips (the requests of bench/lua/lease_round_trips.lua) for DURATION (25 s), driven by
#    bench/connload.c (compiled here with cc; wrk reports totals only, not per connection).
#    A connection is "starved" when a whole second of the run passes without one of its
#    requests completing (target: none). Meanwhile GET /healthz every 20 ms on a kept-alive
#    connection and on a new connection each time (target: p99 < 10 ms).
# 2. idle: IDLE (10,000) connections, each answered one GET /healthz and then held idle for
#    IDLE_SECONDS (15 s, under the 30 s idle timeout); meanwhile /healthz and grant + release
#    round trips every 20 ms on their own connections. The daemon's RSS and threads before,
#    while held, and after they are closed.
# 3. old limit (BASELINE=1): phase 1 for 10 s against a daemon started with --connection-limit
#    256, the limit of old, to show what starvation looks like in this table.
#
# The daemon's RSS at the start and end of each phase, its peak (VmHWM), its threads, and its
# CPU time (utime + stime) per request are recorded: the CPU time survives a loaded machine,
# the wall-clock figures do not.
#
# Usage (as root: lock-immutable needs chattr):  bench/connections.sh
# Environment:  PINLEASED_BIN (default .build/release/pinleased), CONNECTIONS (1000),
#               DURATION (25), IDLE (10000; 0 skips phase 2), IDLE_SECONDS (15), BASELINE (1),
#               DAEMON_ARGS (extra daemon options, e.g. "--threads 8"),
#               BENCH_OUT (bench/out/connections.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
CONNECTIONS="${CONNECTIONS:-1000}"
DURATION="${DURATION:-25}"
IDLE="${IDLE:-10000}"
IDLE_SECONDS="${IDLE_SECONDS:-15}"
BASELINE="${BASELINE:-1}"
DAEMON_ARGS="${DAEMON_ARGS:-}"
OUT="${BENCH_OUT:-$REPO/bench/out/connections.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (chattr +i, raising the descriptor limit)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in cc curl python3 chattr; do command -v "$tool" >/dev/null || die "$tool not found"; done
# Both the load generator and the daemon (which raises its soft limit to the hard one) hold
# every connection: room for IDLE of them plus the daemon's own reserve of descriptors.
NOFILE=$((IDLE + CONNECTIONS + 8192))
[ "$(ulimit -Hn)" -ge "$NOFILE" ] || ulimit -Hn "$NOFILE" || die "cannot raise the descriptor limit to $NOFILE"
ulimit -n "$(ulimit -Hn)"
PORTS=$(($(cut -f2 /proc/sys/net/ipv4/ip_local_port_range) - $(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)))
[ "$PORTS" -gt $((IDLE + CONNECTIONS)) ] || die "only $PORTS local ports for $IDLE connections"

WORK="$(mktemp -d /var/tmp/pinlease-connections-bench.XXXXXX)"
LOADPID=""
cleanup() {
  set +e
  [ -n "$LOADPID" ] && kill "$LOADPID" 2>/dev/null
  stop_pinleased
  chattr -R -i "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -Wall -pthread -o "$WORK/connload" "$REPO/bench/connload.c" || die "cannot build bench/connload.c"
mkdir -p "$WORK/data"
head -c 1048576 /dev/urandom >"$WORK/data/a.bin"
sync "$WORK/data/a.bin"

# stats : "rss_kib hwm_kib threads cpu_ticks" of the daemon.
stats() {
  local rss hwm threads cpu
  rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status")"
  hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status")"
  threads="$(awk '/^Threads:/ {print $2}' "/proc/$DAEMON_PID/status")"
  # utime + stime: fields 14 and 15, counted after the ")" that ends the command name.
  cpu="$(sed 's/.*) //' "/proc/$DAEMON_PID/stat" | awk '{print $12 + $13}')"
  echo "$rss $hwm $threads $cpu"
}

# start_daemon ARGS... : a fresh daemon (fresh state) with one locked file and one pin; sets PIN_ID.
start_daemon() {
  stop_pinleased
  chattr -R -i "$WORK/data" 2>/dev/null || true
  rm -rf "$WORK/state"
  # shellcheck disable=SC2086 # DAEMON_ARGS is a list of options
  start_pinleased --root "bench=$WORK/data" --log-level warning $DAEMON_ARGS "$@"
  expect_status 200 POST /v1/files/lock-immutable '{"path":"a.bin"}'
  expect_status 201 POST /v1/pins '{"path":"a.bin","access":"read"}'
  PIN_ID="$(json_get id)"
  PORT="${API##*:}"
}

# run_phase NAME MODE CONNECTIONS SECONDS : runs connload and appends its results (with the
# daemon's stats before and after) to $WORK/NAME.txt.
run_phase() {
  local name="$1" mode="$2" count="$3" seconds="$4" file="$WORK/$1.txt" loadpid
  echo "stats_before $(stats)" >"$file"
  "$WORK/connload" "$mode" 127.0.0.1 "$PORT" "$count" "$seconds" "$TOKEN" "$PIN_ID" >>"$file" &
  loadpid=$!
  LOADPID=$loadpid
  if [ "$mode" = idle ]; then
    # While the connections are held: once all were answered, the daemon's stats halfway through.
    for _ in $(seq 1 600); do
      grep -q '^open_seconds' "$file" && break
      kill -0 "$loadpid" 2>/dev/null || break
      sleep 0.1
    done
    sleep "$((seconds / 2))"
    echo "stats_held $(stats)" >>"$file"
  fi
  wait "$loadpid" || die "connload $mode failed"
  kill -0 "$DAEMON_PID" 2>/dev/null || die "pinleased died during $name"
  # The daemon notices the closed sockets (its descriptors drop); its memory upkeep gives freed
  # memory back at most every 10 s (MemoryUpkeep): its stats after the next one.
  for _ in $(seq 1 100); do [ "$(ls "/proc/$DAEMON_PID/fd" | wc -l)" -lt 200 ] && break; sleep 0.1; done
  sleep 11
  echo "stats_after $(stats)" >>"$file"
  local summary='^(requests_per_s|starved_connections|answered_first|closed_during|healthz_keepalive_p99) '
  echo "bench: $name: $(grep -E "$summary" "$file" | tr '\n' ' ')" >&2
}

echo "bench: $CONNECTIONS connections, grant + release round trips for ${DURATION}s" >&2
start_daemon
run_phase load load "$CONNECTIONS" "$DURATION"
if [ "$IDLE" -gt 0 ]; then
  echo "bench: $IDLE idle connections held for ${IDLE_SECONDS}s" >&2
  run_phase idle idle "$IDLE" "$IDLE_SECONDS"
fi
if [ "$BASELINE" = 1 ]; then
  echo "bench: the old limit: --connection-limit 256, $CONNECTIONS connections for 10 s" >&2
  start_daemon --connection-limit 256
  run_phase old load "$CONNECTIONS" 10
fi
grep -h "listening on" "$WORK/pinleased.log" >&2 || true

mkdir -p "$(dirname "$OUT")"
python3 - "$WORK" "$(nproc)" "$(uname -r)" "$DAEMON_ARGS" "$(uptime | sed 's/.*load average: //')" >"$OUT" <<'PY'
import os, sys
work, cores, kernel, daemon_args, load_average = sys.argv[1:]
tick = os.sysconf("SC_CLK_TCK")

def read(name):
    path = os.path.join(work, name + ".txt")
    if not os.path.exists(path):
        return None
    values, seconds = {}, []
    for line in open(path):
        key, _, rest = line.strip().partition(" ")
        if key == "second":
            seconds.append(tuple(int(x) for x in rest.split()[1:]))
        elif key.startswith("stats_"):
            values[key] = [int(x) for x in rest.split()]
        else:
            values[key] = rest
    values["seconds_rows"] = seconds
    return values

def mib(kib):
    return f"{kib / 1024:.0f}"

def lat(r, name):
    if int(r[name + "_count"]) == 0:
        return "none answered"
    return f"{float(r[name + '_p50']):.2f} / {float(r[name + '_p99']):.2f} / {float(r[name + '_max']):.1f}"

args = f", daemon options `{daemon_args}`" if daemon_args else ""
print(f"`bench/connections.sh`, {cores} cores, kernel {kernel}, loopback{args}; load average at the end: "
      f"{load_average}. Latencies in ms (p50 / p99 / max). A connection is starved when a whole second of the "
      "run passes without one of its requests completing.\n")
print("| run | connections | requests/s | daemon CPU µs/request | request latency | starved connections "
      "| per-connection requests/s (min / median / max) | longest wait between a connection's answers (ms) "
      "| /healthz kept alive | /healthz new connection | probe failures | non-2xx / errors | daemon RSS start → end "
      "(peak) MiB | daemon threads start → end |")
print("|---|---:|---:|---:|---|---:|---|---:|---|---|---:|---|---|---|")
for name, label in (("load", "grant + release round trips"), ("old", "same, `--connection-limit 256` (old)")):
    r = read(name)
    if r is None:
        continue
    before, after = r["stats_before"], r["stats_after"]
    requests = int(r["requests"])
    cpu_us = (after[3] - before[3]) / tick * 1e6 / requests if requests else float("nan")
    failures = int(r["healthz_keepalive_failures"]) + int(r["healthz_newconn_failures"])
    starved = int(r["starved_connections"])
    print(f"| {label}, {float(r['seconds']):.0f} s | {r['connections']} | {float(r['requests_per_s']):.0f} | "
          f"{cpu_us:.0f} | {lat(r, 'request')} | **{starved}** ({r['never_served']} never served) | "
          f"{float(r['per_conn_min_rps']):.1f} / {float(r['per_conn_median_rps']):.1f} / "
          f"{float(r['per_conn_max_rps']):.1f} | {float(r['max_gap_ms']):.0f} | {lat(r, 'healthz_keepalive')} | "
          f"{lat(r, 'healthz_newconn')} | {failures} | {r['non2xx']} / {r['errors']} | "
          f"{mib(before[0])} → {mib(after[0])} ({mib(after[1])}) | {before[2]} → {after[2]} |")
r = read("load")
target_starved = int(r["starved_connections"]) == 0
target_healthz = (float(r["healthz_keepalive_p99"]) < 10 and float(r["healthz_newconn_p99"]) < 10
                  and int(r["healthz_keepalive_failures"]) + int(r["healthz_newconn_failures"]) == 0)
print(f"\nTargets at {r['connections']} connections: none starved: {'met' if target_starved else 'NOT met'}; "
      f"/healthz p99 < 10 ms (and no probe failed): {'met' if target_healthz else 'NOT met'}.\n")

r = read("idle")
if r is None:
    sys.exit(0)
before, held, after = r["stats_before"], r["stats_held"], r["stats_after"]
print("| idle connections | answered one /healthz each | opened in (s) | closed by the daemon while held | "
      "/healthz while held | grant + release while held | probe failures | daemon RSS before → held → closed "
      "MiB | threads before → held → closed |")
print("|---:|---:|---:|---:|---|---|---:|---|---|")
print(f"| {r['connections']} | {r['answered_first']} | {float(r['open_seconds']):.1f} | {r['closed_during']} | "
      f"{lat(r, 'healthz_keepalive')} | {lat(r, 'grant_roundtrip')} | "
      f"{int(r['healthz_keepalive_failures']) + int(r['grant_roundtrip_failures'])} | "
      f"{mib(before[0])} → {mib(held[0])} → {mib(after[0])} | {before[2]} → {held[2]} → {after[2]} |")
PY
cat "$OUT"
echo "(table also in $OUT)" >&2
