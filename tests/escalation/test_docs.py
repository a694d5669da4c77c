"""Every example in docs/escalation.md works as written."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from support.docs import ROOT, code_blocks
from support.escalation import plugins

import tocsin
from tocsin.simulation.scenario import load_scenario

DOC = ROOT / "docs" / "escalation.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = code_blocks(TEXT, "python")
YAML = code_blocks(TEXT, "yaml")
SHELL = code_blocks(TEXT, starting=r"\$ tocsin simulate ")


def test_the_guide_has_its_examples():
    assert len(PYTHON) >= 6 and len(YAML) >= 3 and len(SHELL) == 1


@pytest.mark.parametrize("source", PYTHON, ids=[f"python-{n}" for n in range(1, len(PYTHON) + 1)])
def test_each_python_example_runs(source):
    exec(compile(source, f"{DOC.name} example", "exec"), {"__name__": "docs_example"})


@pytest.mark.parametrize("source", YAML, ids=[f"yaml-{n}" for n in range(1, len(YAML) + 1)])
def test_each_yaml_example_loads(source, tmp_path):
    if source.startswith("# scenario"):
        path = tmp_path / "scenario.yaml"
        path.write_text(source, encoding="utf-8")
        assert load_scenario(path).expect is not None
    else:
        assert source.startswith("# tocsin.yaml")
        tocsin.parse_config(yaml.safe_load(source), plugins().registry, source="docs")


def test_the_simulate_example_is_what_the_command_prints():
    command, _, shown = SHELL[0].partition("\n")
    arguments = command.removeprefix("$ tocsin ").split()
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", *arguments], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown
