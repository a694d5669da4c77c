"""structlog, configured once: human-readable on a terminal, JSON lines otherwise."""

from __future__ import annotations

import logging
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
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


def get_logger(name: str | None = None, **context: Any) -> Any:
    """A structlog logger bound to ``context`` (and ``logger=name`` when given)."""
    if name is not None:
        context = {"logger": name, **context}
    # Bind rather than pass to get_logger(): its own ``logger`` parameter would swallow ours.
    return structlog.get_logger().bind(**context)
