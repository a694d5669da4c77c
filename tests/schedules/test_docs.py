"""docs/schedules.md: its YAML loads and its Python runs, assertions included."""

from __future__ import annotations

import sys
import types
from unittest import mock

import yaml
from support.docs import ROOT, code_blocks
from support.schedules import builtin_registry

import tocsin

DOC = (ROOT / "docs" / "schedules.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return code_blocks(DOC, language)


def test_the_python_examples_run():
    module = types.ModuleType("schedules_doc_examples")  # the examples run as one module, in order
    python = blocks("python")
    assert len(python) >= 2
    with mock.patch.dict(sys.modules, {module.__name__: module}):
        for source in python:
            exec(compile(source, "docs/schedules.md", "exec", dont_inherit=True), module.__dict__)


def test_the_yaml_examples_are_valid_configuration():
    documents = [yaml.safe_load(source) for source in blocks("yaml")]
    full = [document for document in documents if "schedules" in document]
    assert full
    for document in full:
        config = tocsin.parse_config(document, builtin_registry(), source="docs/schedules.md")
        for schedule in config.schedules:
            tocsin.compile_schedule(schedule, builtin_registry())
    fragments = [document for document in documents if "schedules" not in document]
    for fragment in fragments:  # restriction and override snippets fit into a schedule
        layer = {"name": "Primary", "users": ["a"], "rotation": {"type": "daily", "handoff_hour": 9}}
        schedule = {"id": "s", "layers": [layer, {**layer, "name": "After Hours"}]}
        if "restrictions" in fragment:
            layer["restrictions"] = fragment["restrictions"]
        else:
            schedule.update(fragment)
        tocsin.parse_config({"schedules": [schedule]}, builtin_registry())
