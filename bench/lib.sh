# Shared pieces of the bench scripts (sourced, not run): a daemon on an ephemeral port, its
# admin token, and curl helpers. The caller sets WORK and BIN and calls `stop_pinleased` in
# its EXIT trap.

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

DAEMON_PID=""

# start_pinleased ARGS... : starts "$BIN" on a free port with state in $WORK/state, waits
# until /readyz answers, and sets API and TOKEN.
start_pinleased() {
  local port
  port="$(free_port)"
  "$BIN" --listen "127.0.0.1:$port" --state-dir "$WORK/state" "$@" >"$WORK/pinleased.log" 2>&1 &
  DAEMON_PID=$!
  API="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    curl -sf "$API/readyz" >/dev/null 2>&1 && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/pinleased.log" >&2; die "pinleased exited"; }
    sleep 0.1
  done
  curl -sf "$API/readyz" >/dev/null || die "pinleased not ready"
  TOKEN="$(cat "$WORK/state/admin.token")"
}

stop_pinleased() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null
  fi
  DAEMON_PID=""
}

# start_pinned_daemon NAME : stops the running daemon and starts a new one on empty state
# ($WORK/state), with one locked 1 MiB file of random data, $WORK/data/NAME.bin, and one read
# pin of it; sets PIN_ID (exported with TOKEN, for the lua scripts).
start_pinned_daemon() {
  stop_pinleased
  rm -rf "$WORK/state"
  mkdir -p "$WORK/data"
  head -c 1048576 /dev/urandom >"$WORK/data/$1.bin"
  sync "$WORK/data/$1.bin"
  start_pinleased --root "bench=$WORK/data" --log-level warning
  expect_status 200 POST /v1/files/lock-immutable "{\"path\":\"$1.bin\"}"
  expect_status 201 POST /v1/pins "{\"path\":\"$1.bin\",\"access\":\"read\"}"
  PIN_ID="$(json_get id)"
  export PIN_ID TOKEN
}

# api METHOD PATH [BODY] : writes the answer to $WORK/answer.json and prints the status.
api() {
  local method="$1" path="$2" body="${3:-}"
  local args=(-s -o "$WORK/answer.json" -w '%{http_code}' -X "$method" "$API$path"
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
  [ -n "$body" ] && args+=(-d "$body")
  curl "${args[@]}"
}

# json_get KEY : prints the top-level KEY of $WORK/answer.json.
json_get() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/answer.json" "$1"
}

# expect_status CODE METHOD PATH [BODY] : api, or die with the answer.
expect_status() {
  local want="$1" got
  shift
  got="$(api "$@")"
  [ "$got" = "$want" ] || die "$1 $2 answered $got, expected $want: $(cat "$WORK/answer.json")"
}

LOOPS=()
MOUNTS=()

# unmount_all : undoes what the script mounted (flags cleared first) and detaches its loop devices.
unmount_all() {
  local i loop
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    chattr -R -i "${MOUNTS[$i]}" 2>/dev/null
    umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}"
  done
  for loop in "${LOOPS[@]}"; do losetup -d "$loop"; done
}

# Starts etcd (one member, data in $1) on free loopback ports; sets ETCD_PID, ETCD (its client
# URL) and ETCD_VERSION, and returns once it grants leases. Its log is $1.log.
start_etcd() {
  local data="$1" eport pport
  eport="$(free_port)"
  pport="$(free_port)"
  etcd --name bench --data-dir "$data" \
    --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "bench=http://127.0.0.1:$pport" >"$data.log" 2>&1 &
  ETCD_PID=$!
  ETCD="http://127.0.0.1:$eport"
  for _ in $(seq 1 100); do
    curl -sf -X POST "$ETCD/v3/lease/grant" -d '{"TTL":60}' >/dev/null 2>&1 && break
    kill -0 "$ETCD_PID" 2>/dev/null || { cat "$data.log" >&2; die "etcd exited"; }
    sleep 0.1
  done
  curl -sf -X POST "$ETCD/v3/lease/grant" -d '{"TTL":60}' | grep -q '"ID"' || die "etcd does not grant leases"
  ETCD_VERSION="$(etcd --version | sed -n 1p)"  # sed reads it all: head could SIGPIPE etcd (pipefail)
}

# Stops the etcd that start_etcd started, if any.
stop_etcd() {
  # etcd exits 143 on SIGTERM: not a failure of the caller (set -e).
  if [ -n "${ETCD_PID:-}" ]; then kill -TERM "$ETCD_PID" 2>/dev/null; wait "$ETCD_PID" 2>/dev/null || true; fi
  ETCD_PID=""
}
