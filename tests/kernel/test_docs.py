"""The plugin author's guide documents every hook with its exact signature."""

from __future__ import annotations

import inspect

import pytest
from support.docs import ROOT

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
