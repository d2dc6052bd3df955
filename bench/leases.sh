#!/usr/bin/env bash
# Benchmark: lease grants through pinleased against etcd 3.4 lease grants (`POST /v3/lease/grant`
# on its JSON gateway, Debian's etcd-server), on loopback, in one run, side by side, with wrk at
# each connection count of CONNECTION_SET (32 and 256). Rows:
#   - grant-only: pinleased `POST /v1/leases` on one pin (bench/lua/lease_grants.lua) against
#     etcd grants (bench/lua/etcd_grant.lua): like for like;
#   - round trips: pinleased grant + release (bench/lua/lease_round_trips.lua: every
#     connection alternates between granting a lease and releasing one granted before, so a
#     round trip is two requests) against the same etcd grants.
# Both keep their state on the same disk (/var/tmp): pinleased answers a grant only once it is
# durable (SQLite, synchronous=FULL, group commit), etcd once its WAL is fsynced.
# Every pinleased run gets a fresh daemon (its own state and locked file), so grant-only runs
# do not pile leases up from one run to the next; etcd starts each run on an empty data directory.
# CPU per request is the server's utime+stime (/proc/PID/stat) over the run divided by its
# requests: steadier than requests/s on a shared machine.
#
# Usage (as root):  bench/leases.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), REPS (3), DURATION (10 s),
#                   CONNECTION_SET ("32 256"), THREADS (2), BENCH_OUT (bench/out/leases.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
REPS="${REPS:-3}"
DURATION="${DURATION:-10}"
CONNECTION_SET="${CONNECTION_SET:-${CONNECTIONS:-32 256}}"
THREADS="${THREADS:-2}"
OUT="${BENCH_OUT:-$REPO/bench/out/leases.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (chattr +i)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in wrk etcd curl python3 chattr; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk etcd-server)"
done
ulimit -n 65536 2>/dev/null || true

WORK="$(mktemp -d /var/tmp/pinlease-leases-bench.XXXXXX)"
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

start_etcd "$WORK/etcd"


# cpu_ticks PID : utime + stime of the process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
# run_wrk NAME CONNECTIONS SERVER_PID SCRIPT URL : one timed run, appended to $RESULTS.
run_wrk() {
  local name="$1" conns="$2" pid="$3" script="$4" url="$5" out="$WORK/wrk-$1-$2.txt" before after
  before="$(cpu_ticks "$pid")"
  wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency -s "$REPO/bench/lua/$script" "$url" >"$out"
  after="$(cpu_ticks "$pid")"
  python3 - "$name" "$conns" "$out" "$((after - before))" "$(getconf CLK_TCK)" >>"$RESULTS" <<'PY'
import re, sys
name, conns, path, ticks, hz = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
text = open(path).read()
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket_errors = sum(int(x) for x in errors.groups()) if errors else 0
cpu_us = ticks / hz * 1e6 / max(total, 1)
print(f"{name}\t{conns}\t{rps}\t{ms('50')}\t{ms('99')}\t{int(bad.group(1)) if bad else 0}\t{socket_errors}\t{cpu_us}")
PY
  echo "bench: $(tail -1 "$RESULTS")" >&2
}

# One pinleased run on a fresh daemon, warmed up with round trips first.
run_pinleased() { # run_pinleased NAME CONNECTIONS SCRIPT
  RUN=$((RUN + 1))
  start_pinned_daemon "run$RUN"
  wrk -t1 -c4 -d2s -s "$REPO/bench/lua/lease_round_trips.lua" "$API/v1/leases" >/dev/null
  run_wrk "$1" "$2" "$DAEMON_PID" "$3" "$API/v1/leases"
}
# etcd too starts each run empty (its grants of earlier runs would still be live: TTL 300 s).
run_etcd() {
  stop_etcd
  rm -rf "$WORK/etcd"
  start_etcd "$WORK/etcd"
  wrk -t1 -c4 -d2s -s "$REPO/bench/lua/etcd_grant.lua" "$ETCD/v3/lease/grant" >/dev/null
  run_wrk etcd "$1" "$ETCD_PID" etcd_grant.lua "$ETCD/v3/lease/grant"
}

