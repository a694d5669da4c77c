"""Testing tocsin plugins and policies: a recording sender, an engine wired to it on a manual clock, a config
builder and a notification factory, and the pytest fixtures built on them (:mod:`tocsin.testing.fixtures`,
loaded by pytest through the ``pytest11`` entry point)."""

from __future__ import annotations

from tocsin.testing.builders import ConfigBuilder, make_notification
from tocsin.testing.pager import Page, Pager, RecordingSender

__all__ = ["ConfigBuilder", "Page", "Pager", "RecordingSender", "make_notification"]
