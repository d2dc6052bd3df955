#!/usr/bin/env bash
# Benchmark: prepare of a new 1 GiB file through pinleased (curl, sync mode) against
# `dd conv=fsync` and `fallocate + xfs_io pwrite + fsync`, and re-prepare of a file that is
# already ready, on fresh loop-mounted xfs and ext4, in one run, side by side.
#
# Every timing is wall-clock around the whole command (curl for pinlease), after `sync` and
# dropping the page cache; the re-prepare is also timed warm, right after, for information.
#
# Usage (as root):  bench/prepare.sh            (or: make bench)
# Environment:      PINLEASED_BIN (default .build/release/pinleased), REPS (3),
#                   IMAGE_SIZE (4G), BENCH_DIR (a new directory under /var/tmp),
#                   BENCH_OUT (bench/out/latest.md)
# Everything it creates (images, loop devices, mounts, the daemon) is removed on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
REPS="${REPS:-3}"
IMAGE_SIZE="${IMAGE_SIZE:-4G}"
FILESYSTEMS=(xfs ext4)
OUT="${BENCH_OUT:-$REPO/bench/out/latest.md}"

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
[ "$(id -u)" -eq 0 ] || die "must run as root (loop devices, mounts, drop_caches)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in losetup mkfs.xfs mkfs.ext4 xfs_io fallocate curl dd python3 chattr; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

WORK="${BENCH_DIR:-$(mktemp -d /var/tmp/pinlease-bench.XXXXXX)}"
mkdir -p "$WORK"

cleanup() {
  set +e
  stop_pinleased
  unmount_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.6f}')" "$1" "$2"; }

# -- filesystems ---------------------------------------------------------------------
# The images are written in full first (and mkfs told not to discard), so every method
# writes to blocks the host already has, whichever runs first.
for fs in "${FILESYSTEMS[@]}"; do
  img="$WORK/$fs.img"
  echo "bench: $fs image ($IMAGE_SIZE, written in full)" >&2
  dd if=/dev/zero of="$img" bs=4M count="$(( $(numfmt --from=iec "$IMAGE_SIZE") / 4194304 ))" conv=fsync status=none
  loop="$(losetup --find --show "$img")"
  LOOPS+=("$loop")
  case "$fs" in
    xfs) mkfs.xfs -q -f -K -m reflink=1 "$loop" ;;
    ext4) mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$loop" ;;
  esac
  mkdir -p "$WORK/mnt/$fs"
  mount -t "$fs" "$loop" "$WORK/mnt/$fs"
  MOUNTS+=("$WORK/mnt/$fs")
done

# -- daemon --------------------------------------------------------------------------
ROOT_ARGS=()
for fs in "${FILESYSTEMS[@]}"; do ROOT_ARGS+=(--root "$fs=$WORK/mnt/$fs"); done
start_pinleased "${ROOT_ARGS[@]}"

prepare() { # prepare JSON_BODY -> prints seconds; fails unless the answer is 200 and ready
  local body="$1" start end code
  start="$(now)"
  code="$(curl -s -o "$WORK/answer.json" -w '%{http_code}' -X POST "$API/v1/files/prepare" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$body")"
  end="$(now)"
  [ "$code" = 200 ] || { cat "$WORK/answer.json" >&2; die "prepare $body answered $code"; }
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r["ready"] and r["size"] == 1 << 30 else 1)' \
    "$WORK/answer.json" || die "prepare $body: not ready: $(cat "$WORK/answer.json")"
  elapsed "$start" "$end"
}

timed() { # timed CMD... -> prints seconds
  local start end
  start="$(now)"
  "$@" >/dev/null 2>&1 || die "failed: $*"
  end="$(now)"
  elapsed "$start" "$end"
}

server_seconds() { # the duration pinleased logged for the last prepare, in seconds
  grep 'POST /v1/files/prepare 200 ' "$WORK/pinleased.log" | tail -1 \
    | sed -E 's/.* 200 ([0-9.]+)ms .*/\1/' | python3 -c 'import sys; print(f"{float(sys.stdin.read()) / 1000:.6f}")'
}