RUN=0
started=$SECONDS
wrk -t1 -c4 -d2s -s "$REPO/bench/lua/etcd_grant.lua" "$ETCD/v3/lease/grant" >/dev/null
# The order alternates between repetitions, so the machine's load falls on all rows alike.
for rep in $(seq 1 "$REPS"); do
  for conns in $CONNECTION_SET; do
    if [ $((rep % 2)) = 1 ]; then
      run_etcd "$conns"
      run_pinleased grants "$conns" lease_grants.lua
      run_pinleased round-trips "$conns" lease_round_trips.lua
    else
      run_pinleased round-trips "$conns" lease_round_trips.lua
      run_pinleased grants "$conns" lease_grants.lua
      run_etcd "$conns"
    fi
  done
done
stop_pinleased
echo "bench: took $((SECONDS - started)) s" >&2

mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$REPS" "$DURATION" "$THREADS" "$ETCD_VERSION" "$(uname -r)" "$(nproc)" >"$OUT" <<'PY'
import statistics, sys
path, reps, duration, threads, etcd, kernel, cpus = sys.argv[1:]
rows = {}
for line in open(path):
    name, conns, rps, p50, p99, bad, sock, cpu = line.rstrip("\n").split("\t")
    rows.setdefault((name, int(conns)), []).append(
        (float(rps), float(p50), float(p99), int(bad), int(sock), float(cpu)))
def med(key, i):
    return statistics.median(r[i] for r in rows[key])
def rng(key, i, fmt):
    values = [r[i] for r in rows[key]]
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"
def total(key, i):
    return sum(r[i] for r in rows[key])
print(f"Median (min–max) of {reps} runs of {duration} s per row, wrk -t{threads}, loopback, {cpus} CPUs shared by "
      f"wrk and the server, kernel {kernel}; {etcd}. Every pinleased grant and release is durable before it is "
      "answered (SQLite WAL, synchronous=FULL, group commit: one fdatasync per batch); etcd answers a grant once "
      "its WAL is fsynced. CPU/request: the server's user+system time over the run ÷ its requests.\n")
print("| connections | system | workload | requests/s | grants or round trips/s | p50 (ms) | p99 (ms) "
      "| non-2xx | socket errors | CPU/request (µs) |")
print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
verdicts = []
conn_set = sorted({c for (_, c) in rows})
for c in conn_set:
    g, rt, et = ("grants", c), ("round-trips", c), ("etcd", c)
    for key, system, workload, unit in (
            (g, "pinleased", "POST /v1/leases on one pin", 1),
            (rt, "pinleased", "grant + release (2 requests)", 2),
            (et, "etcd", "POST /v3/lease/grant", 1)):
        if key not in rows:
            continue
        print(f"| {c} | {system} | {workload} | {rng(key, 0, '{:.0f}')} | {med(key, 0) / unit:.0f} "
              f"| {rng(key, 1, '{:.2f}')} | {rng(key, 2, '{:.2f}')} | {total(key, 3)} | {total(key, 4)} "
              f"| {rng(key, 5, '{:.0f}')} |")
    if et not in rows:
        continue
    for key, label, unit, target in ((g, "grants/s ÷ etcd grants/s", 1, 3.0),
                                     (rt, "round trips/s ÷ etcd grants/s", 2, 1.5)):
        if key not in rows:
            continue
        ratio = med(key, 0) / unit / med(et, 0)
        p99_ok = med(key, 2) < med(et, 2)
        clean = total(key, 3) == 0 and total(key, 4) == 0
        verdicts.append(
            f"- {c} connections, {label} = {ratio:.2f} (target >= {target:g}: {'met' if ratio >= target else 'NOT met'}); "
            f"p99 {med(key, 2):.2f} ms vs etcd {med(et, 2):.2f} ms (target below etcd's: {'met' if p99_ok else 'NOT met'})"
            f"{'' if clean else '; errors or non-2xx answers: NOT clean'}; CPU per request "
            f"{med(key, 5):.0f} µs vs etcd {med(et, 5):.0f} µs.")
print()
print("\n".join(verdicts))
PY
cat "$OUT"
echo "(table also in $OUT)" >&2
