#!/usr/bin/env bash
# Benchmark: does a grant cost more as live leases accumulate? Grant-only wrk runs
# (bench/lua/lease_grants.lua: POST /v1/leases on one pin, ttl_s 86400 so every lease stays
# live) against pinleased holding 0, 10k and 100k live leases (pre-filled with
# bench/lua/lease_fill.lua), with the daemon's RSS at each point; and the same grant-only wrk
# against etcd's lease grants (POST /v3/lease/grant, bench/lua/etcd_grant.lua) in the same run,
# for the ratio. Both keep their state on /var/tmp and answer only once durable.
#
# Every measured run starts a fresh daemon (own state directory, own locked file and pin),
# warms it up with grant + release round trips (which leave no live lease behind but the last
# few), fills it to the level and runs wrk once; the levels take turns, REPS times, with an
# etcd run after each round, so that a change in the machine's load falls on every level
# alike. A run itself adds leases (grants only): the table gives the live count at its start
# and end.
#
# Usage (as root):  bench/lease_scale.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), LEVELS ("0 10000 100000"),
#                   REPS (4), DURATION (3 s), CONNECTIONS (32), THREADS (2),
#                   BENCH_OUT (bench/out/lease_scale.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
LEVELS="${LEVELS:-0 10000 100000}"
REPS="${REPS:-4}"
DURATION="${DURATION:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
OUT="${BENCH_OUT:-$REPO/bench/out/lease_scale.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (chattr +i)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in wrk etcd curl python3 chattr; do command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk etcd-server)"; done

WORK="$(mktemp -d /var/tmp/pinlease-scale-bench.XXXXXX)"
ETCD_PID=""
cleanup() {
  set +e
  stop_pinleased
  stop_etcd
  chattr -R -i "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- etcd ------------------------------------------------------------------------------
start_etcd "$WORK/etcd"
wrk -t1 -c4 -d2s -s "$REPO/bench/lua/etcd_grant.lua" "$ETCD/v3/lease/grant" >/dev/null

rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
# cpu_ticks PID : user + system CPU time of a process so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# granted FILE : the 2xx answers of a wrk run (requests minus non-2xx).
granted() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(total - (int(bad.group(1)) if bad else 0))
PY
}

# fresh_pinleased NAME : a new daemon (state in $WORK/state) with one locked file and one pin,
# warmed up with 2 s of grant + release round trips; sets PIN_ID and LIVE.
fresh_pinleased() {
  start_pinned_daemon "$1"
  export THREADS
  # Each connection may leave its last grant unreleased.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$REPO/bench/lua/lease_round_trips.lua" "$API/v1/leases" >/dev/null
  LIVE=0
}

# fill TARGET : grants leases until about TARGET are live.
fill() {
  local want=$(($1 - LIVE)) started out="$WORK/fill-$1.txt" pid tries=0
  [ "$want" -gt 0 ] || return 0
  started=$SECONDS
  COUNT="$want" wrk -t"$THREADS" -c"$CONNECTIONS" -d600s -s "$REPO/bench/lua/lease_fill.lua" "$API/v1/leases" >"$out" &
  pid=$!
  # Each wrk thread stops once its share is granted, but wrk itself sleeps out -d: once only
  # its main thread is left, SIGINT makes it print its summary and exit.
  while [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -le 1 ] && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
  while [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -gt 1 ]; do sleep 0.2; done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  LIVE=$((LIVE + $(granted "$out")))
  echo "$1	$((SECONDS - started))" >>"$WORK/fills.tsv"
}

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
: >"$WORK/fills.tsv"
# measure NAME SCRIPT URL LEVEL : one grant-only run, one row in $RESULTS.
measure() {
  local name="$1" script="$2" url="$3" level="$4" out="$WORK/wrk.txt" before="$LIVE" rss_before="" rss="" pid="$ETCD_PID" ticks
  [ "$name" = pinleased ] && { pid="$DAEMON_PID"; rss_before="$(rss_mib "$pid")"; }
  ticks="$(cpu_ticks "$pid")"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$REPO/bench/lua/$script" "$url" >"$out"
  ticks=$(($(cpu_ticks "$pid") - ticks))
  if [ "$name" = pinleased ]; then
    LIVE=$((LIVE + $(granted "$out")))
    rss="$(rss_mib "$pid")"
  fi
  python3 - "$name" "$out" "$before" "$LIVE" "$rss_before" "$rss" "$level" "$ticks" "$(getconf CLK_TCK)" >>"$RESULTS" <<'PY'
import re, sys
name, path, before, after, rss_before, rss, level, ticks, hz = sys.argv[1:]
text = open(path).read()
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket_errors = sum(int(x) for x in errors.groups()) if errors else 0
total = int(re.search(r"(\d+) requests in", text).group(1))
cpu_us = int(ticks) / int(hz) * 1e6 / max(1, total)
print(f"{name}\t{before}\t{after}\t{rps}\t{ms('50')}\t{ms('99')}\t{int(bad.group(1)) if bad else 0}\t{socket_errors}\t{rss_before}\t{rss}\t{level}\t{cpu_us}")
PY
  echo "bench: $(tail -1 "$RESULTS")" >&2
}

