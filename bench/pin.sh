#!/usr/bin/env bash
# Benchmark: pin a 1 GiB file that is cold in the page cache through pinleased
# (`POST /v1/pins {"path":…,"access":"read"}`: map, fault in, mlock) against `vmtouch -l`
# (time until vmtouch has the file locked) and `vmtouch -t` (touch only, nothing locked), on
# fresh loop-mounted xfs and ext4, in one run, side by side; a tmpfs is measured too, for
# reference only (its pages cannot be dropped, so every method finds them resident).
#
# Before every timed command the page cache is dropped (`sync; echo 3 > drop_caches`) and
# the order of the three methods rotates between repetitions. Timings are wall-clock around
# the whole command (curl for pinlease, vmtouch for vmtouch); for the pin also curl's own
# time_total and the duration in the daemon's access log.
#
# vmtouch -l is timed with `vmtouch -q -dl -w -P PIDFILE FILE`: with -d -w the parent returns
# only after the daemonized child has touched and mlocked every page and signalled it through
# a pipe, so the command's wall time is exactly "until locked". The child is then killed.
#
# Then the ways to fault in and lock a mapping are compared in the same run, on the same
# files, by bench/pin_faultin.c (compiled here with gcc): one mlock, MAP_POPULATE + mlock,
# readahead(2) first, MADV_POPULATE_READ, and two threads mlocking a half each (what the
# daemon does on 2 cores). This is what chose the daemon's sequence (bench/README.md).
#
# Usage (as root):  bench/pin.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), REPS (3),
#                   STRATEGIES (the pin_faultin strategies compared; "" skips them),
#                   IMAGE_SIZE (2G, sparse), TMPFS (1: also measure a tmpfs; 0: skip),
#                   BENCH_DIR (a new directory under /var/tmp), BENCH_OUT (bench/out/pin.md)
# Everything it creates (images, loop devices, mounts, the daemon, vmtouch) is removed on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
REPS="${REPS:-3}"
IMAGE_SIZE="${IMAGE_SIZE:-2G}"
TMPFS="${TMPFS:-1}"
FILESYSTEMS=(xfs ext4)
[ "$TMPFS" = 1 ] && FILESYSTEMS+=(tmpfs)
OUT="${BENCH_OUT:-$REPO/bench/out/pin.md}"
FILE_BYTES=1073741824

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
[ "$(id -u)" -eq 0 ] || die "must run as root (loop devices, mounts, drop_caches)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
STRATEGIES="${STRATEGIES-mlock populate readahead populate-read mlock-2t}"
for tool in losetup mkfs.xfs mkfs.ext4 curl python3 chattr vmtouch gcc; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 needed (EPOCHREALTIME)"

WORK="${BENCH_DIR:-$(mktemp -d /var/tmp/pinlease-pin-bench.XXXXXX)}"
mkdir -p "$WORK"
VMTOUCH_PID=""

cleanup() {
  set +e
  if [ -n "$VMTOUCH_PID" ] && kill -0 "$VMTOUCH_PID" 2>/dev/null; then
    kill -TERM "$VMTOUCH_PID"
    while kill -0 "$VMTOUCH_PID" 2>/dev/null; do sleep 0.01; done
  fi
  stop_pinleased
  unmount_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.6f}')" "$1" "$2"; }

# -- filesystems ---------------------------------------------------------------------
for fs in "${FILESYSTEMS[@]}"; do
  mkdir -p "$WORK/mnt/$fs"
  if [ "$fs" = tmpfs ]; then
    echo "bench: tmpfs (reference)" >&2
    mount -t tmpfs -o size=1280M tmpfs "$WORK/mnt/$fs"
  else
    img="$WORK/$fs.img"
    echo "bench: $fs image ($IMAGE_SIZE, sparse, loop)" >&2
    truncate -s "$IMAGE_SIZE" "$img"
    loop="$(losetup --find --show "$img")"
    LOOPS+=("$loop")
    case "$fs" in
      xfs) mkfs.xfs -q -f "$loop" ;;
      ext4) mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$loop" ;;
    esac
    mount -t "$fs" "$loop" "$WORK/mnt/$fs"
  fi
  MOUNTS+=("$WORK/mnt/$fs")
  # The file: 1 GiB of real data (not zeroes), fsynced.
  head -c "$FILE_BYTES" /dev/urandom >"$WORK/mnt/$fs/data.bin"
  sync "$WORK/mnt/$fs/data.bin"
done

# -- daemon --------------------------------------------------------------------------
ROOT_ARGS=()
for fs in "${FILESYSTEMS[@]}"; do ROOT_ARGS+=(--root "$fs=$WORK/mnt/$fs"); done
start_pinleased "${ROOT_ARGS[@]}"

