#!/usr/bin/env bash
# Benchmark: how fast a revocation reaches the holder. Two measures, in one run, against a
# real receiver on loopback (bench/webhook_sink.py: asyncio, keep-alive, answers 204 at once
# and timestamps every request as it arrives):
#
#   latency  N times in a row: grant a lease with a webhook, then `POST .../revoke`; the time
#            from the start of the revoke call to the arrival of its `lease.revoking` webhook.
#   storm    10,000 leases on one pin, all revoked at once by a violation (`chattr -i` on the
#            locked file, found by the audit, here every 50 ms); the time until the last of the
#            10,000 `lease.revoking` webhooks arrived, from `chattr` and from the violation's
#            detection (`detected_at` in GET /v1/files).
#
# Both clocks are the same machine's CLOCK_REALTIME. Targets (issue 4): latency p99 < 5 ms;
# storm < 2 s.
#
# Usage (as root):  bench/revoke.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), COUNT (latency
#                   revocations, 500), STORM (10000), BENCH_OUT (bench/out/revoke.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
COUNT="${COUNT:-500}"
STORM="${STORM:-10000}"
OUT="${BENCH_OUT:-$REPO/bench/out/revoke.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (chattr)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in curl python3 chattr; do command -v "$tool" >/dev/null || die "$tool not found"; done

WORK="$(mktemp -d /var/tmp/pinlease-revoke-bench.XXXXXX)"
SINK_PID=""
cleanup() {
  set +e
  stop_pinleased
  if [ -n "$SINK_PID" ] && kill -0 "$SINK_PID" 2>/dev/null; then kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null; fi
  chattr -R -i "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SINK_PORT="$(free_port)"
python3 "$REPO/bench/webhook_sink.py" "$SINK_PORT" "$WORK/received.tsv" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
for _ in $(seq 1 50); do grep -q ready "$WORK/sink.log" 2>/dev/null && break; sleep 0.1; done
HOOK="http://127.0.0.1:$SINK_PORT/hook"
count_received() { curl -s "http://127.0.0.1:$SINK_PORT/count/lease.revoking"; }

mkdir -p "$WORK/data"
head -c 1048576 /dev/urandom >"$WORK/data/a.bin"
sync "$WORK/data/a.bin"
start_pinleased --root "bench=$WORK/data" --webhook-allow "http://127.0.0.1:$SINK_PORT/" --audit-interval-ms 50 --log-level warning
expect_status 200 POST /v1/files/lock-immutable '{"path":"a.bin"}'
expect_status 201 POST /v1/pins '{"path":"a.bin","access":"read"}'
PIN_ID="$(json_get id)"
export API TOKEN

echo "bench: latency, $COUNT revocations in a row" >&2
python3 "$REPO/bench/revoke_driver.py" latency "$COUNT" "$PIN_ID" "$HOOK" "$WORK/latency.tsv"
for _ in $(seq 1 100); do [ "$(count_received)" -ge "$COUNT" ] && break; sleep 0.1; done

echo "bench: storm, granting $STORM leases" >&2
python3 "$REPO/bench/revoke_driver.py" grant "$STORM" "$PIN_ID" "$HOOK" "$WORK/storm.txt"
before="$(count_received)"
sleep 1
chattr_ns="$(date +%s%N)"
chattr -i "$WORK/data/a.bin"
# Poll gently: the arrival times come from the receiver, the polling only ends the wait.
for _ in $(seq 1 300); do [ "$(count_received)" -ge $((before + STORM)) ] && break; sleep 0.2; done
expect_status 200 GET /v1/files
python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))["items"][0].get("violation"); print(v["detected_at"] if v else "")' \
  "$WORK/answer.json" >"$WORK/detected.txt"

stop_pinleased
kill -TERM "$SINK_PID"
wait "$SINK_PID" 2>/dev/null || true
SINK_PID=""

mkdir -p "$(dirname "$OUT")"
python3 - "$WORK" "$chattr_ns" "$COUNT" "$STORM" "$(uname -r)" >"$OUT" <<'PY'
import statistics, sys
from datetime import datetime
work, chattr_ns, count, storm, kernel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
arrivals = {}
for line in open(f"{work}/received.tsv"):
    at, lease, kind = line.rstrip("\n").split("\t")
    if kind == "lease.revoking":
        arrivals.setdefault(lease, int(at))
latencies = []
for line in open(f"{work}/latency.tsv"):
    lease, started = line.split()
    if lease in arrivals:
        latencies.append((arrivals[lease] - int(started)) / 1e6)
latencies.sort()
def pct(p):
    return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]
storm_ids = [l.strip() for l in open(f"{work}/storm.txt") if l.strip()]
storm_arrivals = [arrivals[i] for i in storm_ids if i in arrivals]
detected_text = open(f"{work}/detected.txt").read().strip()
detected_ns = int(datetime.fromisoformat(detected_text.replace("Z", "+00:00")).timestamp() * 1e9) if detected_text else None
last = max(storm_arrivals) if storm_arrivals else None
print(f"Kernel {kernel}; receiver bench/webhook_sink.py on loopback; times are the receiver's arrival timestamps.\n")
print("| measure | value | target | met |")
print("|---|---:|---|---|")
p50, p99 = pct(50), pct(99)
print(f"| revoke call → lease.revoking received, p50 ({len(latencies)} of {count}) | {p50:.2f} ms | | |")
print(f"| same, p99 | {p99:.2f} ms | < 5 ms | {'yes' if p99 < 5 else 'NO'} |")
print(f"| same, max | {latencies[-1]:.2f} ms | | |")
if last is not None:
    from_chattr = (last - chattr_ns) / 1e9
    print(f"| storm: {len(storm_arrivals)} of {storm} lease.revoking received, last one after chattr -i | {from_chattr:.3f} s | | |")
    if detected_ns:
        from_detection = (last - detected_ns) / 1e9
        print(f"| storm: last one after the violation was detected | {from_detection:.3f} s | < 2 s | {'yes' if from_detection < 2 and len(storm_arrivals) == storm else 'NO'} |")
        print(f"| storm: detection after chattr -i (audit every 50 ms) | {(detected_ns - chattr_ns) / 1e6:.1f} ms | | |")
        first = min(storm_arrivals)
        print(f"| storm: first one after the violation was detected | {(first - detected_ns) / 1e6:.1f} ms | | |")
PY
cat "$OUT"
echo "(table also in $OUT)" >&2
