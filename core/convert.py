"""The cattrs converter for config documents and API bodies, built from a registry.

Strict about types (a string is not a list of characters, ``"5"`` is not an int, ``true`` is not 1),
tagged unions on ``type`` for plugin-provided variants, ISO 8601 for date-times, and faults reported as
``(JSONPath, message)`` pairs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
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

from tocsin.integrations.events import IncidentDefaults, Integration
from tocsin.models import (
    AckMode,
    ActionSpec,
    ContactSpec,
    EscalationStatus,
    FieldError,
    IncidentState,
    IncidentType,
    Resolution,
    RotationSpec,
    Severity,
    TargetSpec,
    TimeRestrictions,
    Urgency,
)
from tocsin.registry import Registry, Table
from tocsin.config.serving import SERVING_ENUMS

__all__ = ["ConversionFault", "VariantError", "make_converter", "structure_faults"]

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
    faults: list[ConversionFault] = []
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            if isinstance(exc, ClassValidationError):
                inner_path = f"{path}.{note.name}"
            elif isinstance(note.index, str):
                inner_path = f"{path}[{note.index!r}]"
            else:
                inner_path = f"{path}[{note.index}]"
            if isinstance(inner, (ClassValidationError, IterableValidationError)):
                faults.extend(structure_faults(inner, inner_path))
            else:
                faults.extend(_leaf(inner, note.type, inner_path))
        for inner in without:
            if isinstance(inner, (ClassValidationError, IterableValidationError)):
                faults.extend(structure_faults(inner, path))
            else:
                faults.extend(_leaf(inner, None, path))
    else:
        faults.extend(_leaf(exc, None, path))
    return faults


def _leaf(exc: BaseException, cl: Any, path: str) -> list[ConversionFault]:
    if isinstance(exc, FieldError):
        return [(f"{path}.{exc.field}", exc.message)]
    return [(path, _message(exc, cl))]


def _strict(kind: type, accept: tuple[type, ...], reject: tuple[type, ...] = ()):
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


def _structure_enum(value: Any, cl: type[enum.Enum]) -> enum.Enum:
    try:
        return cl(value)
    except ValueError:
        known = ", ".join(str(member.value) for member in cl)
        raise ValueError(f"expected one of {known}; got {value!r}") from None


def _is_str_sequence(cl: Any) -> bool:
    return get_origin(cl) in (tuple, list) and get_args(cl) in ((str, ...), (str,))


def _structure_str_sequence(value: Any, cl: Any) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list of strings, got {value!r}")
    bad = [item for item in value if not isinstance(item, str)]
    if bad:
        raise TypeError(f"expected a list of strings, got {bad[0]!r} in it")
    return tuple(value)


def _is_other_sequence(cl: Any) -> bool:
    args = get_args(cl)
    homogeneous = (get_origin(cl) is tuple and len(args) == 2 and args[1] is Ellipsis) or (
        get_origin(cl) is list and len(args) == 1
    )
    return homogeneous and not _is_str_sequence(cl)


def _strict_sequence(converter: cattrs.Converter, cl: Any):
    # cattrs would take a string (or a mapping's keys) for a sequence; here only a list will do. Faults
    # are collected per index, in cattrs' own format, so every bad item is reported.
    item_type = get_args(cl)[0]
    make = tuple if get_origin(cl) is tuple else list

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {value!r}")
        hook = converter.get_structure_hook(item_type)
        items, errors = [], []
        for index, item in enumerate(value):
            try:
                items.append(hook(item, item_type))
            except Exception as exc:
                exc.__notes__ = [
                    *getattr(exc, "__notes__", []),
                    IterableValidationNote(f"@ index {index}", index, item_type),
                ]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {cl!r}", errors, cl)
        return make(items)

    return structure


def make_converter(registry: Registry) -> cattrs.Converter:
    """A converter that structures config documents against ``registry``'s variants."""
    converter = cattrs.Converter(forbid_extra_keys=True, omit_if_default=True)
    for kind, accept, reject in (
        (str, (str,), ()),
        (int, (int,), (bool,)),
        (float, (int, float), (bool,)),
        (bool, (bool,), ()),
    ):
        converter.register_structure_hook(kind, _strict(kind, accept, reject))
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    smart = (AckMode, Urgency)
    for enum_type in (Severity, IncidentType, IncidentState, EscalationStatus, Resolution, *smart, *SERVING_ENUMS):
        converter.register_structure_hook(enum_type, _structure_enum)
        converter.register_unstructure_hook(enum_type, lambda member: member.value)
    converter.register_structure_hook_func(_is_str_sequence, _structure_str_sequence)
    converter.register_structure_hook_factory(_is_other_sequence, lambda cl: _strict_sequence(converter, cl))
    converter.register_structure_hook(Any, lambda value, _: value)

    restrictions = converter.get_structure_hook(tuple[TimeRestrictions, ...])

    def structure_restrictions(value: Any, _: Any) -> tuple[TimeRestrictions, ...]:
        # One window or a list of them.
        return restrictions([value] if isinstance(value, Mapping) else value, tuple[TimeRestrictions, ...])

    def unstructure_restrictions(value: tuple[TimeRestrictions, ...]) -> Any:
        items = [converter.unstructure(item) for item in value]
        return items[0] if len(items) == 1 else items

    restrictions_type = tuple[TimeRestrictions, ...]
    converter.register_structure_hook_func(lambda cl: cl == restrictions_type, structure_restrictions)
    converter.register_unstructure_hook_func(lambda cl: cl == restrictions_type, unstructure_restrictions)

    tables: dict[type, Table[Any]] = {
        TargetSpec: registry.targets,
        ActionSpec: registry.actions,
        RotationSpec: registry.rotations,
        ContactSpec: registry.channels,
    }
    for marker, table in tables.items():
        converter.register_structure_hook_func(
            lambda cl, marker=marker: cl is marker, _variant_structure(converter, table)
        )
        converter.register_unstructure_hook_func(
            lambda cl, marker=marker: cl is marker, lambda value: _unstructure_variant(converter, value)
        )
    converter.register_structure_hook(Integration, _integration_structure(converter, registry.sources))
    converter.register_unstructure_hook(Integration, lambda value: _unstructure_integration(converter, value))
    return converter


