"""Which extractor reads a condition's ``field``, and what to suggest when none does."""

from __future__ import annotations

import difflib

from tocsin.registry import ExtractorSpec, Registry, UnknownNameError

__all__ = ["known_fields", "resolve_extractor"]


def known_fields(registry: Registry) -> list[str]:
    """The field names the extractors accept, for messages: fixed names, then ``prefix<…>`` families."""
    fixed = sorted(spec.value.name for spec in registry.extractors if not spec.value.prefix)
    families = sorted(f"{spec.value.name}<…>" for spec in registry.extractors if spec.value.prefix)
    return fixed + families


def resolve_extractor(registry: Registry, field: str) -> ExtractorSpec:
    """The extractor for ``field``: an exact name first, else the longest matching prefix.

    :raises UnknownNameError: naming the known fields and the closest one.
    """
    if field in registry.extractors and not registry.extractors.get(field).prefix:
        return registry.extractors.get(field)
    best: ExtractorSpec | None = None
    for entry in registry.extractors:
        spec = entry.value
        if spec.prefix and field.startswith(spec.name) and (best is None or len(spec.name) > len(best.name)):
            best = spec
    if best is not None:
        return best
    message = f"unknown field {field!r}; known: {', '.join(known_fields(registry)) or '(none)'}"
    suggestion = _suggest_field(registry, field)
    if suggestion:
        message += f" (did you mean {suggestion!r}?)"
    raise UnknownNameError(message)


def _suggest_field(registry: Registry, field: str) -> str | None:
    plain = [entry.name for entry in registry.extractors if not entry.value.prefix]
    close = difflib.get_close_matches(field, plain, n=1)
    if close:
        return close[0]
    prefixes = [entry.name for entry in registry.extractors if entry.value.prefix]
    cuts = [at for at in (field.find("."), field.find(":")) if at >= 0]
    if cuts:  # 'label.team' -> 'labels.team', 'jmespath.payload' -> 'jmespath:payload'
        head, rest = field[: min(cuts) + 1], field[min(cuts) + 1 :]
        close = difflib.get_close_matches(head, prefixes, n=1)
        return close[0] + rest if close and rest else None
    close = difflib.get_close_matches(field, prefixes, n=1)  # 'labels' -> 'labels.<…>'
    return f"{close[0]}<…>" if close else None
