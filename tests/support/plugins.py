"""The built-in plugin set, loaded once for the whole run (entry points are not autoloaded)."""

from __future__ import annotations

from functools import cache

import tocsin


@cache
def builtin_plugins() -> tocsin.Plugins:
    """The built-in plugins only, loaded once and shared by every test that needs them."""
    return tocsin.load_plugins(autoload=False)


def builtin_registry() -> tocsin.Registry:
    """The registry of :func:`builtin_plugins`."""
    return builtin_plugins().registry
