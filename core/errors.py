"""Exception types. Each says what kind of mistake it is; the CLI prints their message, never a traceback."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["ConfigError", "ConfigIssue", "FieldError", "PluginError", "TocsinError"]


class TocsinError(Exception):
    """Base of every error tocsin raises on purpose."""


class FieldError(ValueError):
    """A value that is the right type but wrong: names the field so errors can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class PluginError(TocsinError):
    """A plugin failed to load or registered something it may not (e.g. a name that is already taken)."""


@attrs.frozen
class ConfigIssue:
    """One fault in a configuration: where it is and what is wrong."""

    file: str
    path: str  # a JSONPath such as ``$.policies[0].levels[1].targets[0]``
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class ConfigError(TocsinError):
    """A configuration has faults; ``issues`` lists every one, each printed on its own line."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
