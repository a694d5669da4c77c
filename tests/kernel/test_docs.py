"""The plugin author's guide documents every hook with its exact signature."""

from __future__ import annotations

import inspect

import pytest
from support.docs import ROOT, code_blocks

from tocsin import hookspecs

DOCS = ROOT / "docs"
HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("tocsin_"))


def signature_line(name: str) -> str:
    function = getattr(hookspecs, name)
    signature = inspect.signature(function)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"def {name}({params}) -> {signature.return_annotation}:"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_appears_in_the_plugin_guide_with_its_signature(hook):
    assert signature_line(hook) in (DOCS / "plugins.md").read_text(encoding="utf-8")


def test_every_hook_has_a_docstring():
    assert [name for name in HOOKS if not (getattr(hookspecs, name).__doc__ or "").strip()] == []


def test_the_playbook_type_example_runs_a_queued_playbook_through_the_outbox():
    guide = (DOCS / "plugins.md").read_text(encoding="utf-8")
    section = guide[guide.index("### Playbook types") : guide.index("## Observer hooks")]
    hook, example = code_blocks(section, "python")
    assert hook.strip().endswith(signature_line("tocsin_register_playbooks"))
    exec(compile(example, "docs/plugins.md", "exec", dont_inherit=True), {"__name__": "docs_example"})
