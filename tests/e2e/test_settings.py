"""Settings from every source: flags, PINLEASED_* environment variables and the JSON config file
(a flag wins over the environment, which wins over the file, which wins over the default)."""

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import require_binary
from e2e_support import daemon_binary, free_port

MiB = 1 << 20
README = Path(__file__).resolve().parents[2] / "README.md"


def budget(d) -> tuple[int, int]:
    body = d.ok("GET", "/v1/pins")
    return body["budget"]["budget_bytes"], body["budget"]["max_pins"]


def test_settings_from_environment_and_config_file(filesystems, extra_daemon, workdir: Path):
    fs = filesystems["tmpfs"]
    config = workdir / f"settings-{uuid.uuid4().hex[:6]}.json"
    config.write_text(json.dumps({"pin_budget_bytes": "6MiB", "pin_max_count": 3}))
    # The config file is named by the environment too; the variable beats the file's pin_max_count.
    env = {"PINLEASED_CONFIG": str(config), "PINLEASED_PIN_MAX_COUNT": "4"}
    d = extra_daemon(f"settings-env-{uuid.uuid4().hex[:6]}", [("tmpfs", fs.mountpoint)], env=env)
    assert budget(d) == (6 * MiB, 4)
    d.stop()
    # A flag beats the variable; the file still gives the budget.
    d.extra_args = ["--pin-max-count", "5"]
    d.start()
    assert budget(d) == (6 * MiB, 5)
    d.stop()
    # Without the variable, the file's value holds.
    d.env = {"PINLEASED_CONFIG": str(config)}
    d.extra_args = []
    d.start()
    assert budget(d) == (6 * MiB, 3)


def run_daemon(workdir: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    require_binary()
    state = workdir / f"settings-state-{uuid.uuid4().hex[:6]}"
    cmd = [str(daemon_binary()), "--state-dir", str(state), "--listen", f"127.0.0.1:{free_port()}",
           "--root", str(workdir)] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                          env={**os.environ, **env})


@pytest.mark.parametrize(
    "config,env,wanted",
    [
        (None, {"PINLEASED_PIN_MAX_COUNT": "0"}, "PINLEASED_PIN_MAX_COUNT must be greater than 0"),
        (None, {"PINLEASED_THREADS": "x"}, "PINLEASED_THREADS must be a whole number"),
        # Checked even though the --listen flag overrides it.
        (None, {"PINLEASED_LISTEN": "nowhere"}, "PINLEASED_LISTEN must be HOST:PORT, got 'nowhere'"),
        ({"bogus": 1}, {}, "unknown setting 'bogus'"),
        ({"threads": "4"}, {}, "'threads' must be a non-negative integer"),
        ({"pin_budget_bytes": "lots"}, {}, "'pin_budget_bytes': 'lots' is not a size"),
    ],
    ids=["env-zero", "env-not-a-number", "env-overridden", "config-unknown-key", "config-wrong-type", "config-bad-size"],
)
def test_bad_setting_refuses_to_start_with_one_line(config, env, wanted, workdir: Path):
    args = []
    if config is not None:
        path = workdir / f"bad-settings-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(config))
        args = ["--config", str(path)]
    result = run_daemon(workdir, args, env)
    assert result.returncode != 0, result
    lines = (result.stderr + result.stdout).strip().splitlines()
    assert len(lines) == 1 and wanted in lines[0], lines


def test_help_and_readme_name_every_setting():
    require_binary()
    help_text = subprocess.run([str(daemon_binary()), "--help"], capture_output=True, text=True, timeout=30).stdout
    table = subprocess.run([str(daemon_binary()), "--print-settings-markdown"], capture_output=True, text=True,
                           timeout=30, check=True).stdout.strip()
    assert table in README.read_text(), "README's settings table differs from --print-settings-markdown"
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) >= 27
    for row in rows:
        flag = row.split("`")[1].split()[0]
        variable = row.split("`")[3]
        assert flag in help_text and variable in help_text, row
