"""Package faces that import what they export on first use (PEP 562), so importing a face stays light.

``import tocsin`` or ``from tocsin import hookimpl`` then costs what ``hookimpl`` needs, not the whole engine:
the command line answers ``tocsin --help`` without loading the HTTP server, and ``tocsin check`` without
aiohttp. A face lists its names twice, and a test holds the two lists to each other: as imports under
``if TYPE_CHECKING:`` (for the type checker and the import-linter, which read imports) and as the table
given to :func:`attach` (for the interpreter)::

    if TYPE_CHECKING:
        from tocsin.delivery.channels import ChannelError, ChannelSet
    else:
        __getattr__, __dir__ = attach(__name__, {"tocsin.delivery.channels": ("ChannelError", "ChannelSet")})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["attach"]


def attach(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the face ``package``: each name in ``exports[module]`` is
    imported from ``module`` the first time it is asked for, and kept in the face's namespace from then on."""
    origin = {name: module for module, names in exports.items() for name in names}
    namespace = sys.modules[package].__dict__
    namespace["_EXPORTS"] = origin  # read by the test that holds the table to the face's imports

    def __getattr__(name: str) -> Any:
        module = origin.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *origin})

    return __getattr__, __dir__
