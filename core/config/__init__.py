"""The application's configuration: the :class:`Config` document, loading it from YAML, TOML or JSON with
every fault reported at once, and the ordered table of checks each feature contributes for its own section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.config.loader import (
        config_converter,
        config_warnings,
        dump_config,
        load_config,
        parse_config,
        parse_document,
        read_document,
    )
    from tocsin.config.model import Config
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.config.loader": (
                "config_converter",
                "config_warnings",
                "dump_config",
                "load_config",
                "parse_config",
                "parse_document",
                "read_document",
            ),
            "tocsin.config.model": ("Config",),
        },
    )

__all__ = [
    "Config",
    "config_converter",
    "config_warnings",
    "dump_config",
    "load_config",
    "parse_config",
    "parse_document",
    "read_document",
]
