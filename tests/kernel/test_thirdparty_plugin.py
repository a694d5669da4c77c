"""A separately packaged plugin (tests/thirdparty/tocsin-acme: plugin settings, a configurable target, a
follow-the-sun rotation with per-desk people, a channel with a sender lifecycle, an observer), installed into a
fresh virtual environment, extends tocsin end to end; its own tests run there on tocsin's pytest fixtures."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "thirdparty" / "tocsin-acme"

CONFIG = """
plugins:
  acme: {country_code: "+44", desks: {emea: 7, amer: 15}}
users:
  ana@example.com: {contacts: [{type: acme_sms, number: "7700 900001"}]}
schedules:
  - id: desks
    timezone: UTC
    layers: [{name: desks, rotation: {type: acme_desks, people: {emea: [ana@example.com]}}}]
policies:
  - id: sms
    levels:
      - targets: [{type: schedule, schedule_id: desks}]
      - delay_minutes: 10
        targets: [{type: acme_sms, number: "7700 900900"}]
"""

# Five faults of five kinds: a wrong type (in a list: at its element), a validator, a reference that does not
# resolve, a plugin's own check, an unknown time zone.
FIVE_FAULTS = """
teams:
  sre: [ana@example.com, 42]
plugins:
  acme: {country_code: "+44", desks: {emea: 7, amer: 15}}
users:
  ana@example.com: {contacts: [{type: acme_sms, number: "7700 900001"}]}
schedules:
  - id: desks
    timezone: Europe/Londn
    layers: [{name: desks, rotation: {type: acme_desks, people: {emea: [ana@example.com]}}}]
policies:
  - id: sms
    levels:
      - targets: [{type: schedule, schedule_id: desk}]
      - delay_minutes: -10
        targets: [{type: acme_sms, number: "+1 555 0100"}]
"""


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory):
    """A new virtual environment that sees this tocsin and its dependencies, plus the installed plugin."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Reuse this interpreter's installed packages (tocsin and pytest included) instead of downloading them again.
    parents = [p for p in site.getsitepackages() if os.path.isdir(p)]
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in parents)
    Path(purelib, "_parent_env.pth").write_text(lines)
    source = tmp_path_factory.mktemp("src") / "tocsin-acme"  # built from a copy: nothing written into the tree
    shutil.copytree(PLUGIN_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip, "--target", purelib, str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    return python, source


def run(python, *args, cwd=None, **env):
    return subprocess.run(
        [str(python), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "", "TOCSIN_BLOCKED_PLUGINS": "", **env},
    )


def tocsin(env, *args, **variables):
    return run(env[0], "-m", "tocsin", *args, **variables)


def test_the_plugin_is_listed_under_its_name_and_distribution(fresh_env):
    result = tocsin(fresh_env, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    for key, name in (("targets", "acme_sms"), ("rotations", "acme_desks"), ("channels", "acme_sms")):
        assert document[key][name] == {"plugin": "acme"}
    assert document["settings"]["acme"] == {"plugin": "acme"}
    assert "acme" in document["observers"]["tocsin_notification_failed"]
    assert {"name": "acme", "distribution": "tocsin-acme", "version": "2.0.0"} in document["plugins"]


def test_the_plugins_own_tests_pass_on_tocsins_fixtures(fresh_env, tmp_path):
    python, source = fresh_env
    result = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(source / "tests"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_a_config_using_the_plugin_loads_and_pages_through_it(fresh_env, tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG)
    result = tocsin(fresh_env, "check", str(path))
    assert result.returncode == 0, result.stderr
    shifts = tocsin(fresh_env, "oncall", str(path), "desks", "--at", "2026-03-02T09:00:00Z", "--json")
    assert json.loads(shifts.stdout)["oncall"][0]["user"] == "ana@example.com"


def test_five_faults_of_five_kinds_get_five_lines_from_one_check(fresh_env, tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(FIVE_FAULTS)
    result = tocsin(fresh_env, "check", str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}: $.teams['sre'][1]: expected a string, got 42",
        f"{path}: $.policies[0].levels[1].delay_minutes: must be 0 or more, got -10",
        f"{path}: $.policies[0].levels[0].targets[0]: unknown schedule 'desk'; known: desks",
        f"{path}: $.policies[0].levels[1].targets[0]: ACME sends to +44 numbers, got '+1 555 0100'",
        f"{path}: $.schedules[0].timezone: unknown time zone 'Europe/Londn' (did you mean 'Europe/London'?)",
    ]


def test_blocking_the_plugin_names_it_where_its_names_are_missing(fresh_env, tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG)
    listed = json.loads(tocsin(fresh_env, "plugins", "--json", TOCSIN_BLOCKED_PLUGINS="acme").stdout)
    assert "acme_sms" not in listed["targets"] and "acme_desks" not in listed["rotations"]
    assert listed["blocked"] == [
        {
            "name": "acme",
            "distribution": "tocsin-acme",
            "version": "2.0.0",
            "reason": "blocked by TOCSIN_BLOCKED_PLUGINS",
        }
    ]
    result = tocsin(fresh_env, "check", str(path), TOCSIN_BLOCKED_PLUGINS="acme")
    assert result.returncode == 1
    assert (
        f"{path}: $.policies[0].levels[1].targets[0]: unknown target type 'acme_sms'; known: schedule, team, user, "
        "webhook: provided by plugin 'acme', blocked by TOCSIN_BLOCKED_PLUGINS"
    ) in result.stderr.splitlines()


def test_the_plugin_is_not_visible_to_this_environment():
    # The plugin lives only in the fresh environment: proof that the tests above used the installed package.
    result = subprocess.run([sys.executable, "-c", "import tocsin_acme"], capture_output=True)
    assert result.returncode != 0
