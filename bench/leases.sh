#!/usr/bin/env bash
# Benchmark: lease grant + release round trips through pinleased against etcd 3.4 lease grants
# (`POST /v3/lease/grant` on its JSON gateway, Debian's etcd-server), on loopback, in one run,
# side by side, with wrk at 32 connections. Both keep their state on the same disk
# (/var/tmp): pinleased answers a grant only once it is durable (SQLite, synchronous=FULL,
# group commit), etcd once its WAL is fsynced.
#
# pinleased is driven by bench/lua/lease_round_trips.lua: every connection alternates between
# granting a lease on one pin and releasing a lease granted before, so a "round trip" is two
# requests. etcd gets grants only (bench/lua/etcd_grant.lua), as the issue asks.
#
# Usage (as root):  bench/leases.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), REPS (3), DURATION (10 s),
#                   CONNECTIONS (32), THREADS (2), BENCH_OUT (bench/out/leases.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
REPS="${REPS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
OUT="${BENCH_OUT:-$REPO/bench/out/leases.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (chattr +i)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in wrk etcd curl python3 chattr; do command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk etcd-server)"; done

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

# -- etcd ------------------------------------------------------------------------------
start_etcd "$WORK/etcd"

# -- pinleased: one locked file, one pin ------------------------------------------------
mkdir -p "$WORK/data"
head -c 1048576 /dev/urandom >"$WORK/data/a.bin"
sync "$WORK/data/a.bin"
start_pinleased --root "bench=$WORK/data" --log-level warning
expect_status 200 POST /v1/files/lock-immutable '{"path":"a.bin"}'
expect_status 201 POST /v1/pins '{"path":"a.bin","access":"read"}'
PIN_ID="$(json_get id)"
export PIN_ID TOKEN

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
run_wrk() { # run_wrk NAME SCRIPT URL
  local name="$1" script="$2" url="$3" out="$WORK/wrk-$1.txt"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$REPO/bench/lua/$script" "$url" >"$out"
  python3 - "$name" "$out" >>"$RESULTS" <<'PY'
import re, sys
name, path = sys.argv[1], sys.argv[2]
text = open(path).read()
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket_errors = sum(int(x) for x in errors.groups()) if errors else 0
print(f"{name}\t{rps}\t{ms('50')}\t{ms('99')}\t{int(bad.group(1)) if bad else 0}\t{socket_errors}")
PY
  echo "bench: $(tail -1 "$RESULTS")" >&2
}

# Warm both up, then alternate the order between repetitions.
wrk -t1 -c4 -d2s -s "$REPO/bench/lua/etcd_grant.lua" "$ETCD/v3/lease/grant" >/dev/null
wrk -t1 -c4 -d2s -s "$REPO/bench/lua/lease_round_trips.lua" "$API/v1/leases" >/dev/null
for rep in $(seq 1 "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then
    run_wrk etcd etcd_grant.lua "$ETCD/v3/lease/grant"
    run_wrk pinlease lease_round_trips.lua "$API/v1/leases"
  else
    run_wrk pinlease lease_round_trips.lua "$API/v1/leases"
    run_wrk etcd etcd_grant.lua "$ETCD/v3/lease/grant"
  fi
done

mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$REPS" "$DURATION" "$CONNECTIONS" "$THREADS" "$ETCD_VERSION" "$(uname -r)" >"$OUT" <<'PY'
import statistics, sys
path, reps, duration, connections, threads, etcd, kernel = sys.argv[1:]
rows = {}
for line in open(path):
    name, rps, p50, p99, bad, sock = line.split("\t")
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99), int(bad), int(sock)))
def med(name, i):
    return statistics.median(r[i] for r in rows[name])
def rng(name, i, fmt):
    values = [r[i] for r in rows[name]]
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"
print(f"Median (min–max) of {reps} runs of {duration} s, wrk -t{threads} -c{connections}, loopback, kernel {kernel}; {etcd}.\n")
print("| system | workload | requests/s | round trips/s | p50 latency (ms) | p99 latency (ms) | non-2xx | socket errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
pl, et = "pinlease", "etcd"
print(f"| pinleased | grant + release on one pin | {rng(pl, 0, '{:.0f}')} | {med(pl, 0) / 2:.0f} | {rng(pl, 1, '{:.2f}')} | {rng(pl, 2, '{:.2f}')} | {sum(r[3] for r in rows[pl])} | {sum(r[4] for r in rows[pl])} |")
print(f"| etcd | POST /v3/lease/grant | {rng(et, 0, '{:.0f}')} | {med(et, 0):.0f} (grants) | {rng(et, 1, '{:.2f}')} | {rng(et, 2, '{:.2f}')} | {sum(r[3] for r in rows[et])} | {sum(r[4] for r in rows[et])} |")
ratio = (med(pl, 0) / 2) / med(et, 0)
p99_ok = med(pl, 2) < med(et, 2)
print()
print(f"pinlease round trips/s ÷ etcd grants/s = {ratio:.2f} (target >= 3: {'met' if ratio >= 3 else 'NOT met'}); "
      f"p99 {med(pl, 2):.2f} ms vs etcd {med(et, 2):.2f} ms (target below etcd: {'met' if p99_ok else 'NOT met'}).")
PY
cat "$OUT"
echo "(table also in $OUT)" >&2
