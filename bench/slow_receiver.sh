#!/usr/bin/env bash
# Benchmark (issue 8, item 4): one receiver that never answers must not delay another holder's
# notices. N leases whose webhook points at bench/hanging_receiver.py (accepts, never answers)
# are revoked with grace 60 s; while their lease.revoking webhooks hang (each attempt bounded by
# --webhook-timeout-s 30) and are retried, M leases of a healthy holder (bench/webhook_sink.py,
# another origin) are granted and revoked one after another, and the time from each revoke
# call to the arrival of its lease.revoking is measured. Also reported: how many connections
# the hanging receiver got (at most --webhook-max-per-origin, default 8, at a time).
#
# Usage (as root):  bench/slow_receiver.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), HANGING (200 leases),
#                   HEALTHY (50 revocations), BENCH_OUT (bench/out/slow_receiver.md),
#                   EXTRA_ARGS (more daemon flags, e.g. "--webhook-max-per-origin 64")
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
HANGING="${HANGING:-200}"
HEALTHY="${HEALTHY:-50}"
OUT="${BENCH_OUT:-$REPO/bench/out/slow_receiver.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in curl python3; do command -v "$tool" >/dev/null || die "$tool not found"; done

WORK="$(mktemp -d /var/tmp/pinlease-slow-receiver-bench.XXXXXX)"
SINK_PID=""
HANG_PID=""
cleanup() {
  set +e
  stop_pinleased
  for pid in "$SINK_PID" "$HANG_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null; fi
  done
  chattr -R -i "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SINK_PORT="$(free_port)"
python3 "$REPO/bench/webhook_sink.py" "$SINK_PORT" "$WORK/received.tsv" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
HANG_PORT="$(free_port)"
python3 "$REPO/bench/hanging_receiver.py" "$HANG_PORT" "$WORK/hanging.count" >"$WORK/hang.log" 2>&1 &
HANG_PID=$!
for _ in $(seq 1 50); do grep -q ready "$WORK/sink.log" 2>/dev/null && grep -q ready "$WORK/hang.log" 2>/dev/null && break; sleep 0.1; done
HEALTHY_HOOK="http://127.0.0.1:$SINK_PORT/hook"
HANGING_HOOK="http://127.0.0.1:$HANG_PORT/hook"

mkdir -p "$WORK/data"
head -c 1048576 /dev/urandom >"$WORK/data/a.bin"
sync "$WORK/data/a.bin"
# shellcheck disable=SC2086
start_pinleased --root "bench=$WORK/data" --webhook-allow "http://127.0.0.1:$SINK_PORT/" \
  --webhook-allow "http://127.0.0.1:$HANG_PORT/" --webhook-timeout-s 30 --log-level error ${EXTRA_ARGS:-}
expect_status 200 POST /v1/files/lock-immutable '{"path":"a.bin"}'
expect_status 201 POST /v1/pins '{"path":"a.bin","access":"read"}'
PIN_ID="$(json_get id)"
export API TOKEN

echo "bench: $HANGING leases on the hanging receiver, revoked with grace 60 s" >&2
python3 "$REPO/bench/revoke_driver.py" grant "$HANGING" "$PIN_ID" "$HANGING_HOOK" "$WORK/hanging.txt"
python3 "$REPO/bench/revoke_driver.py" revoke 60 "$WORK/hanging.txt"
echo "bench: $HEALTHY revocations of a healthy holder meanwhile" >&2
python3 "$REPO/bench/revoke_driver.py" latency "$HEALTHY" "$PIN_ID" "$HEALTHY_HOOK" "$WORK/latency.tsv"
for _ in $(seq 1 900); do
  [ "$(curl -s "http://127.0.0.1:$SINK_PORT/count/lease.revoking")" -ge "$HEALTHY" ] && break
  sleep 0.1
done
kill -USR1 "$HANG_PID"
sleep 0.2
stop_pinleased
kill -TERM "$SINK_PID"
wait "$SINK_PID" 2>/dev/null || true
SINK_PID=""

mkdir -p "$(dirname "$OUT")"
python3 - "$WORK" "$HANGING" "$HEALTHY" "$(uname -r)" "${EXTRA_ARGS:-}" >"$OUT" <<'PY'
import sys
work, hanging, healthy, kernel, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
arrivals = {}
for line in open(f"{work}/received.tsv"):
    at, lease, kind = line.rstrip("\n").split("\t")
    if kind == "lease.revoking":
        arrivals.setdefault(lease, int(at))
latencies = sorted((arrivals[l] - int(s)) / 1e6 for l, s in (line.split() for line in open(f"{work}/latency.tsv")) if l in arrivals)
accepted = open(f"{work}/hanging.count").read().strip()
def pct(p):
    return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))] if latencies else float("nan")
print(f"Kernel {kernel}; {hanging} leases on a receiver that never answers; daemon flags: --webhook-timeout-s 30 {extra}\n")
print("| measure | value |")
print("|---|---:|")
print(f"| healthy holder: revoke call → lease.revoking received, p50 ({len(latencies)} of {healthy} arrived) | {pct(50):.2f} ms |")
print(f"| same, p99 | {pct(99):.2f} ms |")
print(f"| same, max | {latencies[-1] if latencies else float('nan'):.2f} ms |")
print(f"| connections the hanging receiver accepted | {accepted} |")
PY
cat "$OUT"
echo "(table also in $OUT)" >&2
