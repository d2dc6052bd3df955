#!/usr/bin/env bash
# Benchmark: how the daemon's state scales (issue 12, "Scale of state"). One daemon holds
# FILES locked files (small prepared files on a loop-mounted ext4) and PIN_FILES x
# PINS_PER_FILE one-page pins; it is filled to each of LEVELS live leases in turn (long TTL,
# spread over every pin and HOLDERS holders by wrk + bench/lua/lease_spread.lua), and at each
# level the script measures:
#   - RSS of pinleased: VmRSS, RssAnon and RssFile from /proc/PID/status. The pinned pages are
#     file pages mapped MAP_SHARED, so they count in RssFile, never in RssAnon: RssAnon is the
#     "excluding pinned pages" figure (it also excludes the binary and its libraries);
#   - the state database and its WAL (sizes in the state directory);
#   - GET /v1/leases?holder=h7 (a holder with 1/HOLDERS of the leases) and GET /v1/status:
#     p50/p99 of LAT_REQUESTS sequential requests on one keep-alive connection (Python http.client);
#   - audit passes: pinlease_audit_pass_duration_seconds sum/count from GET /metrics before and
#     after an idle window of CPU_WINDOW_S seconds at the default --audit-interval-ms (1000), and
#     the daemon's CPU share over that window (utime + stime from /proc/PID/stat);
#   - recovery: kill -9, restart on the same state; seconds until /readyz answers 200, until
#     GET /v1/status counts every active lease, and until a full listing (limit 10000) has them;
#   - expiry at once: as many short-TTL leases again (grace_s 0, holders x0..), the daemon
#     stopped (SIGSTOP) until every one is past its expiry, then continued (SIGCONT): seconds
#     until GET /v1/status counts none of them active or revoking, and the daemon's CPU time then.
# Before the leases, the audit pass is also measured at 100 and 1,000 locked files (the
# curve over files). Every request goes to 127.0.0.1.
#
# Usage (as root):  bench/state_scale.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), LEVELS ("1000 10000 100000"),
#                   FILES (10000), FILE_KIB (64), PIN_FILES (100), PINS_PER_FILE (10),
#                   HOLDERS (100), LAT_REQUESTS (500), CPU_WINDOW_S (30), CONNECTIONS (32),
#                   THREADS (2), FS (ext4 or xfs), BENCH_OUT (bench/out/state_scale.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
LEVELS="${LEVELS:-1000 10000 100000}"
FILES="${FILES:-10000}"
FILE_KIB="${FILE_KIB:-64}"
PIN_FILES="${PIN_FILES:-100}"
PINS_PER_FILE="${PINS_PER_FILE:-10}"
HOLDERS="${HOLDERS:-100}"
LAT_REQUESTS="${LAT_REQUESTS:-500}"
CPU_WINDOW_S="${CPU_WINDOW_S:-30}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
FS="${FS:-ext4}"
OUT="${BENCH_OUT:-$REPO/bench/out/state_scale.md}"
DRIVER="$REPO/bench/state_scale_driver.py"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (loop mounts, chattr +i)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in wrk curl python3 chattr losetup "mkfs.$FS"; do command -v "$tool" >/dev/null || die "$tool not found"; done
[ "$PIN_FILES" -le "$FILES" ] || die "PIN_FILES must be at most FILES"
# One read lease (a descriptor) per locked file, plus connections: the daemon raises its soft
# limit to the hard one.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((FILES + 2000)) ] || die "descriptor limit $(ulimit -n) too low for $FILES locked files"

