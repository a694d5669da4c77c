"""The typer application, shared helpers for commands, and the one place user errors become exit 1."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from tocsin.config import Config, load_config
from tocsin.errors import TocsinError
from tocsin.logs import configure_logging
from tocsin.manager import Plugins, load_plugins

__all__ = ["app", "emit_json", "err_console", "load", "out_console", "user_errors"]

app = typer.Typer(
    name="tocsin",
    help="tocsin: incident escalation — policies, on-call schedules, routing rules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out_console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


class UserError(TocsinError):
    """A mistake in how a command was called (a bad option value, a missing file)."""


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn tocsin's errors (and any other failure) into a message on stderr and exit code 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        configure_logging()
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except TocsinError as exc:
            err_console.print(str(exc), markup=False)
        except Exception as exc:  # never a traceback for the user
            err_console.print(f"error: {type(exc).__name__}: {exc}", markup=False)
        raise typer.Exit(1)

    return run


def load_plugin_set() -> Plugins:
    """Load the plugins, warning on stderr about any that failed to import."""
    plugins = load_plugins()
    for failure in plugins.failures:
        err_console.print(f"warning: {failure}", markup=False)
    return plugins


def load(config_path: Path) -> tuple[Plugins, Config]:
    """Load the plugins and the configuration at ``config_path``."""
    plugins = load_plugin_set()
    return plugins, load_config(config_path, plugins.registry)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
