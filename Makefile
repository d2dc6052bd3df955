# pinlease — build, run, test and benchmark on Debian 12 (as root, Swift 6.3.1 on PATH).
#
#   make run     install what is missing, build release, start pinleased on 127.0.0.1:8470
#                (ARGS="--webhook-allow http://127.0.0.1:9000/ ..." passes more flags to pinleased)
#   make install install pinleased, the pinlease CLI and its shell completions under PREFIX (/usr/local)
#   make test    install what is missing, build, swift test + end-to-end tests (pytest)
#   make bench   install what is missing, build release, run every bench/*.sh
#   make fmt     format the Swift sources (make test fails on what `swift format lint` reports)
#   make image   build the container image (Docker/Dockerfile) from a release binary, on a local Debian base
#   make image-test  build it, run it with podman and drive prepare -> lock -> pin -> lease through it;
#                the systemd unit under a real systemd (PID 1 of a container)
#
# Everything that needs installing is installed by `deps`, and only when missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

PYTHON ?= python3
SWIFT ?= swift
LISTEN ?= 127.0.0.1:8470
DATA_DIR ?= ./var/data
STATE_DIR ?= ./var/state
PREFIX ?= /usr/local
DESTDIR ?=
# More flags for pinleased in `make run`, e.g. ARGS="--webhook-allow http://127.0.0.1:9000/".
ARGS ?=

APT_PACKAGES := libmicrohttpd-dev libjansson-dev libsqlite3-dev liburing-dev libcurl4-openssl-dev libssl-dev pkg-config \
                xfsprogs btrfs-progs e2fsprogs util-linux curl attr vmtouch jq systemd prometheus
# Only the benchmarks need these (the peers they are measured against, and the load tool).
BENCH_APT_PACKAGES := wrk etcd-server
# Only `make image` / `make image-test` need these: podman (run with runc), and mmdebstrap for the
# Debian base image made locally (no image registry is reachable).
IMAGE_APT_PACKAGES := podman runc mmdebstrap
# Versions known to install and work together on Python 3.11 (Debian 12).
PIP_PACKAGES := pytest==9.0.3 requests==2.34.2 schemathesis==4.32.5 openapi-spec-validator==0.9.0 \
                openapi-python-client==0.29.1 httpx==0.28.1 attrs==26.1.0 python-dateutil==2.9.0.post0 \
                ruff==0.17.6 typer==0.27.3 pydantic==2.13.4 Jinja2==3.1.6 kubernetes-validate==1.37.0 PyYAML==6.0.3 \
                prometheus-client==0.26.0

export DEBIAN_FRONTEND := noninteractive
# `prometheus` is in APT_PACKAGES for promtool only, and its postinst starts a Prometheus server
# on :9090 (and enables it at boot) on a host running systemd. A policy-rc.d answering 101
# ("action forbidden") for the duration of the install makes invoke-rc.d and deb-systemd-invoke
# start nothing, with or without systemd (a CI container has none); it is removed after, unless
# one was there already (then it is left as it was). A prometheus installed by this run is also
# disabled at boot. Also used for BENCH_APT_PACKAGES (etcd-server would start a system etcd on
# :2379; the benches run their own) and IMAGE_APT_PACKAGES.
POLICY_RC_D := /usr/sbin/policy-rc.d
APT_INSTALL_NO_START := policy=""; \
  if [ ! -e $(POLICY_RC_D) ]; then \
    policy=$(POLICY_RC_D); trap 'rm -f $(POLICY_RC_D)' EXIT; trap 'exit 1' INT TERM; \
    printf '\043!/bin/sh\nexit 101\n' >$$policy; chmod 0755 $$policy; \
  fi; \
  apt_install() { apt-get install -y -q --no-install-recommends "$$@" || return; \
    case " $$* " in *" prometheus "*) \
      if command -v deb-systemd-helper >/dev/null; then deb-systemd-helper disable prometheus.service; fi;; \
    esac; }; \
  apt_install
# Debian's own python3 marks its site-packages as externally managed (PEP 668).
export PIP_BREAK_SYSTEM_PACKAGES := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_ROOT_USER_ACTION := ignore
# Prints the pinned specs whose distribution is absent or at another version.
PIP_CHECK := import sys; from importlib import metadata as m; \
  have = {(d.metadata["Name"] or "").lower().replace("_", "-"): d.version for d in m.distributions()}; \
  print(" ".join(s for s in sys.argv[1:] if have.get(s.split("==")[0].lower()) != s.split("==")[1]))

.PHONY: deps deps-apt deps-pip deps-bench deps-image image image-test build release install run test swift-test e2e bench clean settings-doc fmt lint

