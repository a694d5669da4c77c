"""Parameter values without pydantic: typer's own checks, minus the ``TypeAdapter`` for a string, path or flag.

typer (0.29 and later) coerces each parameter's value through a pydantic ``TypeAdapter``, built the first time
the parameter is used: importing pydantic and building the adapters costs a command about 150 ms, a third of
``tocsin check``. A string needs no coercion, a flag is a bool already, and a path needs only ``Path(value)``
before typer's checks on it (exists, readable, ...). So :class:`Group` gives the ``str``, ``bool`` and ``Path``
parameters (and lists of them) of the command it runs, ``--help`` included, a coercer that does just that.
Any other type, and any typer without this lazy coercion (older or newer ones), is left to typer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import typer.core

__all__ = ["Group"]


class Group(typer.core.TyperGroup):
    """typer's command group, coercing string, path and flag values without pydantic (see the module's docs)."""

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        for param in params:
            _plain_coercion(param)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            for param in command.get_params(ctx):  # its own, and its --help (made once, then kept)
                _plain_coercion(param)
        return command


class _Plain:
    """What typer asks of a parameter's coercer (``coerce(value, param=, ctx=)``), for one plain type."""

    __slots__ = ("_convert",)

    def __init__(self, convert: Callable[[Any, Any, Any], Any]) -> None:
        self._convert = convert

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        many = param.multiple or param.nargs == -1
        if value is None:
            return () if many else None
        if not many:
            return self._convert(value, param, ctx)
        if isinstance(value, str):
            raise typer.BadParameter("Value must be an iterable.", ctx=ctx, param=param)
        return [self._convert(item, param, ctx) for item in value]


def _text(value: Any, param: Any, ctx: Any) -> str:
    return value if isinstance(value, str) else str(value)


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def _flag(value: Any, param: Any, ctx: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise typer.BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)


def _path(value: Any, param: Any, ctx: Any) -> Any:
    from typer._param_types import coerce_cli_path  # typer's checks; given a Path, it builds no adapter

    path = value if isinstance(value, Path) else Path(value)
    return coerce_cli_path(path, param.type_descriptor.parameter_info, path_type=Path, param=param, ctx=ctx)


def _plain_coercion(param: Any) -> None:
    """Give ``param`` a plain coercer when typer would build a pydantic one for a ``str``, ``bool`` or ``Path``."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", True) is not None:
        return  # not typer's lazily built coercion, or built already
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return
    annotation = descriptor.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    if annotation is str:
        param._runtime_param = _Plain(_text)
    elif annotation is bool:
        param._runtime_param = _Plain(_flag)
    elif annotation is Path and getattr(info, "path_type", None) is None and _typer_checks_paths():
        param._runtime_param = _Plain(_path)


def _typer_checks_paths() -> bool:
    """Whether this typer has the path checks :func:`_path` hands a path to."""
    try:
        from typer._param_types import coerce_cli_path  # noqa: F401
    except ImportError:
        return False
    return True