run_dd() { dd if=/dev/zero of="$1" bs=1M count=1024 conv=fsync status=none; }
run_xfs_io() { fallocate -l 1G "$1" && xfs_io -c "pwrite -b 1m 0 1g" -c fsync "$1"; }

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
for fs in "${FILESYSTEMS[@]}"; do
  dir="$WORK/mnt/$fs"
  # The already-ready file that is re-prepared (made once, not timed).
  prepare "{\"path\":\"$fs:ready.bin\",\"size\":\"1GiB\",\"create\":true}" >/dev/null
  for rep in $(seq 1 "$REPS"); do
    # Rotate the order of the three writers so none always runs first.
    order=(pinlease dd xfs_io)
    shift_by=$(( (rep - 1) % 3 ))
    order=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
    for method in "${order[@]}"; do
      rm -f "$dir/new.bin"
      drop_caches
      case "$method" in
        pinlease) t="$(prepare "{\"path\":\"$fs:new.bin\",\"size\":\"1GiB\",\"create\":true}")" ;;
        dd) t="$(timed run_dd "$dir/new.bin")" ;;
        xfs_io) t="$(timed run_xfs_io "$dir/new.bin")" ;;
      esac
      [ "$(stat -c %s "$dir/new.bin")" = 1073741824 ] || die "$method did not make a 1 GiB file"
      printf '%s\tnew\t%s\t%s\n' "$fs" "$method" "$t" >>"$RESULTS"
      echo "bench: $fs rep $rep new-file $method ${t}s" >&2
    done
    rm -f "$dir/new.bin"
    drop_caches
    t="$(prepare "{\"path\":\"$fs:ready.bin\"}")"
    printf '%s\treprepare\tpinlease\t%s\n' "$fs" "$t" >>"$RESULTS"
    echo "bench: $fs rep $rep re-prepare (cold caches) ${t}s" >&2
    # The same request as the daemon timed it (its access log), without curl's start-up.
    t="$(server_seconds)"
    printf '%s\treprepare-server\tpinlease\t%s\n' "$fs" "$t" >>"$RESULTS"
    echo "bench: $fs rep $rep re-prepare (cold caches, inside the daemon) ${t}s" >&2
    # The floor of any cold call: a /healthz round trip after dropping caches.
    drop_caches
    t="$(timed curl -sf "$API/healthz")"
    printf '%s\thealthz-cold\tpinlease\t%s\n' "$fs" "$t" >>"$RESULTS"
    echo "bench: $fs rep $rep /healthz (cold caches) ${t}s" >&2
    t="$(prepare "{\"path\":\"$fs:ready.bin\"}")"
    printf '%s\treprepare-warm\tpinlease\t%s\n' "$fs" "$t" >>"$RESULTS"
    echo "bench: $fs rep $rep re-prepare (warm) ${t}s" >&2
  done
done

mkdir -p "$(dirname "$OUT")"
python3 - "$RESULTS" "$REPS" "$(uname -r)" >"$OUT" <<'EOF'
import statistics, sys
from collections import defaultdict

path, reps, kernel = sys.argv[1], sys.argv[2], sys.argv[3]
times = defaultdict(list)
for line in open(path):
    fs, op, method, t = line.rstrip("\n").split("\t")
    times[(fs, op, method)].append(float(t))
med = {k: statistics.median(v) for k, v in times.items()}


def cell(key, digits=3):
    v = times[key]
    return f"{med[key]:.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"


fss = [f for f in ("xfs", "ext4") if (f, "new", "dd") in med]
print(f"Median (min–max) of {reps} runs, seconds, 1 GiB file, fresh loop-mounted filesystems, kernel {kernel}.")
print("Ratio = pinlease median / peer median; for a new file the peer is the faster of dd and xfs_io.\n")
print("| fs | operation | pinlease | dd conv=fsync | fallocate + xfs_io pwrite + fsync | ratio | target | met |")
print("|---|---|---:|---:|---:|---:|---|---|")
verdicts = []
for fs in fss:
    p, d, x = med[(fs, "new", "pinlease")], med[(fs, "new", "dd")], med[(fs, "new", "xfs_io")]
    ratio = p / min(d, x)
    ok = ratio <= 1.0
    verdicts.append(ok)
    print(f"| {fs} | prepare new file (create) | {cell((fs, 'new', 'pinlease'))} | {cell((fs, 'new', 'dd'))} | "
          f"{cell((fs, 'new', 'xfs_io'))} | {ratio:.3f} (vs {'dd' if d <= x else 'xfs_io'}) | <= 1.0 | {'yes' if ok else 'NO'} |")
    r = med[(fs, "reprepare", "pinlease")]
    ok = r / d < 0.01
    verdicts.append(ok)
    print(f"| {fs} | re-prepare ready file, caches dropped | {cell((fs, 'reprepare', 'pinlease'), 4)} | {d:.3f} | | "
          f"{r / d:.4f} (vs dd) | < 0.01 | {'yes' if ok else 'NO'} |")
    r = med[(fs, "reprepare-server", "pinlease")]
    print(f"| {fs} | re-prepare ready file, caches dropped, inside the daemon (its access log) | "
          f"{cell((fs, 'reprepare-server', 'pinlease'), 4)} | {d:.3f} | | {r / d:.4f} (vs dd) | | |")
    h = med[(fs, "healthz-cold", "pinlease")]
    print(f"| {fs} | GET /healthz with curl, caches dropped (floor of any cold call; information) | "
          f"{cell((fs, 'healthz-cold', 'pinlease'), 4)} | {d:.3f} | | {h / d:.4f} (vs dd) | | |")
    w = med[(fs, "reprepare-warm", "pinlease")]
    print(f"| {fs} | re-prepare ready file, warm (information) | {cell((fs, 'reprepare-warm', 'pinlease'), 4)} | {d:.3f} | | "
          f"{w / d:.4f} (vs dd) | | |")
print()
print("All targets met." if all(verdicts) else "Some targets NOT met.")
EOF
cat "$OUT"
echo "(table also in $OUT)" >&2