# Prepare (verifies the layout is ready: no holes, no unwritten extents) and lock each file.
for fs in "${FILESYSTEMS[@]}"; do
  code="$(api POST /v1/files/prepare "{\"path\":\"$fs:data.bin\"}")"
  [ "$code" = 200 ] || die "prepare $fs:data.bin answered $code: $(cat "$WORK/answer.json")"
  [ "$(json_get ready)" = True ] || die "prepare $fs:data.bin: not ready: $(cat "$WORK/answer.json")"
  code="$(api POST /v1/files/lock-immutable "{\"path\":\"$fs:data.bin\"}")"
  [ "$code" = 200 ] || die "lock-immutable $fs:data.bin answered $code: $(cat "$WORK/answer.json")"
done

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; echo "bench: $1 $2 ${3}s" >&2; }

time_pin() { # time_pin FS -> records pin (wall), pin-curl (time_total), pin-server (access log)
  local fs="$1" start end code total id resident server
  drop_caches
  start="$EPOCHREALTIME"
  total="$(curl -s -o "$WORK/answer.json" -w '%{http_code} %{time_total}' -X POST "$API/v1/pins" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"path\":\"$fs:data.bin\",\"access\":\"read\"}")"
  end="$EPOCHREALTIME"
  code="${total%% *}"
  total="${total#* }"
  [ "$code" = 201 ] || die "POST /v1/pins $fs:data.bin answered $code: $(cat "$WORK/answer.json")"
  id="$(json_get id)"
  resident="$(json_get resident_bytes)"
  [ "$resident" = "$FILE_BYTES" ] || die "pin $id of $fs:data.bin: resident_bytes $resident, not $FILE_BYTES"
  record "$fs" pin "$(elapsed "$start" "$end")"
  record "$fs" pin-curl "$total"
  # The same request as the daemon timed it (its access log line: "POST /v1/pins 201 12.3ms 456B").
  server="$(grep -E 'POST /v1/pins 201 [0-9.]+ms' "$WORK/pinleased.log" | tail -1 \
    | sed -E 's/.* 201 ([0-9.]+)ms .*/\1/')"
  [ -n "$server" ] && record "$fs" pin-server "$(python3 -c "print(f'{float(\"$server\") / 1000:.6f}')")"
  code="$(api DELETE "/v1/pins/$id")"
  [ "$code" = 204 ] || die "DELETE /v1/pins/$id answered $code: $(cat "$WORK/answer.json")"
}

time_vmtouch_lock() { # time_vmtouch_lock FS -> records vmtouch-l (wall until locked)
  local fs="$1" file="$WORK/mnt/$1/data.bin" start end resident
  rm -f "$WORK/vmtouch.pid"
  drop_caches
  start="$EPOCHREALTIME"
  vmtouch -q -dl -w -P "$WORK/vmtouch.pid" "$file" >/dev/null 2>&1 || die "vmtouch -dl -w $file failed"
  end="$EPOCHREALTIME"
  VMTOUCH_PID="$(cat "$WORK/vmtouch.pid")"
  resident="$(vmtouch "$file" | sed -nE 's/.*Resident Pages: ([0-9]+)\/([0-9]+) .*/\1 \2/p')"
  [ "${resident% *}" = "${resident#* }" ] || die "vmtouch -l left $file partly resident: $resident pages"
  kill -TERM "$VMTOUCH_PID"
  while kill -0 "$VMTOUCH_PID" 2>/dev/null; do sleep 0.01; done
  VMTOUCH_PID=""
  record "$fs" vmtouch-l "$(elapsed "$start" "$end")"
}

time_vmtouch_touch() { # time_vmtouch_touch FS -> records vmtouch-t
  local fs="$1" start end
  drop_caches
  start="$EPOCHREALTIME"
  vmtouch -q -t "$WORK/mnt/$fs/data.bin" >/dev/null 2>&1 || die "vmtouch -t failed"
  end="$EPOCHREALTIME"
  record "$fs" vmtouch-t "$(elapsed "$start" "$end")"
}

time_disk_floor() { # time_disk_floor FS -> records dd-direct: the device's read time, no page cache
  local fs="$1" start end
  drop_caches
  start="$EPOCHREALTIME"
  dd if="$WORK/mnt/$fs/data.bin" of=/dev/null bs=16M iflag=direct status=none || die "dd iflag=direct failed"
  end="$EPOCHREALTIME"
  record "$fs" dd-direct "$(elapsed "$start" "$end")"
}

time_healthz() { # the floor of any cold call: a /healthz round trip right after dropping caches
  local start end
  drop_caches
  start="$EPOCHREALTIME"
  curl -sf "$API/healthz" >/dev/null || die "/healthz failed"
  end="$EPOCHREALTIME"
  record any healthz-cold "$(elapsed "$start" "$end")"
}

for rep in $(seq 1 "$REPS"); do
  for fs in "${FILESYSTEMS[@]}"; do
    order=(pin vmtouch-l vmtouch-t)
    shift_by=$(( (rep - 1) % 3 ))
    order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
    for method in "${order[@]}"; do
      case "$method" in
        pin) time_pin "$fs" ;;
        vmtouch-l) time_vmtouch_lock "$fs" ;;
        vmtouch-t) time_vmtouch_touch "$fs" ;;
      esac
    done
    [ "$fs" = tmpfs ] || time_disk_floor "$fs"
  done
  time_healthz