WORK="$(mktemp -d /var/tmp/pinlease-state-bench.XXXXXX)"
cleanup() {
  set +e
  [ -n "$DAEMON_PID" ] && kill -CONT "$DAEMON_PID" 2>/dev/null
  stop_pinleased
  unmount_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- the files: FILES small files on a fresh loop-mounted filesystem ----------------------
IMAGE_MIB=$((FILES * FILE_KIB * 3 / 2 / 1024 + 300))
truncate -s "${IMAGE_MIB}M" "$WORK/files.img"
LOOP="$(losetup --find --show "$WORK/files.img")"
LOOPS+=("$LOOP")
if [ "$FS" = ext4 ]; then mkfs.ext4 -q -F "$LOOP"; else mkfs.xfs -q -f "$LOOP"; fi
mkdir -p "$WORK/mnt"
mount "$LOOP" "$WORK/mnt"
MOUNTS+=("$WORK/mnt")
python3 - "$WORK/mnt" "$FILES" "$FILE_KIB" <<'PY'
import os, sys
root, files, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(kib * 1024)
for i in range(files):
    with open(os.path.join(root, f"f{i:05d}.bin"), "wb") as f:
        f.write(data)
PY
sync -f "$WORK/mnt/f00000.bin"

# -- helpers -------------------------------------------------------------------------------
HZ="$(getconf CLK_TCK)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# rss : VmRSS RssAnon RssFile of the daemon, in KiB.
rss() { awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s ", $2 }' "/proc/$DAEMON_PID/status"; }
# db_sizes : bytes of the state database and its WAL ("-" when absent).
db_sizes() {
  local db
  db="$(find "$WORK/state" -maxdepth 1 -name '*.db' -o -maxdepth 1 -name '*.sqlite' | head -1)"
  echo "$(stat -c %s "$db" 2>/dev/null || echo -) $(stat -c %s "$db-wal" 2>/dev/null || echo -)"
}
status_leases() { python3 "$DRIVER" status "$API" "$TOKEN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leases"])'; }

# idle_window SECONDS : audit passes (mean ms, count) and the daemon's CPU share (% of one core)
# over an idle window.
idle_window() {
  local before after ticks
  before="$(python3 "$DRIVER" audit "$API")"
  ticks="$(cpu_ticks "$DAEMON_PID")"
  sleep "$1"
  ticks=$(($(cpu_ticks "$DAEMON_PID") - ticks))
  after="$(python3 "$DRIVER" audit "$API")"
  python3 - "$before" "$after" "$ticks" "$HZ" "$1" <<'PY'
import sys
(s0, c0), (s1, c1) = (map(float, x.split("\t")) for x in sys.argv[1:3])
ticks, hz, seconds = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
passes = c1 - c0
mean = (s1 - s0) / passes * 1000 if passes else float("nan")
print(f"{mean:.2f}\t{passes:.0f}\t{ticks / hz / seconds * 100:.2f}")
PY
}

LIVE=0
# grant COUNT TTL PREFIX [GRACE] : grants COUNT leases over every pin with wrk; prints
# "granted seconds" (wrk's own duration of the run).
grant() {
  local count="$1" out="$WORK/grant.txt" pid
  PIN_FILE="$WORK/pins.txt" COUNT="$count" TTL_S="$2" HOLDER_PREFIX="$3" GRACE_S="${4:-}" HOLDERS="$HOLDERS" \
    THREADS="$THREADS" TOKEN="$TOKEN" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d600s -s "$REPO/bench/lua/lease_spread.lua" "$API/v1/leases" >"$out" &
  pid=$!
  # Each wrk thread stops once its share is granted, but wrk itself sleeps out -d: once only its
  # main thread is left, SIGINT makes it print its summary and exit (as bench/lease_scale.sh).
  # The threads start within milliseconds; should they not have by then, the caller sees fewer
  # grants than asked for.
  sleep 0.1
  while [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -gt 1 ]; do sleep 0.1; done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  python3 - "$out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
seconds = float(found.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[found.group(3)]
print(int(re.search(r"GRANTED (\d+)", text).group(1)), f"{seconds:.2f}")
PY
}

DAEMON_ARGS=(--root "bench=$WORK/mnt" --log-level warning --ttl-min-s 1)

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
row() { printf '%s\t' "$@" >>"$RESULTS"; echo >>"$RESULTS"; echo "bench: $*" >&2; }

# -- the audit over locked files: 100, 1,000, FILES -----------------------------------------
start_pinleased "${DAEMON_ARGS[@]}"
locked=0
for files in 100 1000 "$FILES"; do
  [ "$files" -le "$FILES" ] && [ "$files" -gt "$locked" ] || continue
  took="$(python3 "$DRIVER" lock "$API" "$TOKEN" "$locked" "$files")"
  locked="$files"
  window=10
  [ "$files" = "$FILES" ] && window="$CPU_WINDOW_S"
  row audit "$files" "$took" "$(idle_window "$window")" "$(rss)"
done
python3 "$DRIVER" pins "$API" "$TOKEN" "$PIN_FILES" "$PINS_PER_FILE" "$WORK/pins.txt" >/dev/null
PINS="$(wc -l <"$WORK/pins.txt")"
row pinned "$PINS" "$(rss)" "$(db_sizes)"

# -- the levels --------------------------------------------------------------------------
# active_leases : the active count of GET /v1/status.
active_leases() { status_leases | python3 -c 'import ast, sys; print(ast.literal_eval(sys.stdin.read())["active"])'; }
rate=3000
for level in $LEVELS; do
  # wrk may lose a grant's answer now and then (the lease is granted or not): top up.
  granted=0 took=0
  for _ in 1 2 3; do
    [ "$LIVE" -lt "$level" ] || break
    read -r n t <<<"$(grant $((level - LIVE)) 86400 h)"
    granted=$((granted + n)) took="$(python3 -c "print($took + $t)")"
    LIVE="$(active_leases)"
  done
  [ "$LIVE" -ge "$level" ] || die "after the grants: $(status_leases), expected $level active"
  [ "$granted" -gt 0 ] && rate="$(python3 -c "print(max(500, int($granted / max($took, 0.1))))")"
  row fill "$level" "$LIVE" "$granted" "$took" "$(rss)" "$(db_sizes)"
  figures="$(python3 "$DRIVER" latency "$API" "$TOKEN" "/v1/leases?holder=h7" "$LAT_REQUESTS")"
  row holder "$level" "$figures"
  figures="$(python3 "$DRIVER" latency "$API" "$TOKEN" /v1/status $((LAT_REQUESTS * 2)))"
  row status "$level" "$figures"
  figures="$(idle_window "$CPU_WINDOW_S")"
  row idle "$level" "$figures" "$(rss)" "$(db_sizes)"

  # Recovery after kill -9 on the same state (a new port: the old one may linger).
  kill -KILL "$DAEMON_PID"
  wait "$DAEMON_PID" 2>/dev/null || true
  port="$(free_port)"
  API="http://127.0.0.1:$port"
  started="$(date +%s.%N)"
  "$BIN" --listen "127.0.0.1:$port" --state-dir "$WORK/state" "${DAEMON_ARGS[@]}" >>"$WORK/pinleased.log" 2>&1 &
  DAEMON_PID=$!
  figures="$(python3 "$DRIVER" recover "$API" "$TOKEN" "$started" "$LIVE" 600 "$DAEMON_PID")"
  row recover "$level" "$figures" "$(rss)" "$(db_sizes)"
  [ "$(active_leases)" = "$LIVE" ] || die "after the restart: $(status_leases), expected $LIVE active"

  # Expiry of `level` leases at once: a TTL longer than granting them takes, then the daemon
  # stopped until every one is due.
  ttl="$(python3 -c "print(int($level / $rate * 1.5) + 5)")"
  read -r short took <<<"$(grant "$level" "$ttl" x 0)"
  if [ "$short" -lt "$level" ]; then
    read -r n t <<<"$(grant $((level - short)) "$ttl" x 0)"
    short=$((short + n)) took="$(python3 -c "print($took + $t)")"
  fi
  before="$(status_leases)"
  kill -STOP "$DAEMON_PID"
  # The last grant was answered just now, so its expiry is at most TTL from now: only after
  # that is every lease due at once (sleeping TTL - grant time only covered the first grants,
  # and the rest then expired one by one in real time: the "expiry" measured the grant time).
  sleep "$(python3 -c "print($ttl + 1.5)")"
  ticks="$(cpu_ticks "$DAEMON_PID")"
  started="$(date +%s.%N)"
  kill -CONT "$DAEMON_PID"
  ended="$(python3 "$DRIVER" wait-ended "$API" "$TOKEN" "$LIVE" "$started" 600)"
  # The daemon's CPU seconds from SIGCONT until all ended (a figure that survives a loaded machine).
  ticks="$(python3 -c "print(f'{($(cpu_ticks "$DAEMON_PID") - $ticks) / $HZ:.2f}')")"
  row expiry "$level" "$short" "$ttl" "$took" "$before" "$ended" "$(rss)" "$(db_sizes)" "$ticks"
done
started="$(date +%s.%N)"
stop_pinleased
row stop "$LIVE" "$(python3 -c "print(f'{$(date +%s.%N) - $started:.2f}')")"
grep -v '^$' "$WORK/pinleased.log" | tail -5 | sed 's/^/pinleased log: /' >&2 || true

mkdir -p "$(dirname "$OUT")"
cp "$RESULTS" "${OUT%.md}.tsv"
python3 "$REPO/bench/state_scale_report.py" "$RESULTS" "$FS" "$FILE_KIB" "$PINS" "$HOLDERS" "$CPU_WINDOW_S" \
  "$LAT_REQUESTS" "$(uname -r)" >"$OUT"
cat "$OUT"
echo "(table also in $OUT)" >&2
