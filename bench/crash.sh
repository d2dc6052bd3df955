#!/usr/bin/env bash
# Crash consistency, measured (issue 8): a mixed workload (prepare fill/wipe sync/async, lock,
# pin, grant with and without webhooks, renew, revoke, release, unpin, unlock, re-create) by
# concurrent clients on loop-mounted xfs (reflink) and ext4, killed with SIGKILL at a random
# moment, restarted on the same state directory and checked with outside tools (lsattr,
# filefrag -v, xfs_bmap -vp, /proc/PID/status VmLck) and the API. The workload and the checks
# are in bench/crash_trials.py (shared with tests/e2e/test_crash.py).
#
# Usage (as root):  bench/crash.sh
# Environment:      PINLEASED_BIN (default .build/release/pinleased), TRIALS (200), SEED
#                   (random; printed), CLIENTS (4), BENCH_OUT (bench/out/crash.md)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PINLEASED_BIN:-$REPO/.build/release/pinleased}"
TRIALS="${TRIALS:-200}"
CLIENTS="${CLIENTS:-4}"
OUT="${BENCH_OUT:-$REPO/bench/out/crash.md}"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (loop devices, chattr)"
[ -x "$BIN" ] || die "no daemon binary at $BIN (run: swift build -c release)"
for tool in python3 losetup mkfs.xfs mkfs.ext4 lsattr filefrag xfs_bmap; do command -v "$tool" >/dev/null || die "$tool not found"; done

WORK="$(mktemp -d /var/tmp/pinlease-crash-bench.XXXXXX)"
cleanup() {
  set +e
  unmount_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mount_image FSTYPE : a 2 GiB sparse image, formatted and mounted at $WORK/mnt/FSTYPE.
mount_image() {
  local fstype="$1" loop
  truncate -s 2G "$WORK/$fstype.img"
  loop="$(losetup --find --show "$WORK/$fstype.img")"
  LOOPS+=("$loop")
  case "$fstype" in
    xfs) mkfs.xfs -q -f -m reflink=1 "$loop" ;;
    ext4) mkfs.ext4 -q -F "$loop" ;;
  esac
  mkdir -p "$WORK/mnt/$fstype"
  mount -t "$fstype" "$loop" "$WORK/mnt/$fstype"
  MOUNTS+=("$WORK/mnt/$fstype")
}
mount_image xfs
mount_image ext4

seed_args=()
[ -n "${SEED:-}" ] && seed_args=(--seed "$SEED")
mkdir -p "$(dirname "$OUT")"
rc=0
python3 "$REPO/bench/crash_trials.py" --binary "$BIN" --trials "$TRIALS" --clients "$CLIENTS" "${seed_args[@]}" \
  --root "xfs=$WORK/mnt/xfs:xfs" --root "ext4=$WORK/mnt/ext4:ext4" \
  --state-dir "$WORK/state" --log "$WORK/pinleased.log" --out "$OUT" || rc=$?
if [ "$rc" -ne 0 ]; then
  mkdir -p "$REPO/bench/out"
  cp "$WORK/pinleased.log" "$REPO/bench/out/crash-pinleased.log" 2>/dev/null && echo "daemon log kept in bench/out/crash-pinleased.log" >&2
fi
echo "(table also in $OUT)" >&2
exit "$rc"
