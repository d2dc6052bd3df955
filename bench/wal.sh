#!/usr/bin/env bash
# Benchmark: the size of the state database's write-ahead log (<state-dir>/pinlease.db-wal)
# under a lease grant + release load that never pauses (wrk, bench/lua/lease_round_trips.lua),
# and after the load stops. The log file is sampled every 0.2 s; reported: its largest size
# during the load, its size at the end of the load, and how long after the load it took to
# come down to 64 KiB or less (or "never" within IDLE seconds), with the database size.
#
# Usage (as root):  bench/wal.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), DURATION (30 s of load),
#                   IDLE (15 s of watching afterwards), CONNECTIONS (32), THREADS (2),
#                   BENCH_OUT (bench/out/wal.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
DURATION="${DURATION:-30}"
IDLE="${IDLE:-15}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
OUT="${BENCH_OUT:-$REPO/bench/out/wal.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (chattr +i)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in wrk curl python3 chattr; do command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk)"; done

WORK="$(mktemp -d /var/tmp/pinlease-wal-bench.XXXXXX)"
cleanup() {
  set +e
  stop_pinleased
  chattr -R -i "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/data"
head -c 1048576 /dev/urandom >"$WORK/data/a.bin"
sync "$WORK/data/a.bin"
start_pinleased --root "bench=$WORK/data" --log-level warning
expect_status 200 POST /v1/files/lock-immutable '{"path":"a.bin"}'
expect_status 201 POST /v1/pins '{"path":"a.bin","access":"read"}'
PIN_ID="$(json_get id)"
export PIN_ID TOKEN

WAL="$WORK/state/pinlease.db-wal"
python3 - "$WAL" "$IDLE" "$WORK/state/pinlease.db" "$WORK/wrk.txt" "$DURATION" "$CONNECTIONS" "$BIN" "$THREADS" \
  "$REPO/bench/lua/lease_round_trips.lua" "$API/v1/leases" >"$WORK/result.md" <<'PY'
import os, re, subprocess, sys, time
wal, idle, db, wrk_out, duration, connections, binary, threads, script, url = sys.argv[1:]
def size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
with open(wrk_out, "w") as out:
    load = subprocess.Popen(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", script, url], stdout=out)
largest = 0
while load.poll() is None:
    largest = max(largest, size(wal))
    time.sleep(0.2)
at_end = size(wal)
stopped = time.monotonic()
shrunk = None
while time.monotonic() - stopped < float(idle):
    if size(wal) <= 64 * 1024:
        shrunk = time.monotonic() - stopped
        break
    time.sleep(0.2)
text = open(wrk_out).read() if os.path.exists(wrk_out) else ""
m = re.search(r"Requests/sec:\s+([\d.]+)", text)
rps = m.group(1) if m else "?"
mib = lambda n: f"{n / 1048576:.1f} MiB"
print(f"{duration} s of grant + release (wrk -c{connections}, {rps} requests/s), then {idle} s idle; {os.path.basename(binary)}.\n")
print("| WAL largest under load | WAL at end of load | WAL <= 64 KiB after the load | WAL after idle | database |")
print("|---:|---:|---:|---:|---:|")
print(f"| {mib(largest)} | {mib(at_end)} | {'after %.1f s' % shrunk if shrunk is not None else 'never (within %s s)' % idle} | "
      f"{size(wal)} B | {mib(size(db))} |")
PY
mkdir -p "$(dirname "$OUT")"
cp "$WORK/result.md" "$OUT"
cat "$OUT"
echo "(table also in $OUT)" >&2
