"""The smart-escalation part of docs/escalation.md says what the code does: its console sessions are what the
commands print, its scenario passes against its config, and its error lines are what ``tocsin check`` says.
(Its Python and YAML examples run in test_escalation_docs.py, with the rest of the page.)"""

from __future__ import annotations

import subprocess
import sys

import yaml
from support.docs import ROOT, code_blocks
from support.escalation import plugins

import tocsin
from tocsin.simulation.runner import compare, simulate
from tocsin.simulation.scenario import load_scenario

TEXT = (ROOT / "docs" / "escalation.md").read_text(encoding="utf-8")
SMART = TEXT[TEXT.index("## Smart escalation") :]
CONSOLE = code_blocks(SMART, "console")
YAML = code_blocks(SMART, "yaml")
PYTHON = code_blocks(SMART, "python")
ERRORS = code_blocks(SMART, starting=r"tocsin\.yaml: ")


def run(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    env = {"TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *arguments], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def test_the_section_has_an_example_for_each_feature():
    assert len(CONSOLE) == 2 and len(PYTHON) == 5 and len(YAML) >= 6 and len(ERRORS) == 1
    for heading in ("Working hours", "Conditional levels", "Round robin", "Everyone acknowledges", "Urgency", "Snooze"):
        assert f"### {heading}" in SMART


def test_each_console_session_is_what_the_command_prints():
    for session in CONSOLE:
        command, _, shown = session.partition("\n")
        arguments = []
        for word in command.removeprefix("$ tocsin ").split():  # the shell's glob expansion, sorted as it sorts
            matches = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob(word)) if "*" in word else [word]
            arguments.extend(matches)
        done = run(arguments)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout == shown


def test_the_snooze_scenario_passes_against_the_conditional_levels_config(tmp_path):
    config_text = next(block for block in YAML if "p1-business-aware" in block)
    scenario_text = next(block for block in YAML if block.startswith("# scenario"))
    config = tocsin.parse_config(yaml.safe_load(config_text), plugins().registry, source="docs")
    path = tmp_path / "snooze.yaml"
    path.write_text(scenario_text, encoding="utf-8")
    result = simulate(load_scenario(path), config, plugins())
    assert compare(result) == []
    assert [entry["at"] for entry in result.timeline if entry["event"] == "snooze_ended"] == [
        "2026-03-24T22:33:00+01:00"
    ]


def test_the_error_lines_are_what_check_prints(tmp_path):
    broken = tmp_path / "tocsin.yaml"
    printed: list[str] = []
    documents = [
        {
            "working_hours": {
                "business": {"intervals": []},
                "nights": {"intervals": [{"days": [6, 7], "start": "22:00", "end": "06:00"}]},
            }
        },
        {
            "working_hours": {"business": {"intervals": [{"days": [1], "start": "09:00", "end": "17:30"}]}},
            "policies": [
                {
                    "id": "p1",
                    "levels": [
                        {"targets": [{"type": "user", "email": "oncall@example.com"}]},
                        {"targets": [{"type": "user", "email": "lead@example.com"}], "when": {"during": "busines"}},
                    ],
                }
            ],
        },
    ]
    for document in documents:
        broken.write_text(yaml.safe_dump(document), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "tocsin", "check", "tocsin.yaml"], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == 1
        printed.extend(done.stderr.splitlines())
    assert ERRORS[0].splitlines() == printed
