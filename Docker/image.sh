#!/usr/bin/env bash
# Builds and tests the pinleased container image on this machine, where no image registry is
# reachable (so the swift:6.3-bookworm builder cannot be pulled):
#
#   Docker/image.sh build   release binaries (Swift runtime linked in), a Debian bookworm base image
#                           made here (mmdebstrap from the Debian archive | podman import), then the
#                           Dockerfile's `prebuilt` target on that base: $IMAGE
#   Docker/image.sh test    build, then run $IMAGE with podman on a loop-mounted ext4 root and
#                           drive prepare -> lock -> pin -> lease through it from the host (TCP and
#                           the Unix socket), with only the capabilities the DaemonSet grants
#   Docker/image.sh systemd-test
#                           deploy/systemd/pinleased.service under a real systemd (PID 1 of a
#                           container made from $IMAGE): notify start, the API inside the unit's
#                           sandbox, reload, watchdog, stop
#
# Needs root, podman, runc and mmdebstrap (make deps-image). Everything it creates (container,
# mount, loop device, temporary directory) is removed on exit, also on failure.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${IMAGE:-localhost/pinleased:latest}
BASE_IMAGE=${BASE_IMAGE:-localhost/pinlease-debian:bookworm}
SCRATCH=${SCRATCH:-$REPO/.build-image}
# The capabilities deploy/kubernetes/daemonset.yaml adds (overridable, to see what fails without one).
CAPABILITIES=${CAPABILITIES:-LINUX_IMMUTABLE,LEASE,IPC_LOCK,FOWNER,DAC_OVERRIDE,SYS_PTRACE}
# runc, not crun: crun refuses this machine's hybrid cgroup layout. The limits are given
# explicitly: the runtime cannot raise them past the host's hard limits.
PODMAN=(podman --runtime runc)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'image-test: FAILED: %s\n' "$*" >&2; exit 1; }

build_binaries() {
    step "swift build -c release --static-swift-stdlib ($SCRATCH)"
    (cd "$REPO" && swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product pinleased \
        && swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product pinlease)
}

base_image() {
    if podman image exists "$BASE_IMAGE"; then
        step "base image $BASE_IMAGE present"
        return
    fi
    step "base image $BASE_IMAGE: mmdebstrap --variant=minbase bookworm | podman import"
    mmdebstrap --variant=minbase bookworm - | podman import - "$BASE_IMAGE"
}

build_image() {
    build_binaries
    base_image
    local context
    context=$(mktemp -d /tmp/pinlease-image-context.XXXXXX)
    # shellcheck disable=SC2064 # expand now: the variable is local
    trap "rm -rf '$context'" RETURN
    install -D -m 0755 "$SCRATCH/release/pinleased" "$context/prebuilt/pinleased"
    install -D -m 0755 "$SCRATCH/release/pinlease" "$context/prebuilt/pinlease"
    # The version label is VERSION's first line, as pinlease_build_info{version} and GET /v1/version.
    # PINLEASE_COMMIT and SOURCE_DATE_EPOCH feed the builder stage's build info (no .git in the
    # context); the prebuilt target built here does not read them (its binaries were built in the checkout).
    local revision
    revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
    step "podman build --target prebuilt -t $IMAGE (on $BASE_IMAGE)"
    "${PODMAN[@]}" build --no-cache --network host --format docker "${LIMITS[@]}" --target prebuilt \
        --build-arg RUNTIME_BASE="$BASE_IMAGE" \
        --build-arg VERSION="$(head -n 1 "$REPO/VERSION")" \
        --build-arg REVISION="$revision" \
        --build-arg PINLEASE_COMMIT="$revision" \
        --build-arg SOURCE_DATE_EPOCH="$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || true)" \
        --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        -f "$REPO/Docker/Dockerfile" -t "$IMAGE" "$context"
    podman image inspect --format '{{.Size}} bytes, labels {{.Labels}}' "$IMAGE"
}

# --- image test --------------------------------------------------------------------------------

WORK=""
CONTAINER=""
LOOP=""
WRITER=""

cleanup() {
    local status=$?
    set +e
    [ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
    if [ -n "$CONTAINER" ]; then
        [ $status -ne 0 ] && podman logs --tail 40 "$CONTAINER" 2>&1 | sed 's/^/  container: /'
        "${PODMAN[@]}" rm -f -t 30 "$CONTAINER" >/dev/null 2>&1
    fi
    if [ -n "$WORK" ]; then
        mountpoint -q "$WORK/root" && umount "$WORK/root"
        [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
        rm -rf "$WORK"
    fi
    exit $status
}

# Polls `curl ARGS` until it succeeds, for at most 120 s.
wait_for() {
    local what=$1
    shift
    local deadline=$((SECONDS + 120))
    until curl -fsS -o /dev/null "$@" 2>/dev/null; do
        [ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER")" = true ] || fail "the container exited"
        [ $SECONDS -lt $deadline ] || fail "$what: not within 120 s"
        sleep 0.2
    done
}

# api METHOD PATH [JSON] [EXPECTED-STATUS]: prints the body; fails unless the status matches.
api() {
    local method=$1 path=$2 body=${3:-} expected=${4:-2..}
    local args=(-sS -X "$method" -H "Authorization: Bearer $TOKEN" -o "$WORK/body" -w '%{http_code}')
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
    local status
    status=$(curl "${args[@]}" "$URL$path")
    [[ $status =~ ^$expected$ ]] || fail "$method $path: HTTP $status, wanted $expected: $(cat "$WORK/body")"
    cat "$WORK/body"
}

# The CapEff mask of a comma-separated list of capability names (without CAP_).
capability_mask() {
    local mask=0 name
    declare -A bit=([DAC_OVERRIDE]=1 [FOWNER]=3 [LINUX_IMMUTABLE]=9 [IPC_LOCK]=14 [SYS_PTRACE]=19
        [SYS_RESOURCE]=24 [LEASE]=28)
    for name in ${1//,/ }; do mask=$((mask | (1 << ${bit[$name]:?unknown capability $name}))); done
    printf '%016x' "$mask"
}

field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

test_image() {
    [ "$(id -u)" = 0 ] || fail "needs root (loop devices, mounts)"
    build_image
    trap cleanup EXIT
    WORK=$(mktemp -d /tmp/pinlease-image-test.XXXXXX)
    mkdir -p "$WORK/root" "$WORK/state" "$WORK/run"

    step "the image ships every library the binaries load (ldd inside it)"
    local libraries
    libraries=$("${PODMAN[@]}" run --rm "${LIMITS[@]}" --network none --entrypoint /usr/bin/ldd "$IMAGE" \
        /usr/local/bin/pinleased /usr/local/bin/pinlease)
    echo "$libraries"
    if grep -q "not found" <<<"$libraries"; then fail "libraries missing in the image"; fi

    step "a loop-mounted ext4 root at $WORK/root, a file owned by uid 4242 with mode 0600"
    truncate -s 256M "$WORK/ext4.img"
    mkfs.ext4 -q -F "$WORK/ext4.img"
    LOOP=$(losetup --find --show "$WORK/ext4.img")
    mount "$LOOP" "$WORK/root"
    head -c $((4 << 20)) /dev/urandom >"$WORK/root/a.bin"
    chown 4242:4242 "$WORK/root/a.bin"
    chmod 0600 "$WORK/root/a.bin"

    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    URL="http://127.0.0.1:$port"
    CONTAINER="pinlease-image-test-$$"
    step "podman run $IMAGE: --cap-drop ALL --cap-add $CAPABILITIES, host PIDs and network"
    "${PODMAN[@]}" run -d --name "$CONTAINER" "${LIMITS[@]}" --network host --pid host \
        --cap-drop ALL --cap-add "$CAPABILITIES" --security-opt no-new-privileges \
        --read-only --tmpfs /tmp \
        -v "$WORK/root:/srv/pinlease" -v "$WORK/state:/var/lib/pinleased" -v "$WORK/run:/run/pinlease" \
        "$IMAGE" --root data=/srv/pinlease --listen "127.0.0.1:$port"
    wait_for "GET /readyz" "$URL/readyz"
    TOKEN=$(cat "$WORK/state/admin.token")

    step "the daemon holds exactly the capabilities added"
    # With the host's PIDs, the pid the daemon writes into its state lock is a host pid.
    local pid wanted effective
    pid=$(cat "$WORK/state/lock")
    wanted=$(capability_mask "$CAPABILITIES")
    effective=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
    echo "pid $pid CapEff $effective"
    [ "$effective" = "$wanted" ] || fail "CapEff $effective, wanted $wanted"

    step "prepare"
    api POST /v1/files/prepare '{"path":"data:a.bin","mode":"fill"}' | field '["path"]'

    step "lock refused while a host process holds the file open for writing (writer scan across PIDs)"
    sleep infinity 9>>"$WORK/root/a.bin" &
    WRITER=$!
    local refused
    refused=$(api POST /v1/files/lock-immutable '{"path":"data:a.bin"}' '4..')
    echo "$refused"
    grep -q "$WRITER" <<<"$refused" || fail "the refusal does not name the writer pid $WRITER"
    kill "$WRITER"
    wait "$WRITER" 2>/dev/null || true
    WRITER=""

    step "lock"
    api POST /v1/files/lock-immutable '{"path":"data:a.bin"}' | field '["immutable"]'
    lsattr "$WORK/root/a.bin" | grep -q '^----i' \
        || fail "a.bin is not immutable on the host: $(lsattr "$WORK/root/a.bin")"

    step "pin"
    local pin
    pin=$(api POST /v1/pins '{"path":"data:a.bin","access":"read"}' 201 | field '["id"]')
    echo "pin $pin"

    step "lease"
    local lease
    lease=$(api POST /v1/leases "{\"pin_id\":\"$pin\",\"holder\":\"image-test\",\"ttl_s\":60}" 201 | field '["id"]')
    echo "lease $lease"

    step "the lease through the Unix socket on the host ($WORK/run/api.sock)"
    curl -fsS --unix-socket "$WORK/run/api.sock" -H "Authorization: Bearer $TOKEN" \
        "http://localhost/v1/leases/$lease" | field '["state"]' | grep -qx active || fail "lease not active"

    step "HEALTHCHECK"
    # (podman cannot schedule it here, without systemd as PID 1; it runs it when asked.)
    "${PODMAN[@]}" healthcheck run "$CONTAINER" || fail "podman healthcheck run: unhealthy"
    echo healthy

    step "SIGTERM (podman stop): exit status 0"
    "${PODMAN[@]}" stop -t 60 "$CONTAINER" >/dev/null
    local code
    code=$(podman inspect --format '{{.State.ExitCode}}' "$CONTAINER")
    [ "$code" = 0 ] || fail "pinleased exited with $code"
    step "image test passed"
}

# --- the systemd unit under a real systemd ----------------------------------------------------

SYSTEMD_IMAGE=${SYSTEMD_IMAGE:-localhost/pinleased-systemd:test}

# in_container COMMAND...: runs COMMAND in the systemd container.
in_container() { podman exec "$CONTAINER" "$@"; }

# unit_property NAME: a property of pinleased.service as systemctl shows it.
unit_property() { in_container systemctl show -P "$1" pinleased.service; }

# wait_unit WHAT CONDITION: polls the shell CONDITION (run here) for at most 120 s.
wait_unit() {
    local deadline=$((SECONDS + 120))
    until eval "$2"; do
        [ $SECONDS -lt $deadline ] || fail "$1: not within 120 s; $(in_container systemctl status --no-pager \
            pinleased.service 2>&1 | tail -20)"
        sleep 0.2
    done
}

# api_inside METHOD PATH [JSON] [EXPECTED-STATUS]: like `api`, with curl run in the container.
api_inside() {
    local method=$1 path=$2 body=${3:-} expected=${4:-2..}
    local output status
    output=$(in_container sh -c 'curl -sS -X "$1" -H "Authorization: Bearer $(cat /var/lib/pinleased/admin.token)" \
        -H "Content-Type: application/json" ${3:+--data "$3"} -w "\n%{http_code}" "http://127.0.0.1:8470$2"' \
        - "$method" "$path" "$body")
    status=${output##*$'\n'}
    [[ $status =~ ^$expected$ ]] || fail "$method $path: HTTP $status, wanted $expected: ${output%$'\n'*}"
    printf '%s\n' "${output%$'\n'*}"
}

# Runs deploy/systemd/pinleased.service, unchanged, under systemd 252 as PID 1 of a container made
# from $IMAGE plus Debian's systemd: Type=notify start, the API with the unit's capabilities and
# hardening, reload, watchdog, stop.
systemd_test() {
    [ "$(id -u)" = 0 ] || fail "needs root"
    podman image exists "$IMAGE" || build_image
    trap cleanup EXIT
    WORK=$(mktemp -d /tmp/pinlease-systemd-test.XXXXXX)
    install -m 0644 "$REPO/deploy/systemd/pinleased.service" "$WORK/pinleased.service"
    cat >"$WORK/Containerfile" <<CONTAINERFILE
FROM $IMAGE
RUN apt-get update -q && apt-get install -y -q --no-install-recommends systemd procps && rm -rf /var/lib/apt/lists/*
COPY pinleased.service /etc/systemd/system/pinleased.service
RUN systemctl enable pinleased.service
HEALTHCHECK NONE
ENTRYPOINT ["/lib/systemd/systemd"]
CMD []
CONTAINERFILE
    # procps: the unit's ExecReload= runs /bin/kill, as on a standard Debian host.
    step "podman build $SYSTEMD_IMAGE: $IMAGE + systemd, procps + deploy/systemd/pinleased.service"
    "${PODMAN[@]}" build --network host --format docker "${LIMITS[@]}" -t "$SYSTEMD_IMAGE" "$WORK" >/dev/null
    CONTAINER="pinlease-systemd-test-$$"
    step "podman run --systemd=always: systemd as PID 1, a tmpfs as the root /srv/pinlease"
    # Privileged: systemd itself mounts and sets up namespaces for the unit's sandboxing.
    "${PODMAN[@]}" run -d --name "$CONTAINER" --systemd=always --privileged --network none "${LIMITS[@]}" \
        --mount type=tmpfs,destination=/srv/pinlease "$SYSTEMD_IMAGE" >/dev/null

    step "Type=notify: active once READY=1 came"
    wait_unit "pinleased.service active" '[ "$(unit_property ActiveState 2>/dev/null)" = active ]'
    unit_property StatusText | tee "$WORK/status"
    grep -q "^serving on 127.0.0.1:8470, unix:/run/pinleased/api.sock" "$WORK/status" || fail "no serving status"
    local pid
    pid=$(unit_property MainPID)
    echo "main pid $pid: $(in_container grep CapEff "/proc/$pid/status")"

    step "prepare -> lock -> pin -> lease under the unit's sandbox (a file of uid 4242, mode 0600)"
    in_container sh -c 'head -c 4194304 /dev/urandom >/srv/pinlease/a.bin && chown 4242:4242 /srv/pinlease/a.bin \
        && chmod 0600 /srv/pinlease/a.bin'
    api_inside POST /v1/files/prepare '{"path":"a.bin","mode":"fill"}' | field '["path"]'
    in_container sh -c 'echo $$ >/run/writer.pid; exec sleep infinity 9>>/srv/pinlease/a.bin' &
    WRITER=$!
    local writer_pid refused
    wait_unit "the writer" 'writer_pid=$(in_container cat /run/writer.pid 2>/dev/null) && [ -n "$writer_pid" ]'
    refused=$(api_inside POST /v1/files/lock-immutable '{"path":"a.bin"}' '4..')
    echo "$refused"
    grep -q "\[$writer_pid\]" <<<"$refused" || fail "the refusal does not name the writer pid $writer_pid"
    in_container sh -c 'kill "$(cat /run/writer.pid)"'
    wait "$WRITER" 2>/dev/null || true
    WRITER=""
    api_inside POST /v1/files/lock-immutable '{"path":"a.bin"}' | field '["immutable"]'
    local pin lease
    pin=$(api_inside POST /v1/pins '{"path":"a.bin","access":"read"}' 201 | field '["id"]')
    lease=$(api_inside POST /v1/leases "{\"pin_id\":\"$pin\",\"holder\":\"unit\",\"ttl_s\":60}" 201 | field '["id"]')
    echo "pin $pin, lease $lease"

    step "systemctl reload: RELOADING=1, SIGHUP, READY=1"
    in_container systemctl reload pinleased.service
    wait_unit "the reload's status" '[[ "$(unit_property StatusText)" == *"tokens reloaded"* ]]'
    unit_property StatusText
    [ "$(unit_property ActiveState)" = active ] || fail "not active after the reload"

    step "WatchdogSec=30s: the watchdog timestamp moves (a pet every 15 s)"
    local first
    first=$(unit_property WatchdogTimestampMonotonic)
    [ "$(unit_property WatchdogUSec)" = 30s ] || fail "WatchdogUSec $(unit_property WatchdogUSec)"
    wait_unit "a watchdog pet" '[ "$(unit_property WatchdogTimestampMonotonic)" != "$first" ]'
    echo "WatchdogTimestampMonotonic $first -> $(unit_property WatchdogTimestampMonotonic)"

    step "systemctl stop: STOPPING=1, clean exit"
    in_container systemctl stop pinleased.service
    [ "$(unit_property Result)" = success ] || fail "Result=$(unit_property Result)"
    [ "$(unit_property ExecMainStatus)" = 0 ] || fail "ExecMainStatus=$(unit_property ExecMainStatus)"
    in_container journalctl -u pinleased.service --no-pager -o cat | grep -E "Stopping|Stopped|stopped|signal" | tail -4
    step "systemd test passed"
}

case "${1:-build}" in
build) build_image ;;
test) test_image ;;
systemd-test) systemd_test ;;
*)
    echo "usage: $0 build|test|systemd-test" >&2
    exit 2
    ;;
esac