deps: deps-apt deps-pip

deps-apt:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if ! command -v $(PYTHON) >/dev/null 2>&1; then missing="$$missing python3"; fi; \
	if ! $(PYTHON) -m pip --version >/dev/null 2>&1; then missing="$$missing python3-pip"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -q; \
	  $(APT_INSTALL_NO_START) $$missing; \
	else \
	  echo "deps: apt packages present"; \
	fi

deps-bench: deps-apt
	@missing=""; \
	for p in $(BENCH_APT_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; apt-get update -q; $(APT_INSTALL_NO_START) $$missing; \
	fi

deps-image: deps-apt
	@missing=""; \
	for p in $(IMAGE_APT_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; apt-get update -q; $(APT_INSTALL_NO_START) $$missing; \
	fi

deps-pip: deps-apt
	@missing=$$($(PYTHON) -c '$(PIP_CHECK)' $(PIP_PACKAGES)); \
	if [ -n "$$missing" ]; then \
	  echo "deps: pip installing $$missing"; \
	  $(PYTHON) -m pip install --quiet $$missing; \
	else \
	  echo "deps: python packages present"; \
	fi

build:
	$(SWIFT) build

# Builds every product: the daemon pinleased and the CLI pinlease.
release:
	$(SWIFT) build -c release

# The binaries, and the completion scripts argument-parser generates for bash, zsh and fish.
install: deps-apt release
	install -D -m 0755 .build/release/pinleased $(DESTDIR)$(PREFIX)/bin/pinleased
	install -D -m 0755 .build/release/pinlease $(DESTDIR)$(PREFIX)/bin/pinlease
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	.build/release/pinlease --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pinlease
	.build/release/pinlease --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_pinlease
	.build/release/pinlease --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/pinlease.fish

run: deps release
	mkdir -p $(DATA_DIR) $(STATE_DIR)
	@echo "starting pinleased on $(LISTEN), root $(DATA_DIR), state $(STATE_DIR) (Ctrl-C stops it)"
	exec .build/release/pinleased --listen $(LISTEN) --root $(DATA_DIR) --state-dir $(STATE_DIR) $(ARGS)

# The formatter is the toolchain's `swift format`, configured by .swift-format (4 spaces, 120 columns).
FORMATTED := Package.swift Sources Tests Plugins

fmt:
	$(SWIFT) format format --in-place --recursive --parallel $(FORMATTED)

lint:
	$(SWIFT) format lint --strict --recursive --parallel $(FORMATTED)

# Runs all three steps even when one fails, and fails if any failed.
test: deps build
	@rc=0; \
	echo "== swift format lint"; \
	$(MAKE) --no-print-directory lint || rc=1; \
	echo "== swift test"; \
	$(SWIFT) test || rc=1; \
	echo "== pytest tests/e2e"; \
	PINLEASED_BIN="$${PINLEASED_BIN:-$(CURDIR)/.build/debug/pinleased}" $(PYTHON) -m pytest tests/e2e -v || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make test: FAILED"; fi; \
	exit $$rc

swift-test: build
	$(SWIFT) test

e2e: build
	PINLEASED_BIN="$${PINLEASED_BIN:-$(CURDIR)/.build/debug/pinleased}" $(PYTHON) -m pytest tests/e2e -v

bench: deps deps-bench release
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/prepare.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/pin.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/leases.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/revoke.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/wal.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/slow_connections.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/crash.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/lease_scale.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/slow_receiver.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/state_scale.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/connections.sh
	PINLEASED_BIN="$(CURDIR)/.build/release/pinleased" bench/soak.sh

# The container image (see Docker/README.md); not part of `make test` (minutes: a release build and a base image).
image: deps-image
	Docker/image.sh build

# The image driven end to end, then deploy/systemd/pinleased.service under a real systemd in a container.
image-test: deps-image
	Docker/image.sh test
	Docker/image.sh systemd-test

# Rewrites the README's settings table from the settings table in the source (a unit test checks they agree).
settings-doc: build
	.build/debug/pinleased --print-settings-markdown > .build/settings-table.md
	$(PYTHON) -c 'import re, sys; readme = open("README.md").read(); table = open(".build/settings-table.md").read().strip(); \
	  begin, end = "<!-- settings-table: generated by `make settings-doc`, do not edit -->\n", "\n<!-- end of settings-table -->"; \
	  head, rest = readme.split(begin, 1); tail = rest.split(end, 1)[1]; open("README.md", "w").write(head + begin + table + end + tail)'

clean:
	rm -rf .build .pytest_cache tests/e2e/.pytest_cache bench/out
	find tests -name __pycache__ -type d -prune -exec rm -rf {} +
