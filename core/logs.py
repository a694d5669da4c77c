"""structlog, configured once: human-readable on a terminal, JSON lines otherwise.

A traceback is always plain text, never rendered with its frames' locals: one request with a 400-deep payload,
logged with a rich traceback of every frame's locals, once held the event loop (and every other request) for
minutes. That holds before :func:`configure_logging` runs too, and when it never does (tocsin embedded in a
program, the test suite): importing this module replaces structlog's default rich traceback formatter with the
plain one, unless the program configured structlog first.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger"]

_configured = False


class _Stderr:
    """Writes to whatever ``sys.stderr`` is when a line is written, not what it was when logging was set up
    (a test runner or an embedding program may replace it, and close the one it replaced)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, json: bool | None = None, level: str = "INFO") -> None:
    """Configure structlog to write to stderr. ``json=None`` picks JSON unless stderr is a terminal.

    Safe to call more than once: only the first call configures.
    """
    global _configured
    if _configured:
        return
    _configured = True
    use_json = (not sys.stderr.isatty()) if json is None else json
    # Tracebacks as plain text, never rendered with their locals (see the module's docs).
    if use_json:
        rendering: list[Any] = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        rendering = [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *rendering,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


def _plain_tracebacks_by_default() -> None:
    """structlog's default configuration, but with plain tracebacks (its default renders them with rich and
    every frame's locals); left alone when the program configured structlog already."""
    if structlog.is_configured():
        return
    colors = not os.environ.get("NO_COLOR") and (
        bool(os.environ.get("FORCE_COLOR")) or (sys.stdout is not None and sys.stdout.isatty())
    )  # as structlog's default decides
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.dev.set_exc_info,
            structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
            structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=structlog.dev.plain_traceback),
        ]
    )


_plain_tracebacks_by_default()


def get_logger(**context: Any) -> Any:
    """A structlog logger bound to ``context`` (``component=...`` names the part of tocsin that logs). It is
    lazy: a logger made at import time follows :func:`configure_logging` even when that runs later."""
    # structlog.get_logger(**values) keeps the values on a lazy proxy; .bind() on it would assemble the logger
    # with the configuration of that moment, before configure_logging ran.
    return structlog.get_logger(**context)
