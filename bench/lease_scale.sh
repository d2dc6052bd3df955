#!/usr/bin/env bash
# Benchmark: does a grant cost more as live leases accumulate? Grant-only wrk runs
# (bench/lua/lease_grants.lua: POST /v1/leases on one pin, ttl_s 86400 so every lease stays
# live) against one pinleased at 0, 10k and 100k live leases (pre-filled with
# bench/lua/lease_fill.lua), with the daemon's RSS at each point; and the same grant-only wrk
# against etcd's lease grants (POST /v3/lease/grant, bench/lua/etcd_grant.lua) in the same run,
# for the ratio. Both keep their state on /var/tmp and answer only once durable.
#
# Each measured run itself adds leases (grants only): the table gives the live count at the
# start and the end of each run.
#
# Usage (as root):  bench/lease_scale.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), LEVELS ("0 10000 100000"),
#                   DURATION (3 s), CONNECTIONS (32), THREADS (2), BENCH_OUT (bench/out/lease_scale.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
LEVELS="${LEVELS:-0 10000 100000}"
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
  if [ -n "$ETCD_PID" ]; then kill -TERM "$ETCD_PID" 2>/dev/null; wait "$ETCD_PID" 2>/dev/null; fi
  chattr -R -i "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- etcd ------------------------------------------------------------------------------
EPORT="$(free_port)"
PPORT="$(free_port)"
etcd --name bench --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$EPORT" --advertise-client-urls "http://127.0.0.1:$EPORT" \
  --listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
  --initial-cluster "bench=http://127.0.0.1:$PPORT" >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
ETCD="http://127.0.0.1:$EPORT"
for _ in $(seq 1 100); do
  curl -sf -X POST "$ETCD/v3/lease/grant" -d '{"TTL":60}' >/dev/null 2>&1 && break
  kill -0 "$ETCD_PID" 2>/dev/null || { cat "$WORK/etcd.log" >&2; die "etcd exited"; }
  sleep 0.1
done
curl -sf -X POST "$ETCD/v3/lease/grant" -d '{"TTL":60}' | grep -q '"ID"' || die "etcd does not grant leases"
ETCD_VERSION="$(etcd --version | head -1)"

# -- pinleased: one locked file, one pin ------------------------------------------------
mkdir -p "$WORK/data"
head -c 1048576 /dev/urandom >"$WORK/data/a.bin"
sync "$WORK/data/a.bin"
start_pinleased --root "bench=$WORK/data" --log-level warning
expect_status 200 POST /v1/files/lock-immutable '{"path":"a.bin"}'
expect_status 201 POST /v1/pins '{"path":"a.bin","access":"read"}'
PIN_ID="$(json_get id)"
export PIN_ID TOKEN THREADS

rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
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

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
: >"$WORK/fills.txt"
LIVE=0
# measure NAME SCRIPT URL : one grant-only run, one row in $RESULTS.
measure() {
  local name="$1" script="$2" url="$3" out="$WORK/wrk-$1-$LIVE.txt" before="$LIVE" rss="" granted_now
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$REPO/bench/lua/$script" "$url" >"$out"
  if [ "$name" = pinleased ]; then
    granted_now="$(granted "$out")"
    LIVE=$((LIVE + granted_now))
    rss="$(rss_mib "$DAEMON_PID")"
  fi
  python3 - "$name" "$out" "$before" "$LIVE" "$rss" >>"$RESULTS" <<'PY'
import re, sys
name, path, before, after, rss = sys.argv[1:]
text = open(path).read()
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket_errors = sum(int(x) for x in errors.groups()) if errors else 0
print(f"{name}\t{before}\t{after}\t{rps}\t{ms('50')}\t{ms('99')}\t{int(bad.group(1)) if bad else 0}\t{socket_errors}\t{rss}")
PY
  echo "bench: $(tail -1 "$RESULTS")" >&2
}

# fill TARGET : grants leases until about TARGET are live.
fill() {
  local want=$(($1 - LIVE)) started out="$WORK/fill-$1.txt"
  [ "$want" -gt 0 ] || return 0
  started=$SECONDS
  COUNT="$want" wrk -t"$THREADS" -c"$CONNECTIONS" -d600s -s "$REPO/bench/lua/lease_fill.lua" "$API/v1/leases" >"$out"
  LIVE=$((LIVE + $(granted "$out")))
  echo "Filled to $LIVE live leases in $((SECONDS - started)) s ($want grants, wrk -c$CONNECTIONS), RSS then $(rss_mib "$DAEMON_PID") MiB." \
    | tee -a "$WORK/fills.txt" >&2
}

# Warm etcd up (its grants expire after 300 s; nothing of pinleased's is warmed, so its first
# row starts from 0 live leases).
wrk -t1 -c4 -d2s -s "$REPO/bench/lua/etcd_grant.lua" "$ETCD/v3/lease/grant" >/dev/null
RSS_START="$(rss_mib "$DAEMON_PID")"
for level in $LEVELS; do
  fill "$level"
  measure pinleased lease_grants.lua "$API/v1/leases"
  measure etcd etcd_grant.lua "$ETCD/v3/lease/grant"
done

mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$DURATION" "$CONNECTIONS" "$THREADS" "$ETCD_VERSION" "$(uname -r)" "$RSS_START" >"$OUT" <<'PY'
import statistics, sys
path, duration, connections, threads, etcd, kernel, rss_start = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
print(f"One {duration} s grant-only run per row, wrk -t{threads} -c{connections}, loopback, kernel {kernel}; {etcd}.")
print(f"pinleased RSS before the first grant: {rss_start} MiB.\n")
print("| system | live leases at start → end | grants/s | p50 (ms) | p99 (ms) | non-2xx | socket errors | pinleased RSS after (MiB) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
pl = [r for r in rows if r[0] == "pinleased"]
et = [r for r in rows if r[0] == "etcd"]
for r in rows:
    name, before, after, rps, p50, p99, bad, sock, rss = r
    live = f"{int(before):,} → {int(after):,}" if name == "pinleased" else "(its own)"
    print(f"| {name} | {live} | {float(rps):.0f} | {float(p50):.2f} | {float(p99):.2f} | {bad} | {sock} | {rss} |")
rates = [float(r[3]) for r in pl]
spread = (max(rates) - min(rates)) / max(rates)
ratio = statistics.median(rates) / statistics.median(float(r[3]) for r in et)
print()
print(f"pinleased grants/s: lowest {min(rates):.0f}, highest {max(rates):.0f}, spread {spread:.0%} of the highest "
      f"(target within 20%: {'met' if spread <= 0.20 else 'NOT met'}); median pinleased ÷ median etcd grants/s = {ratio:.2f}.")
PY
cat "$WORK/fills.txt" >>"$OUT"
cat "$OUT"
echo "(table also in $OUT)" >&2
