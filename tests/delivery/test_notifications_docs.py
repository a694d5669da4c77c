"""docs/notifications.md: its Python examples run, its configs load, the Slack manifest is what the Slack channel
needs, and the `tocsin check` warning it shows is what the command prints."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from support.docs import ROOT, code_blocks

import tocsin

DOC = (ROOT / "docs" / "notifications.md").read_text(encoding="utf-8")
PYTHON = code_blocks(DOC, "python")
CONFIGS = code_blocks(DOC, "yaml", starting="# tocsin.yaml")


def test_the_guide_has_its_examples():
    assert len(PYTHON) >= 2 and len(CONFIGS) >= 5


@pytest.mark.parametrize("source", PYTHON, ids=[f"example-{n}" for n in range(1, len(PYTHON) + 1)])
def test_each_python_example_runs(source):
    exec(compile(source, "docs/notifications.md example", "exec"), {"__name__": "docs_example"})


@pytest.mark.parametrize("source", CONFIGS, ids=[f"config-{n}" for n in range(1, len(CONFIGS) + 1)])
def test_each_config_example_loads(source):
    tocsin.parse_config(yaml.safe_load(source), tocsin.load_plugins().registry, source="docs/notifications.md")


def test_the_slack_manifest_asks_for_what_the_channel_uses():
    (manifest,) = code_blocks(DOC, "yaml", starting="# slack app manifest")
    document = yaml.safe_load(manifest)
    assert {"chat:write", "im:write"} <= set(document["oauth_config"]["scopes"]["bot"])
    interactivity = document["settings"]["interactivity"]
    assert interactivity["is_enabled"] and interactivity["request_url"].endswith("/v1/slack/interactions")


def test_the_check_warning_is_what_tocsin_check_prints(tmp_path):
    (console,) = [block for block in code_blocks(DOC, "console") if block.startswith("$ tocsin check")]
    shown = console.splitlines()[1:]
    document = yaml.safe_load((ROOT / "examples" / "tocsin.yaml").read_text(encoding="utf-8"))
    document["users"] = {"eng1@example.com": {"contacts": [{"type": "email"}]}}
    document["channels"]["email"] = {"host": "127.0.0.1", "from_address": "tocsin@example.com"}
    (tmp_path / "tocsin.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", "check", "tocsin.yaml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == shown[:1] and done.stdout.splitlines() == shown[1:]
