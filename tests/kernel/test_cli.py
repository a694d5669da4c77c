"""``tocsin check`` and ``tocsin plugins`` as a user runs them: exit codes, stdout, stderr, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from support.kernel_plugins import fake_distribution

PLUGIN_CODE = """
    import sys
    sys.path.insert(0, {tests!r})
    from support.kernel_plugins import basic_plugin
    plugin = basic_plugin("kernel-test")
    globals().update({{name: getattr(plugin, name) for name in dir(plugin) if name.startswith("tocsin_")}})
"""

CONFIG = {
    "teams": {"platform": ["eng1@example.com"]},
    "policies": [
        {
            "id": "p1",
            "levels": [
                {"targets": [{"type": "person", "email": "lead@example.com"}]},
                {"delay_minutes": 5, "targets": [{"type": "crew", "team_id": "platform"}]},
            ],
        }
    ],
}


@pytest.fixture
def run(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fake_distribution(
        site, "kernel-test-plugin", "2.0", {"kernel-test": "kernel_test_entry"}, PLUGIN_CODE.format(tests=tests)
    )
    env = {**os.environ, "PYTHONPATH": str(site), "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": ""}

    def run(*args, **extra_env):
        return subprocess.run(
            [sys.executable, "-m", "tocsin", *args],
            capture_output=True,
            text=True,
            env={**env, **extra_env},
            timeout=60,
        )

    return run


def write(tmp_path, document, name="tocsin.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_check_accepts_a_good_config(run, tmp_path):
    result = run("check", str(write(tmp_path, CONFIG)))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_check_prints_each_fault_on_its_own_line(run, tmp_path):
    broken = yaml.safe_load(yaml.safe_dump(CONFIG))
    broken["policies"][0]["levels"][0]["targets"][0]["type"] = "carrier_pigeon"
    broken["policies"][0]["levels"][1]["targets"][0]["team_id"] = "nope"
    broken["policies"][0]["levels"][1]["delay_minutes"] = "soon"
    path = write(tmp_path, broken)
    result = run("check", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}: $.policies[0].levels[0].targets[0]: unknown target type 'carrier_pigeon'")
    assert lines[1] == f"{path}: $.policies[0].levels[1].delay_minutes: expected an integer, got 'soon'"
    # the reference is checked in the same pass, not once the structure is fixed
    assert lines[2] == f"{path}: $.policies[0].levels[1].targets[0]: unknown team 'nope'; known: platform"
    assert "Traceback" not in result.stderr


def test_check_reports_a_cross_reference_alone(run, tmp_path):
    broken = yaml.safe_load(yaml.safe_dump(CONFIG))
    broken["policies"][0]["levels"][1]["targets"][0]["team_id"] = "nope"
    path = write(tmp_path, broken)
    result = run("check", str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"{path}: $.policies[0].levels[1].targets[0]: unknown team 'nope'; known: platform"


@pytest.mark.parametrize("content", ["teams: [unclosed", "- just\n- a list\n"])
def test_check_never_prints_a_traceback(run, tmp_path, content):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = run("check", str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}: $: ")
    assert "Traceback" not in result.stderr


def test_check_on_a_missing_file(run, tmp_path):
    result = run("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "cannot read file" in result.stderr


def test_plugins_json_lists_names_with_their_plugins(run):
    result = run("plugins", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) >= {"operators", "extractors", "actions", "rotations", "targets", "channels", "plugins"}
    assert document["targets"]["crew"] == {"plugin": "kernel-test"}
    assert document["operators"]["is"] == {"plugin": "kernel-test"}
    assert {"name": "kernel-test", "distribution": "kernel-test-plugin", "version": "2.0"} in document["plugins"]
    for builtin in (p for p in document["plugins"] if p["name"].startswith("tocsin.")):
        assert builtin["distribution"] is None and builtin["version"] is None


def test_plugins_can_be_blocked_from_the_environment(run):
    result = run("plugins", "--json", TOCSIN_BLOCKED_PLUGINS="kernel-test")
    document = json.loads(result.stdout)
    assert "crew" not in document["targets"]
    assert all(p["name"] != "kernel-test" for p in document["plugins"])
    assert document["blocked"] == [
        {
            "name": "kernel-test",
            "distribution": "kernel-test-plugin",
            "version": "2.0",
            "reason": "blocked by TOCSIN_BLOCKED_PLUGINS",
        }
    ]


def test_a_name_a_blocked_plugin_provides_says_so_where_it_is_missing(run, tmp_path):
    path = write(tmp_path, CONFIG)
    result = run("check", str(path), TOCSIN_BLOCKED_PLUGINS="kernel-test")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"{path}: $.policies[0].levels[0].targets[0]: unknown target type 'person'; "
        "known: schedule, team, user, webhook: provided by plugin 'kernel-test', blocked by TOCSIN_BLOCKED_PLUGINS"
    )
    result = run("check", str(path), TOCSIN_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.stderr.splitlines()[0].endswith(
        "provided by plugin 'kernel-test', not loaded: TOCSIN_DISABLE_PLUGIN_AUTOLOAD"
    )
    listed = json.loads(run("plugins", "--json", TOCSIN_DISABLE_PLUGIN_AUTOLOAD="1").stdout)
    assert [p["name"] for p in listed["not_autoloaded"]] == ["kernel-test"] and listed["blocked"] == []


def test_plugins_table_is_readable(run):
    result = run("plugins")
    assert result.returncode == 0
    assert "crew" in result.stdout and "kernel-test" in result.stdout


def test_plugins_table_shows_every_extension_point_and_the_observers(run):
    result = run("plugins", TOCSIN_BLOCKED_PLUGINS="kernel-test")
    rows = {tuple(line.split()) for line in result.stdout.splitlines()}
    assert ("sources", "alertmanager", "tocsin.plugins.source_alertmanager") in rows
    assert ("rotations", "follow_the_sun", "tocsin.plugins.rotation_follow_the_sun") in rows
    assert ("observers", "tocsin_notification_failed", "tocsin.plugins.audit") in rows
    assert "plugin kernel-test (kernel-test-plugin 2.0): blocked by TOCSIN_BLOCKED_PLUGINS" in result.stdout


def test_an_unknown_command_is_a_usage_error(run):
    result = run("frobnicate")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
