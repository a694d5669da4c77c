"""The ``tocsin`` command line. Each command lives in its own module and is added to :data:`app` here."""

from __future__ import annotations

import sys

from tocsin.cli import check, db, oncall, plugins_cmd, route, serve, simulate, test_cmd  # noqa: F401  (each module adds its command to app)
from tocsin.cli._app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors exit 1 with a message on stderr, never a traceback."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="tocsin")
