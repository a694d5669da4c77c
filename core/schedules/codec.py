"""How schedule layers read in config documents: ``restrictions`` is one window or a list of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cattrs

from tocsin.models import TimeRestrictions

__all__ = ["register_schedule_hooks"]

_RESTRICTIONS = tuple[TimeRestrictions, ...]


def register_schedule_hooks(converter: cattrs.Converter) -> None:
    """Teach ``converter`` that a layer's ``restrictions`` may be one mapping (a single window) or a list."""
    restrictions = converter.get_structure_hook(_RESTRICTIONS)

    def structure_restrictions(value: Any, _: Any) -> tuple[TimeRestrictions, ...]:
        structured: tuple[TimeRestrictions, ...] = restrictions(
            [value] if isinstance(value, Mapping) else value, _RESTRICTIONS
        )
        return structured

    def unstructure_restrictions(value: tuple[TimeRestrictions, ...]) -> Any:
        items = [converter.unstructure(item) for item in value]
        return items[0] if len(items) == 1 else items

    converter.register_structure_hook_func(lambda cl: cl == _RESTRICTIONS, structure_restrictions)
    converter.register_unstructure_hook_func(lambda cl: cl == _RESTRICTIONS, unstructure_restrictions)
