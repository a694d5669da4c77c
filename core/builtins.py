"""The built-in plugins, by dotted module name. The kernel knows them only through this list."""

from __future__ import annotations

__all__ = ["BUILTIN_PLUGINS"]

BUILTIN_PLUGINS: tuple[str, ...] = (
    # condition operators
    # field extractors
    # routing actions
    # rotation strategies
    # escalation targets
    # notification channels
    # observers
)