def _variant_structure(converter: cattrs.Converter, table: Table[Any]):
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


_INTEGRATION_KEYS = frozenset({"type", "token", "token_env", "defaults"})


def _integration_structure(converter: cattrs.Converter, table: Table[Any]):
    # One flat mapping holds the integration's own keys (token, defaults) and its source's settings; faults
    # from both are reported together, each at its key.
    tag_of = _variant_structure(converter, table)

    def structure(value: Any, _: Any) -> Integration:
        if isinstance(value, Mapping) and value.get("type") in table:
            cls = table.get(value["type"]).cls
        else:
            tag_of(value, None)  # raises the VariantError that says what is wrong with 'type'
        errors: list[Exception] = []

        def attempt(name: str, make: Any) -> Any:
            try:
                return make()
            except FieldError as exc:  # names its own field
                errors.append(exc)
            except Exception as exc:
                exc.__notes__ = [*getattr(exc, "__notes__", []), AttributeValidationNote(name, name, Any)]
                errors.append(exc)
            return None

        rest = {key: item for key, item in value.items() if key not in _INTEGRATION_KEYS}
        token = attempt("token", lambda: converter.structure(value["token"], str)) if "token" in value else None
        token_env = (
            attempt("token_env", lambda: converter.structure(value["token_env"], str)) if "token_env" in value else None
        )
        defaults = attempt("defaults", lambda: converter.structure(value.get("defaults") or {}, IncidentDefaults))
        source = None
        try:
            source = converter.structure(rest, cls)
        except ClassValidationError as exc:
            errors.extend(exc.exceptions)
        except Exception as exc:  # an attrs validator of the settings class (a FieldError names its field)
            errors.append(exc)
        if errors:
            raise ClassValidationError("While structuring an integration", errors, Integration)
        try:
            return Integration(source=source, token=token, token_env=token_env, defaults=defaults)
        except FieldError as exc:
            raise ClassValidationError("While structuring an integration", [exc], Integration) from None

    return structure


def _unstructure_integration(converter: cattrs.Converter, value: Integration) -> dict[str, Any]:
    document: dict[str, Any] = {"type": value.type}
    if value.token is not None:
        document["token"] = value.token
    if value.token_env is not None:
        document["token_env"] = value.token_env
    defaults = converter.unstructure(value.defaults)
    if defaults:
        document["defaults"] = defaults
    document.update(converter.unstructure(value.source, unstructure_as=type(value.source)))
    return document
