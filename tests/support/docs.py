"""Reading the project's docs: where they are and the fenced code blocks inside them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def doc_text(name: str) -> str:
    """The text of ``docs/<name>`` (or of ``README.md`` when *name* is that)."""
    path = ROOT / name if name == "README.md" else DOCS / name
    return path.read_text(encoding="utf-8")


def code_blocks(text: str, language: str = "", *, starting: str = "") -> list[str]:
    """The bodies of the fenced blocks in *text* whose fence names *language* (``""``: a bare fence).

    *starting* keeps only the blocks whose body begins with that text (a regular expression). Fences are
    matched at the start of a line, so a fence quoted inside a block does not end it.
    """
    pattern = rf"^```{re.escape(language)}\n({starting}.*?)^```"
    return re.findall(pattern, text, re.MULTILINE | re.DOTALL)