for rep in $(seq 1 "$REPS"); do
  for level in $LEVELS; do
    fresh_pinleased "r$rep-l$level"
    fill "$level"
    measure pinleased lease_grants.lua "$API/v1/leases" "$level"
  done
  measure etcd etcd_grant.lua "$ETCD/v3/lease/grant" etcd
done
stop_pinleased

mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$WORK/fills.tsv" "$REPS" "$DURATION" "$CONNECTIONS" "$THREADS" "$ETCD_VERSION" "$(uname -r)" >"$OUT" <<'PY'
import statistics, sys
path, fills, reps, duration, connections, threads, etcd, kernel = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
pl = [r for r in rows if r[0] == "pinleased"]
et = [r for r in rows if r[0] == "etcd"]
levels = list(dict.fromkeys(r[10] for r in pl))
def med(values):
    return statistics.median(values)
def rng(values, fmt):
    return f"{fmt.format(med(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"
print(f"Median (min–max) of {reps} runs of {duration} s each, grants only, wrk -t{threads} -c{connections}, loopback, "
      f"kernel {kernel}; {etcd}. Each pinleased run on a fresh daemon filled to the level; the levels take turns.\n")
print("| system | live leases at start → end of a run | grants/s | CPU per grant (µs) | p50 (ms) | p99 (ms) | non-2xx | socket errors | RSS before → after (MiB) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for level in levels:
    rs = [r for r in pl if r[10] == level]
    live = f"{med(int(r[1]) for r in rs):,.0f} → {med(int(r[2]) for r in rs):,.0f}"
    rss = f"{med(int(r[8]) for r in rs):.0f} → {med(int(r[9]) for r in rs):.0f}"
    print(f"| pinleased | {live} | {rng([float(r[3]) for r in rs], '{:.0f}')} | {rng([float(r[11]) for r in rs], '{:.0f}')} | {rng([float(r[4]) for r in rs], '{:.2f}')} | "
          f"{rng([float(r[5]) for r in rs], '{:.2f}')} | {sum(int(r[6]) for r in rs)} | {sum(int(r[7]) for r in rs)} | {rss} |")
print(f"| etcd | (its own, growing) | {rng([float(r[3]) for r in et], '{:.0f}')} | {rng([float(r[11]) for r in et], '{:.0f}')} | {rng([float(r[4]) for r in et], '{:.2f}')} | "
      f"{rng([float(r[5]) for r in et], '{:.2f}')} | {sum(int(r[6]) for r in et)} | {sum(int(r[7]) for r in et)} | |")
medians = {level: med(float(r[3]) for r in pl if r[10] == level) for level in levels}
spread = (max(medians.values()) - min(medians.values())) / max(medians.values())
ratio = med(float(r[3]) for r in pl) / med(float(r[3]) for r in et)
print()
print(f"pinleased medians differ by {spread:.0%} of the highest (target within 20%: {'met' if spread <= 0.20 else 'NOT met'}); "
      f"median pinleased ÷ median etcd grants/s = {ratio:.2f}.")
fill_rows = [line.split("\t") for line in open(fills) if line.strip()]
if fill_rows:
    top = max(int(x[0]) for x in fill_rows)
    print(f"Filling a fresh daemon to {top:,} live leases took " + ", ".join(f"{int(s)} s" for level, s in fill_rows if int(level) == top)
          + " (wrk, same connections). CPU per grant: the daemon's user + system time during the run ÷ its grants.")
PY
cat "$OUT"
echo "(table also in $OUT)" >&2
