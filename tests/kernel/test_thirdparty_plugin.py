"""A separately packaged plugin, installed into a fresh virtual environment, extends tocsin end to end."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "thirdparty" / "tocsin-acme"

CONFIG = """
teams:
  platform: [eng1@example.com]
policies:
  - id: sms-first
    levels:
      - targets: [{type: acme_sms, number: "+15550100"}]
      - delay_minutes: 5
        targets: [{type: acme_sms, number: "+15550101"}]
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
    # Reuse this interpreter's installed packages (tocsin included) instead of downloading them again.
    parents = [p for p in site.getsitepackages() if os.path.isdir(p)]
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in parents)
    Path(purelib, "_parent_env.pth").write_text(lines)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            purelib,
            str(PLUGIN_DIR),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return python


def run(python, *args, **env):
    return subprocess.run(
        [str(python), "-m", "tocsin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "", "TOCSIN_BLOCKED_PLUGINS": "", **env},
    )


def test_the_plugin_is_listed_under_its_name_and_distribution(fresh_env):
    result = run(fresh_env, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["operators"]["longer_than"] == {"plugin": "acme"}
    assert document["targets"]["acme_sms"] == {"plugin": "acme"}
    assert {"name": "acme", "distribution": "tocsin-acme", "version": "1.2.0"} in document["plugins"]


def test_a_config_using_the_plugin_loads(fresh_env, tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG)
    result = run(fresh_env, "check", str(path))
    assert result.returncode == 0, result.stderr


def test_blocking_the_plugin_by_name_removes_what_it_registered(fresh_env, tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(CONFIG)
    listed = json.loads(run(fresh_env, "plugins", "--json", TOCSIN_BLOCKED_PLUGINS="acme").stdout)
    assert "acme_sms" not in listed["targets"] and "longer_than" not in listed["operators"]
    result = run(fresh_env, "check", str(path), TOCSIN_BLOCKED_PLUGINS="acme")
    assert result.returncode == 1
    assert f"{path}: $.policies[0].levels[0].targets[0]: unknown target type 'acme_sms'" in result.stderr


def test_the_plugin_is_not_visible_to_this_environment():
    # The plugin lives only in the fresh environment: proof that the tests above used the installed package.
    result = subprocess.run([sys.executable, "-c", "import tocsin_acme"], capture_output=True)
    assert result.returncode != 0
