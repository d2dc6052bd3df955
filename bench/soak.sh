#!/usr/bin/env bash
# Soak (issue 12): one release daemon under a steady mixed load for DURATION seconds, its memory
# and state sampled every INTERVAL seconds, to show whether they stay flat.
#
# Load: wrk (bench/lua/soak_mix.lua, CONNECTIONS connections) alternating lease grants and
# releases on one pin, every 10th grant with a 2 s TTL and no grace, left to expire; beside it
# (bench/soak_driver.py side) every second a pin + unpin of a second locked file, a page of 500
# released leases and a read of the newest 2,000 events. Sampled (bench/soak_driver.py sample):
# VmRSS, RssAnon, threads and CPU time of the daemon (/proc), the state DB and WAL sizes, lease
# counts and the last event sequence (GET /v1/status), and the rows in the events and leases
# tables. The table (a row every ROW_EVERY s) and the verdict on RssAnon over the last 4 minutes
# (the second half for runs under 5 minutes) go to BENCH_OUT.
#
# Usage (as root):  bench/soak.sh            (5 minutes and about 15 s of set-up)
#                   DURATION=60 bench/soak.sh (the short mode)
# Environment:      PINLEASED_BIN (default .build/release/pinleased), DURATION (300), INTERVAL (5),
#                   ROW_EVERY (30), CONNECTIONS (32), THREADS (2), EXTRA_ARGS (more pinleased flags),
#                   DAEMON_ENV (e.g. "MALLOC_ARENA_MAX=2", set for the daemon only),
#                   BENCH_OUT (bench/out/soak.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
DURATION="${DURATION:-300}"
INTERVAL="${INTERVAL:-5}"
ROW_EVERY="${ROW_EVERY:-30}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
EXTRA_ARGS="${EXTRA_ARGS:-}"
DAEMON_ENV="${DAEMON_ENV:-}"
OUT="${BENCH_OUT:-$REPO/bench/out/soak.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (chattr +i)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in wrk curl python3 chattr; do command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk)"; done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # enough descriptors for CONNECTIONS=1000
WORK="$(mktemp -d /var/tmp/pinlease-soak-bench.XXXXXX)"
SIDE_PID=""
WRK_PID=""
cleanup() {
  set +e
  for pid in $WRK_PID $SIDE_PID; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  stop_pinleased
  chattr -R -i "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/data"
head -c 1048576 /dev/urandom >"$WORK/data/leased.bin"
head -c 1048576 /dev/urandom >"$WORK/data/pinned.bin"
sync "$WORK/data"/*.bin
# DAEMON_ENV goes to the daemon only, through a wrapper that execs it (so $DAEMON_PID is the daemon).
BIN_ORIG="$BIN"
if [ -n "$DAEMON_ENV" ]; then
  printf '#!/bin/sh\nexec env %s "%s" "$@"\n' "$DAEMON_ENV" "$BIN_ORIG" >"$WORK/daemon.sh"
  chmod 0755 "$WORK/daemon.sh"
  BIN="$WORK/daemon.sh"
fi
# shellcheck disable=SC2086
start_pinleased --root "bench=$WORK/data" --log-level error $EXTRA_ARGS
expect_status 200 POST /v1/files/lock-immutable '{"path":"leased.bin"}'
expect_status 200 POST /v1/files/lock-immutable '{"path":"pinned.bin"}'
expect_status 201 POST /v1/pins '{"path":"leased.bin","access":"read"}'
PIN_ID="$(json_get id)"
export PIN_ID TOKEN

LOAD_BEFORE="$(cut -d" " -f1-3 /proc/loadavg)"
echo "soak: ${DURATION} s, wrk -t$THREADS -c$CONNECTIONS, sampled every ${INTERVAL} s (pinleased $DAEMON_PID)" >&2
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$REPO/bench/lua/soak_mix.lua" "$API/v1/leases" \
  >"$WORK/wrk.txt" &
WRK_PID=$!
python3 "$REPO/bench/soak_driver.py" side "$API" "$TOKEN" pinned.bin "$DURATION" >"$WORK/side.txt" &
SIDE_PID=$!
python3 "$REPO/bench/soak_driver.py" sample "$DAEMON_PID" "$API" "$TOKEN" "$WORK/state" "$DURATION" "$INTERVAL" \
  "$WORK/samples.tsv"
wait "$WRK_PID" || die "wrk failed: $(cat "$WORK/wrk.txt")"
WRK_PID=""
wait "$SIDE_PID" || die "the side load failed: $(cat "$WORK/side.txt")"
SIDE_PID=""
kill -0 "$DAEMON_PID" 2>/dev/null || die "pinleased exited: $(tail -5 "$WORK/pinleased.log")"

RPS="$(sed -n 's/^Requests\/sec: *//p' "$WORK/wrk.txt")"
NON2XX="$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$WORK/wrk.txt")"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/samples.tsv" "${OUT%.md}.tsv"
TITLE="Soak: ${DURATION} s, wrk -t$THREADS -c$CONNECTIONS grant+release (every 10th grant expires, 2 s TTL) at \
${RPS:-?} requests/s (non-2xx: ${NON2XX:-0}), a pin+unpin, a page of 500 ended leases and the newest 2,000 events \
read every second ($(cat "$WORK/side.txt")); kernel $(uname -r), $(nproc) CPUs, load average before: $LOAD_BEFORE${DAEMON_ENV:+; daemon env $DAEMON_ENV}\
${EXTRA_ARGS:+; flags $EXTRA_ARGS}."
python3 "$REPO/bench/soak_driver.py" report "$WORK/samples.tsv" "$ROW_EVERY" "$OUT" "$TITLE"
cat "$OUT"
echo "(table also in $OUT, samples in ${OUT%.md}.tsv)" >&2
