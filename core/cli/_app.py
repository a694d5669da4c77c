"""The typer application, shared helpers for commands, and the one place user errors become exit 1.

Starting the command costs only what the command needs: loading this module and the command modules imports
typer, :mod:`tocsin.errors` and the standard library, and each command imports the rest of tocsin when it
runs, so ``tocsin --help`` loads neither the config loader nor the server (bench/cli.py times it). Help and
usage errors are typer's plain ones (``rich_markup_mode=None``): drawing them with rich costs more than all
the rest of ``tocsin --help``; values are typer's too, without pydantic for strings and paths.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

from tocsin.cli._params import Group
from tocsin.errors import TocsinError

if TYPE_CHECKING:
    from tocsin.config import Config
    from tocsin.manager import Plugins

__all__ = ["UserError", "app", "echo", "emit_json", "load", "load_plugin_set", "user_errors"]

app = typer.Typer(
    name="tocsin",
    help="tocsin: incident escalation — policies, on-call schedules, routing rules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=Group,  # str and Path values without pydantic (see tocsin.cli._params)
)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the installed tocsin's version and exit."),
) -> None:
    """tocsin: incident escalation — policies, on-call schedules, routing rules."""
    if version:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            echo(f"tocsin {installed('tocsin')}")
        except PackageNotFoundError:
            echo("tocsin (not installed as a distribution: no version)", err=True)
            raise typer.Exit(1) from None
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        echo(ctx.get_help())
        raise typer.Exit(0)


P = ParamSpec("P")
R = TypeVar("R")


class UserError(TocsinError):
    """A mistake in how a command was called (a bad option value, a missing file)."""


def echo(text: str, *, err: bool = False) -> None:
    """Print one line as it is (no markup, no wrapping) on stdout, or on stderr with ``err``."""
    (sys.stderr if err else sys.stdout).write(text + "\n")


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn tocsin's errors (and any other failure) into a message on stderr and exit code 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from tocsin.logs import configure_logging  # structlog itself loads only when something logs

        configure_logging()
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except TocsinError as exc:
            echo(str(exc), err=True)
        except Exception as exc:  # never a traceback for the user
            echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1)

    return run


def load_plugin_set() -> Plugins:
    """Load the plugins, warning on stderr about any that failed to import."""
    from tocsin.manager import load_plugins

    plugins = load_plugins()
    for failure in plugins.failures:
        echo(f"warning: {failure}", err=True)
    return plugins


def load(config_path: Path) -> tuple[Plugins, Config]:
    """Load the plugins and the configuration at ``config_path``."""
    from tocsin.config import load_config

    plugins = load_plugin_set()
    config = load_config(config_path, plugins.registry)
    return plugins.configured(config.plugins), config


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (no colour, no wrapping)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
