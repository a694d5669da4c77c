"""structlog, configured once: human-readable on a terminal, JSON lines otherwise.

structlog is imported when tocsin first logs, not when this module is: importing structlog (it loads rich
too) would cost a command that never logs, such as ``tocsin check``, a tenth of a second. A logger from
:func:`get_logger` is made on its first use, and :func:`configure_logging` takes effect as soon as structlog
is loaded: at once when it is, else at tocsin's first log line.

A traceback is always plain text, never rendered with its frames' locals: one request with a 400-deep payload,
logged with a rich traceback of every frame's locals, once held the event loop (and every other request) for
minutes. That holds before :func:`configure_logging` runs too, and when it never does (tocsin embedded in a
program, the test suite): when structlog loads, or at this module's import if it is loaded already,
structlog's default rich traceback formatter is replaced with the plain one, unless the program configured
structlog first.
"""

from __future__ import annotations

import atexit
import sys
import threading
from types import ModuleType
from typing import Any

__all__ = ["configure_logging", "get_logger"]

_requested: tuple[bool | None, str] | None = None  # configure_logging's (json, level), kept until structlog loads
_state = "waiting"  # then "defaults" (plain tracebacks, nothing requested yet) or "configured" (as requested)


class _LineSink:
    """structlog's final logger: each event a line on ``sys.stderr`` (whatever it is when the line is written:
    a test runner or an embedding program may replace it, and close the one it replaced).

    In a running asyncio loop the lines are gathered and written, with one flush, when the loop has done what
    it is doing — a request that logs five lines costs one write, not five flushed ones. Elsewhere (the CLI, a
    worker thread) each line is written at once.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        loop = _running_loop()
        if loop is None:
            self._write(message + "\n")
            return
        with self._lock:
            self._lines.append(message)
            first = len(self._lines) == 1
        if first:
            loop.call_soon(self.flush)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg

    def flush(self) -> None:
        """Write the lines gathered so far."""
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self._write("\n".join(lines) + "\n")

    @staticmethod
    def _write(text: str) -> None:
        stream = sys.stderr
        if stream is not None:
            stream.write(text)
            stream.flush()


def _running_loop() -> Any:
    asyncio = sys.modules.get("asyncio")  # never imported for this: the CLI's commands run without it
    if asyncio is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_SINK = _LineSink()
atexit.register(_SINK.flush)


def configure_logging(*, json: bool | None = None, level: str = "INFO") -> None:
    """Configure structlog to write to stderr. ``json=None`` picks JSON unless stderr is a terminal.

    Safe to call more than once: only the first call's settings count. They apply at once when structlog is
    loaded, else when tocsin first logs; a later call applies them if structlog has been loaded since (by a
    plugin that imports it itself, say).
    """
    global _requested
    if _requested is None:
        _requested = (json, level)
    if "structlog" in sys.modules:
        _settle()


def get_logger(**context: Any) -> Any:
    """A structlog logger bound to ``context`` (``component=...`` names the part of tocsin that logs). It is
    lazy: a logger made at import time loads structlog only when it first logs, and follows
    :func:`configure_logging` even when that runs later."""
    return _Logger(context)


class _Logger:
    """Stands in for ``structlog.get_logger(**context)`` until its first use, then hands every attribute to it."""

    __slots__ = ("_bound", "_context", "_logger")

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context
        self._logger: Any = None
        self._bound = False

    def __getattr__(self, name: str) -> Any:
        logger = self._logger
        if not self._bound:
            if logger is None:
                structlog = _structlog()
                # structlog.get_logger(**values) keeps the values on a lazy proxy; .bind() on it would assemble
                # the logger with the configuration of that moment, before configure_logging ran.
                logger = self._logger = structlog.get_logger(**self._context)
            if _state == "configured":  # final (later calls of configure_logging change nothing): assemble it
                logger = self._logger = logger.bind()  # once, instead of the proxy assembling it at every line
                self._bound = True
        return getattr(logger, name)

    def __repr__(self) -> str:
        return f"<tocsin logger {self._context!r}>"


def _structlog() -> ModuleType:
    """structlog, imported and configured (see the module's docs)."""
    import structlog

    _settle()
    return structlog


def _settle() -> None:
    """Configure the loaded structlog as :func:`configure_logging` asked, or else with plain tracebacks."""
    global _state
    if _requested is not None and _state != "configured":
        _state = "configured"
        _configure(*_requested)
    elif _state == "waiting":
        _state = "defaults"
        _plain_tracebacks_by_default()


def _configure(json: bool | None, level: str) -> None:
    import logging

    import structlog

    use_json = (not sys.stderr.isatty()) if json is None else json
    # Tracebacks as plain text, never rendered with their locals (see the module's docs).
    if use_json:
        rendering: list[Any] = [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_json_line()),
        ]
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
        logger_factory=lambda *args: _SINK,
        cache_logger_on_first_use=True,
    )


def _json_line() -> Any:
    """structlog's JSON serializer (see :mod:`tocsin.jsontext`); a value JSON has no form for is written as
    structlog's default writes it: its ``__structlog__()`` if it has one, else its ``repr``."""
    from tocsin.jsontext import dumps

    def fallback(value: Any) -> Any:
        own = getattr(value, "__structlog__", None)
        return own() if callable(own) else repr(value)

    def serialize(event: Any, **_options: Any) -> str:
        return dumps(event, default=fallback)

    return serialize


def _plain_tracebacks_by_default() -> None:
    """structlog's default configuration, but with plain tracebacks (its default renders them with rich and
    every frame's locals); left alone when the program configured structlog already."""
    import os

    import structlog

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


if "structlog" in sys.modules:  # loaded already (by the program): nothing to save by waiting
    _settle()
