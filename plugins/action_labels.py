"""Routing action ``add_labels {labels}``: set labels on the incident.

A label key set by an earlier rule (in evaluation order) keeps that rule's value; the other keys are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, FieldError, hookimpl


def _labels(instance: Any, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    if not value:
        raise FieldError(attribute.name, "needs at least one label")
    for key, text in value.items():
        if not isinstance(key, str) or not key or not isinstance(text, str):
            raise FieldError(attribute.name, f"labels map non-empty strings to strings, got {key!r}: {text!r}")


@attrs.frozen(kw_only=True)
class AddLabels:
    """Set each of ``labels`` (key -> value) on the incident."""

    type: ClassVar[str] = "add_labels"
    labels: dict[str, str] = attrs.field(converter=dict, validator=_labels)


def apply(action: AddLabels, ctx: ActionContext) -> None:
    """Set every label no earlier rule claimed; record the ones kept from earlier rules as ignored."""
    changed: dict[str, str] = {}
    kept: list[str] = []
    for key, value in action.labels.items():
        holder = ctx.claim(f"labels.{key}")
        if holder is None:
            changed[key] = value
        else:
            kept.append(f"{key}={ctx.incident.labels.get(key)!s} (set by rule {holder!r})")
    if changed:
        ctx.replace(labels={**ctx.incident.labels, **changed})
        ctx.applied("set labels " + ", ".join(f"{key}={value}" for key, value in changed.items()))
    if kept:
        ctx.ignored("kept " + ", ".join(kept))


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``add_labels``."""
    register(AddLabels, apply=apply)
