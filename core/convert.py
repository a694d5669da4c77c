"""The cattrs converter for config documents and API bodies, built from a registry.

Strict about types (a string is not a list of characters, ``"5"`` is not an int, ``true`` is not 1),
tagged unions on ``type`` for plugin-provided variants, ISO 8601 for date-times, and faults reported as
``(JSONPath, message)`` pairs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from tocsin.errors import FieldError
from tocsin.every_fault import NOTHING, every_fault_hook, salvaged, salvaging
from tocsin.models import ExhaustedAction, OnExhausted
from tocsin.registry import EXTENSION_POINTS, Registry, Table

__all__ = [
    "ConversionFault",
    "VariantError",
    "make_converter",
    "structure_faults",
    "tainted_paths",
    "variant_structure_hook",
]

ConversionFault = tuple[str, str]  # (JSONPath, message)


class VariantError(ValueError):
    """A tagged value whose ``type`` is missing or unknown; the message lists the known types."""


def _type_name(cl: Any) -> str:
    if cl is None:
        return "a value"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "a mapping"}
    if cl in names:
        return names[cl]
    origin = get_origin(cl)
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, Mapping):
        return "a mapping"
    return getattr(cl, "__name__", repr(cl))


def _message(exc: BaseException, cl: Any) -> str:
    if isinstance(exc, VariantError):
        return str(exc)
    if isinstance(exc, FieldError):
        return exc.message
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown field(s): {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, (TypeError, ValueError)):
        text = str(exc)
        return text if text else f"expected {_type_name(cl)}"
    return f"{type(exc).__name__}: {exc}"


def structure_faults(exc: BaseException, path: str = "$") -> list[ConversionFault]:
    """Flatten a cattrs structuring exception into ``(path, message)`` pairs."""
    return [(where, message) for where, message, _ in _faults(exc, path)]


def tainted_paths(exc: BaseException, path: str = "$") -> list[str]:
    """The paths of ``exc``'s faults whose value was left out or replaced by a default when the document was
    salvaged (every fault but an unknown key, which leaves the rest of its mapping as it was written)."""
    return [where for where, _, leaf in _faults(exc, path) if not isinstance(leaf, ForbiddenExtraKeysError)]


def _faults(exc: BaseException, path: str) -> list[tuple[str, str, BaseException]]:
    faults: list[tuple[str, str, BaseException]] = []
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            if isinstance(note, AttributeValidationNote):  # what a ClassValidationError groups by
                inner_path = f"{path}.{note.name}"
            elif isinstance(note.index, str):
                inner_path = f"{path}[{note.index!r}]"
            else:
                inner_path = f"{path}[{note.index}]"
            if isinstance(inner, (ClassValidationError, IterableValidationError)):
                faults.extend(_faults(inner, inner_path))
            else:
                faults.extend(_leaf(inner, note.type, inner_path))
        for inner in without:
            if isinstance(inner, (ClassValidationError, IterableValidationError)):
                faults.extend(_faults(inner, path))
            else:
                faults.extend(_leaf(inner, None, path))
    else:
        faults.extend(_leaf(exc, None, path))
    return faults


def _leaf(exc: BaseException, cl: Any, path: str) -> list[tuple[str, str, BaseException]]:
    if isinstance(exc, FieldError):
        return [(f"{path}.{exc.field}", exc.message, exc)]
    return [(path, _message(exc, cl), exc)]


def _strict(kind: type, accept: tuple[type, ...], reject: tuple[type, ...] = ()) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, accept) and not isinstance(value, reject):
            return kind(value)
        raise TypeError(f"expected {_type_name(kind)}, got {value!r}")

    return structure


def _structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected an ISO 8601 date-time such as 2026-01-05T09:00:00, got {value!r}")


def _enum_value(member: enum.Enum) -> Any:
    return member.value


def _structure_enum(value: Any, cl: type[enum.Enum]) -> enum.Enum:
    try:
        return cl(value)
    except ValueError:
        known = ", ".join(str(member.value) for member in cl)
        raise ValueError(f"expected one of {known}; got {value!r}") from None


def _is_sequence(cl: Any) -> bool:
    args = get_args(cl)
    return (get_origin(cl) is tuple and len(args) == 2 and args[1] is Ellipsis) or (
        get_origin(cl) is list and len(args) == 1
    )


def _strict_sequence(converter: cattrs.Converter, cl: Any) -> Callable[[Any, Any], Any]:
    # cattrs would take a string (or a mapping's keys) for a sequence; here only a list will do. Faults
    # are collected per index, in cattrs' own format, so every bad item is reported at its own index, and
    # the items that could be read are kept (see tocsin.every_fault.salvaged).
    item_type = get_args(cl)[0]
    make = tuple if get_origin(cl) is tuple else list
    strings = item_type is str

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected {'a list of strings' if strings else 'a list'}, got {value!r}")
        hook = converter.get_structure_hook(item_type)
        items: list[Any] = []
        kept: list[int] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                items.append(hook(item, item_type))
                kept.append(index)
            except Exception as exc:
                exc.__notes__ = [
                    *getattr(exc, "__notes__", []),
                    IterableValidationNote(f"@ index {index}", index, item_type),
                ]
                errors.append(exc)
                rescued = salvaged(exc)
                if rescued is not NOTHING:
                    items.append(rescued)
                    kept.append(index)
        if errors:
            lost = kept if len(kept) < len(value) else None
            raise salvaging(IterableValidationError(f"While structuring {cl!r}", errors, cl), make(items), lost)
        return make(items)

    return structure


def _is_mapping(cl: Any) -> bool:
    return get_origin(cl) in (dict, Mapping) and len(get_args(cl)) == 2


def _strict_mapping(converter: cattrs.Converter, cl: Any) -> Callable[[Any, Any], Any]:
    # Only a mapping will do (cattrs would take a list of pairs); faults are collected per key, and the
    # entries that could be read are kept.
    key_type, value_type = get_args(cl)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a mapping (a JSON object), got {_json_name(value)}")
        key_hook = converter.get_structure_hook(key_type)
        value_hook = converter.get_structure_hook(value_type)
        entries: dict[Any, Any] = {}
        errors: list[Exception] = []
        for key, item in value.items():
            try:
                entries[key_hook(key, key_type)] = value_hook(item, value_type)
            except Exception as exc:
                exc.__notes__ = [
                    *getattr(exc, "__notes__", []),
                    IterableValidationNote(f"Structuring mapping value @ key {key!r}", key, value_type),
                ]
                errors.append(exc)
                rescued = salvaged(exc)
                if rescued is not NOTHING and isinstance(key, str):
                    entries[key] = rescued
        if errors:
            raise salvaging(IterableValidationError(f"While structuring {cl!r}", errors, cl), entries)
        return entries

    return structure


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def make_converter(registry: Registry, *, every_fault: bool = False) -> cattrs.Converter:
    """A converter that structures documents against ``registry``'s variants.

    ``every_fault=True`` (for config documents) structures attrs classes with
    :func:`tocsin.every_fault.every_fault_hook`: every fault of a class at once, and what could be read kept.
    """
    converter = cattrs.Converter(forbid_extra_keys=True, omit_if_default=True)
    if every_fault:
        converter.register_structure_hook_factory(attrs.has, lambda cl: every_fault_hook(converter, cl))
    for kind, accept, reject in (
        (str, (str,), ()),
        (int, (int,), (bool,)),
        (float, (int, float), (bool,)),
        (bool, (bool,), ()),
    ):
        converter.register_structure_hook(kind, _strict(kind, accept, reject))
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    # Every enum, whoever defines it: by value, and a wrong value lists the right ones. Registered for the
    # enum bases, so that a StrEnum (a str subclass) is not taken by the strict str hook above.
    for base in (enum.Enum, enum.StrEnum, enum.IntEnum):
        converter.register_structure_hook(base, _structure_enum)
        converter.register_unstructure_hook(base, _enum_value)
    converter.register_structure_hook_factory(_is_sequence, lambda cl: _strict_sequence(converter, cl))
    converter.register_structure_hook_factory(_is_mapping, lambda cl: _strict_mapping(converter, cl))
    converter.register_structure_hook(Any, lambda value, _: value)

    tables: dict[type, Table[Any]] = {
        point.variant: getattr(registry, point.key) for point in EXTENSION_POINTS if point.variant is not None
    }
    for marker, table in tables.items():

        def is_marker(cl: Any, marker: type = marker) -> bool:
            return cl is marker

        converter.register_structure_hook_func(is_marker, variant_structure_hook(converter, table))
        converter.register_unstructure_hook_func(is_marker, lambda value: _unstructure_variant(converter, value))
    converter.register_structure_hook(OnExhausted, _on_exhausted_hook(converter))
    return converter


def _on_exhausted_hook(converter: cattrs.Converter) -> Callable[[Any, Any], OnExhausted]:
    """``on_exhausted`` in its short forms too: ``stay`` / ``repeat_last`` alone, and ``{page: target}`` (or a
    list of targets) without ``action``."""
    full = make_dict_structure_fn(OnExhausted, converter, _cattrs_forbid_extra_keys=True)

    def structure(value: Any, _: Any) -> OnExhausted:
        if isinstance(value, str):
            value = {"action": value}
        elif isinstance(value, Mapping) and "page" in value:
            page = value["page"]
            value = {
                "action": ExhaustedAction.PAGE.value,
                **value,
                "page": [page] if isinstance(page, Mapping) else page,
            }
        elif not isinstance(value, Mapping):
            known = ", ".join(action.value for action in ExhaustedAction)
            raise TypeError(f"expected one of {known} or a mapping such as {{page: {{type: user, email: …}}}}")
        return full(value, OnExhausted)

    return structure


def variant_structure_hook(converter: cattrs.Converter, table: Table[Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise VariantError(
                f"expected a mapping with a 'type' key; known {table.kind} types: {', '.join(table.names())}"
            )
        tag = value.get("type")
        if tag is None:
            raise VariantError(f"missing 'type'; known {table.kind} types: {', '.join(table.names())}")
        if tag not in table:
            raise VariantError(
                table.unknown_message(tag).replace(f"unknown {table.kind}", f"unknown {table.kind} type", 1)
            )
        cls = table.get(tag).cls
        return converter.structure({k: v for k, v in value.items() if k != "type"}, cls)

    return structure


def _unstructure_variant(converter: cattrs.Converter, value: Any) -> dict[str, Any]:
    if not attrs.has(type(value)):
        raise TypeError(f"cannot unstructure {value!r}: not an attrs class")
    return {"type": value.type, **converter.unstructure(value, unstructure_as=type(value))}