done

# -- fault-in strategies, same files, same run ---------------------------------------------
if [ -n "$STRATEGIES" ]; then
  gcc -O2 -Wall -pthread -o "$WORK/pin_faultin" "$REPO/bench/pin_faultin.c"
  for rep in $(seq 1 "$REPS"); do
    for fs in "${FILESYSTEMS[@]}"; do
      [ "$fs" = tmpfs ] && continue
      for strategy in $STRATEGIES; do
        drop_caches
        line="$("$WORK/pin_faultin" "$strategy" "$WORK/mnt/$fs/data.bin")" || die "pin_faultin $strategy failed: $line"
        record "$fs" "faultin:$strategy" "$(echo "$line" | cut -d' ' -f2)"
      done
    done
  done
fi

# Leave the files unlocked (cleanup also clears any flag left behind).
for fs in "${FILESYSTEMS[@]}"; do api POST /v1/files/unlock "{\"path\":\"$fs:data.bin\"}" >/dev/null; done

mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$REPS" "$(uname -r)" >"$OUT" <<'EOF'
import statistics, sys
from collections import defaultdict

path, reps, kernel = sys.argv[1], sys.argv[2], sys.argv[3]
times = defaultdict(list)
for line in open(path):
    fs, method, t = line.rstrip("\n").split("\t")
    times[(fs, method)].append(float(t))
med = {k: statistics.median(v) for k, v in times.items()}


def cell(key, digits=3):
    if key not in times:
        return "n/a"
    v = times[key]
    return f"{med[key]:.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"


def ratio(a, b):
    return f"{med[a] / med[b]:.2f}" if a in med and b in med else "n/a"


def min_ratio(a, b):
    return f"{min(times[a]) / min(times[b]):.2f}" if a in times and b in times else "n/a"


fss = [f for f in ("xfs", "ext4", "tmpfs") if (f, "pin") in med]
print(f"Median (min–max) of {reps} runs, seconds, 1 GiB file of random data, page cache dropped before each "
      f"command, kernel {kernel}.")
print("pin = wall time around `curl POST /v1/pins` (201, resident_bytes = 1 GiB checked; the pin is deleted "
      "after each run); ratios use the wall times, of the medians and of the fastest runs (this shared disk has "
      "slow spells that can hit either side; a target counts as met only when both ratios meet it). tmpfs is a "
      "reference: its pages stay resident.\n")
print("| fs | pin (curl, wall) | pin (curl time_total) | pin (daemon access log) | vmtouch -l | vmtouch -t "
      "| pin / vmtouch -l (medians) | pin / vmtouch -l (fastest) | pin / vmtouch -t | target pin / vmtouch -l | met |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
verdicts = []
for fs in fss:
    met = ""
    if fs != "tmpfs":
        ok = max(med[(fs, "pin")] / med[(fs, "vmtouch-l")], min(times[(fs, "pin")]) / min(times[(fs, "vmtouch-l")])) <= 0.8
        verdicts.append(ok)
        met = "yes" if ok else "NO"
    print(f"| {fs} | {cell((fs, 'pin'))} | {cell((fs, 'pin-curl'))} | {cell((fs, 'pin-server'))} | "
          f"{cell((fs, 'vmtouch-l'))} | {cell((fs, 'vmtouch-t'))} | {ratio((fs, 'pin'), (fs, 'vmtouch-l'))} | "
          f"{min_ratio((fs, 'pin'), (fs, 'vmtouch-l'))} | "
          f"{ratio((fs, 'pin'), (fs, 'vmtouch-t'))} | {'<= 0.8' if fs != 'tmpfs' else '(reference)'} | {met} |")
print()
print("Disk floor: `dd if=FILE of=/dev/null bs=16M iflag=direct` (the device's own read time, no page cache): "
      + ", ".join(f"{fs} {cell((fs, 'dd-direct'))} s" for fs in fss if (fs, "dd-direct") in times) + ".")
print()
print(f"GET /healthz with curl right after dropping caches (the floor of any cold call, no file work): "
      f"{cell(('any', 'healthz-cold'), 4)} s.")
strategies = sorted({m.split(":", 1)[1] for (_, m) in times if m.startswith("faultin:")})
if strategies:
    print()
    print("Fault-in strategies (bench/pin_faultin.c, open to fully locked inside one process, no HTTP), same files, "
          "page cache dropped before each; ratio to vmtouch -l of the same run:\n")
    print("| fs | strategy | seconds | / vmtouch -l (medians) | / vmtouch -l (fastest) |")
    print("|---|---|---:|---:|---:|")
    for fs in (f for f in fss if f != "tmpfs"):
        for s in strategies:
            key = (fs, "faultin:" + s)
            print(f"| {fs} | {s} | {cell(key)} | {ratio(key, (fs, 'vmtouch-l'))} | {min_ratio(key, (fs, 'vmtouch-l'))} |")
print()
print("All targets met." if verdicts and all(verdicts) else "Some targets NOT met.")
EOF
cat "$OUT"
echo "(table also in $OUT)" >&2
