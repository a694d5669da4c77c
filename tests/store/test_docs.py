"""Every Python example in docs/storage.md runs as written."""

from __future__ import annotations

import pytest
from support.docs import ROOT, code_blocks

DOC = ROOT / "docs" / "storage.md"
BLOCKS = code_blocks(DOC.read_text(encoding="utf-8"), "python")


def test_the_storage_guide_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("source", BLOCKS, ids=[f"example-{n}" for n in range(1, len(BLOCKS) + 1)])
def test_each_example_runs(source):
    exec(compile(source, f"{DOC.name} example", "exec"), {"__name__": "docs_example"})
