"""The README's promises hold: its embedding example runs and CI runs its test command."""

from __future__ import annotations

import re

import pytest
from support.docs import ROOT, code_blocks

import tocsin

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_embedding_example_runs(monkeypatch):
    (example,) = code_blocks(README, "python")
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    incident = namespace["incident"]
    state = namespace["engine"].get_escalation_state(incident.id)
    assert state.status is tocsin.EscalationStatus.ACKNOWLEDGED
    assert state.acknowledged_by == "team-lead@example.com"


def test_ci_runs_the_readme_test_command():
    match = re.search(r"pip install -e '\.\[test\]' && (python -m pytest[^\n`]*)", README)
    assert match, "the README states the test command"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install --quiet -e '.[test]'" in ci
    assert re.search(rf"^{re.escape(match.group(1))}", ci, re.M)


@pytest.mark.parametrize("path", re.findall(r"\]\((docs/[\w.]+\.md)\)", README))
def test_every_linked_document_exists(path):
    assert (ROOT / path).is_file()
