#!/usr/bin/env python3
"""Markdown tables of bench/state_scale.sh from its results.tsv (one row per measurement:
kind, then figures; see the script for what each kind holds)."""
import ast
import json
import sys

path, fs, file_kib, pins, holders, window, lat_requests, kernel = sys.argv[1:]
rows = []
for line in open(path):
    fields = [f for f in line.rstrip("\n").split("\t") if f != ""]
    if fields:
        rows.append(fields)


def kib(text):
    """ "VmRSS RssAnon RssFile " (KiB) -> MiB figures."""
    return [int(x) / 1024 for x in text.split()]


def mib(n):
    return f"{n:.1f}"


def db(text):
    size, wal = text.split()
    return f"{int(size) / 2**20:.1f} / {int(wal) / 2**20:.1f}" if size != "-" and wal != "-" else f"{size} / {wal}"


def by(kind):
    return {r[1]: r[2:] for r in rows if r[0] == kind}


audit, fill, holder, status = by("audit"), by("fill"), by("holder"), by("status")
idle, recover, expiry = by("idle"), by("recover"), by("expiry")
pinned = [r for r in rows if r[0] == "pinned"][0]
levels = list(fill)
files = max(audit, key=int)
base_rss = kib(pinned[2])
print(f"One run, kernel {kernel}; {int(files):,} locked files of {file_kib} KiB on a loop-mounted {fs}, "
      f"{pins} one-page pins on the first files, leases spread over every pin and {holders} holders; "
      f"state on /var/tmp. Levels in turn on one daemon (leases only added).\n")
print("| | " + " | ".join(f"{int(level):,} leases" for level in levels) + " |")
print("|---|" + "---:|" * len(levels))


def line(label, cells):
    print(f"| {label} | " + " | ".join(cells) + " |")


line("live leases (TTL 1 day)", [f"{int(fill[x][0]):,}" for x in levels])
line("grants to reach it: count, s, grants/s",
     [f"{int(fill[x][1]):,}, {float(fill[x][2]):.1f} s, {int(fill[x][1]) / max(float(fill[x][2]), 0.01):,.0f}/s"
      for x in levels])
line("VmRSS (MiB)", [mib(kib(fill[x][3])[0]) for x in levels])
line("RssAnon (MiB; excludes the pinned pages)", [mib(kib(fill[x][3])[1]) for x in levels])
line("RssFile (MiB; pinned pages, binary, libraries)", [mib(kib(fill[x][3])[2]) for x in levels])
line(f"RssAnon above the {pins} pins without leases ({mib(base_rss[1])} MiB), per live lease (bytes)",
     [f"{(kib(fill[x][3])[1] - base_rss[1]) * 2**20 / int(fill[x][0]):,.0f}" for x in levels])
line("state DB / WAL (MiB)", [db(fill[x][4]) for x in levels])
line(f"GET /v1/leases?holder=h7: p50 / p99 (ms), items, bytes",
     [f"{float(holder[x][0]):.2f} / {float(holder[x][1]):.2f}, {int(holder[x][3]):,}, {int(holder[x][4]):,}" for x in levels])
line("GET /v1/status: p50 / p99 (ms)", [f"{float(status[x][0]):.2f} / {float(status[x][1]):.2f}" for x in levels])
line(f"audit pass, {int(files):,} files: mean ms (passes in {window} s)",
     [f"{float(idle[x][0]):.1f} ({idle[x][1]})" for x in levels])
line(f"daemon CPU idle over {window} s (% of one core)", [f"{float(idle[x][2]):.1f}" for x in levels])
line("restart after kill -9: /readyz 200 (s)", [f"{float(recover[x][0]):.2f}" for x in levels])
line("… /v1/status counts every lease (s)", [f"{float(recover[x][1]):.2f}" for x in levels])
line("… full listing has them all (s; listed)", [f"{float(recover[x][2]):.2f} ({int(recover[x][3]):,})" for x in levels])
line("RssAnon after the restart, before the full listing (MiB)", [mib(int(recover[x][5]) / 1024) for x in levels])
line("VmRSS / RssAnon after the restart and the full listing (MiB)",
     [f"{mib(kib(recover[x][6])[0])} / {mib(kib(recover[x][6])[1])}" for x in levels])
line("state DB / WAL after the restart (MiB)", [db(recover[x][7]) for x in levels])
cells, short = [], []
for x in levels:
    count, ttl, took, before, seconds, after = expiry[x][:6]
    gone = ast.literal_eval(before)
    early = int(count) - (gone["active"] + gone["revoking"] - int(fill[x][0]))
    short.append(f"{int(count):,}, {ttl}, {float(took):.1f}, {early:,}")
    cells.append(f"{float(seconds):.2f} s ({int(count) / max(float(seconds), 0.001):,.0f}/s)")
line("expiry: as many leases again (TTL short, grace 0) all due at once: s until all ended", cells)
line("… daemon CPU s (user + system) until all ended, and µs per lease",
     [f"{float(expiry[x][8]):.2f}, {float(expiry[x][8]) * 1e6 / int(expiry[x][0]):.0f}" if len(expiry[x]) > 8 else "-"
      for x in levels])
line("… those leases: granted, TTL s, grant time s, ended before the SIGSTOP", short)
line("VmRSS / RssAnon after the expiry (MiB)",
     [f"{mib(kib(expiry[x][6])[0])} / {mib(kib(expiry[x][6])[1])}" for x in levels])
line("state DB / WAL after the expiry (MiB)", [db(expiry[x][7]) for x in levels])
print()
print("Audit over locked files (before any pin or lease):\n")
print("| locked files | lock them (s, concurrent) | audit pass mean (ms) | passes | CPU (% of one core) | "
      "daemon CPU per pass per file (µs) | VmRSS / RssAnon (MiB) |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for count in sorted(audit, key=int):
    locked, secs, mean, passes, cpu, rss = audit[count]
    r = kib(rss)
    window_s = 10 if int(count) != int(files) else float(window)
    per_file = float(cpu) / 100 * window_s / max(int(passes), 1) / int(count) * 1e6
    print(f"| {int(count):,} | {float(secs):.1f} ({locked} files) | {float(mean):.1f} | {passes} | {float(cpu):.1f} | "
          f"{per_file:.1f} | {mib(r[0])} / {mib(r[1])} |")
stop = [r for r in rows if r[0] == "stop"]
if stop:
    print(f"\nSIGTERM with {int(stop[0][1]):,} live leases: stopped in {float(stop[0][2]):.2f} s. "
          f"Latencies: {lat_requests} (holder) and {int(lat_requests) * 2} (status) sequential requests, one "
          "keep-alive connection (Python http.client).")
for x in levels:
    print(f"- {int(x):,}: leases in GET /v1/status once the expiry was over: {json.loads(expiry[x][5])}")
