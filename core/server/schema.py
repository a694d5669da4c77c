"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) generated from the attrs models: one schema, no second model
library.

:class:`SchemaBuilder` walks a class's typed attributes and collects one component per class it meets.
Plugin-provided variants (targets, actions, rotations, contacts) become a ``oneOf`` of every class the
registry holds, each with its ``type`` tag as a constant. A class gets two components when both directions
need it: ``Name`` for what the API answers (every field present) and ``NameInput`` for what it accepts
(fields with defaults optional, unknown keys refused), because the converters behave exactly that way.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, cast, get_args, get_origin, get_type_hints

import attrs

from tocsin.models import ActionSpec, ContactSpec, RotationSpec, TargetSpec, TimeRestrictions
from tocsin.registry import Registry, Table
from tocsin.server.guards import INSTANT_PATTERN

__all__ = ["SchemaBuilder", "json_schema_ref"]

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    datetime: {"type": "string", "format": "date-time"},
}
_NULL = {"type": "null"}


def json_schema_ref(name: str) -> dict[str, str]:
    """A ``$ref`` to the component ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


class SchemaBuilder:
    """Builds JSON Schemas for attrs classes, collecting the components they refer to.

    :param registry: where the variant classes of each plugin-provided union come from.
    :param refinements: ``{(cls, field): schema}``; the schema replaces the generated one of that field (a
        pattern on an id, a date-time that may be local time). Under ``(cls, "")``, keywords added to the
        schema of the class as a request body (``oneOf`` the fields of which exactly one must be given).
    """

    def __init__(self, registry: Registry, refinements: Mapping[tuple[type, str], dict[str, Any]] | None = None):
        self.components: dict[str, dict[str, Any]] = {}
        self._names: dict[tuple[type, bool], str] = {}
        self._refinements = dict(refinements or {})
        self._variants: dict[Any, Table[Any]] = {
            TargetSpec: registry.targets,
            ActionSpec: registry.actions,
            RotationSpec: registry.rotations,
            ContactSpec: registry.channels,
        }

    def schema(self, tp: Any, *, output: bool) -> dict[str, Any]:
        """The schema of the type ``tp``; attrs classes become ``$ref``\\ s to components."""
        if tp is datetime and not output:
            return {"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}
        if tp in _PRIMITIVES:
            return dict(_PRIMITIVES[tp])
        if tp is Any or tp is object:
            return {}
        if tp == tuple[TimeRestrictions, ...]:
            # One window or a list of them, written back as the single window when there is one.
            one = self.schema(TimeRestrictions, output=output)
            return {"anyOf": [one, {"type": "array", "items": one}]}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"type": "string", "enum": [member.value for member in tp]}
        if tp in self._variants:
            return self._union(self._variants[tp], output=output)
        if attrs.has(tp) or _is_named_tuple(tp):
            return json_schema_ref(self._component(tp, output=output))
        origin, args = get_origin(tp), get_args(tp)
        if origin is typing.Literal and all(isinstance(arg, str) for arg in args):
            return {"type": "string", "enum": list(args)}
        if origin in (typing.Union, types.UnionType):
            options = [self.schema(arg, output=output) for arg in args]
            return {"anyOf": options}
        if origin in (tuple, list, Sequence) and (len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis)):
            return {"type": "array", "items": self.schema(args[0], output=output)}
        if origin in (dict, Mapping) and len(args) == 2:
            return {"type": "object", "additionalProperties": self.schema(args[1], output=output)}
        raise TypeError(f"no JSON Schema for {tp!r}")

    def _component(self, cls: type, *, output: bool, tag: str | None = None) -> str:
        name = self._name(cls, output)
        if name not in self.components:
            self.components[name] = {}  # placeholder: a class may refer to itself
            self.components[name] = self._object(cls, output=output, tag=tag)
        return name

    def _name(self, cls: type, output: bool) -> str:
        """``Name`` or ``NameInput``; a second class with the same name (two plugins') gets its module too."""
        key = (cls, output)
        name = self._names.get(key)
        if name is None:
            base = cls.__name__ if output else f"{cls.__name__}Input"
            taken = set(self._names.values())
            name = base if base not in taken else f"{cls.__module__.replace('.', '_')}_{base}"
            self._names[key] = name
        return name

    def _union(self, table: Table[Any], *, output: bool) -> dict[str, Any]:
        options = [
            json_schema_ref(self._component(table.get(tag).cls, output=output, tag=tag)) for tag in table.names()
        ]
        return {"oneOf": options} if options else {"type": "object"}

    def _object(self, cls: type, *, output: bool, tag: str | None) -> dict[str, Any]:
        hints = get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        if tag is not None:
            properties["type"] = {"const": tag}
            required.append("type")
        for name, has_default, doc_default in _fields(cls):
            hint = hints[name]
            if get_origin(hint) is ClassVar:
                continue
            schema = self._refinements.get((cls, name)) or self.schema(hint, output=output)
            if not output and has_default and _json_default(doc_default) and _admits(schema, doc_default):
                schema = {**schema, "default": _json_value(doc_default)}
            properties[name] = schema
            if output or not has_default:
                required.append(name)
        document: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
        if not output:
            document["additionalProperties"] = False
            document.update(self._refinements.get((cls, ""), {}))  # what the class as a whole needs of a body
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        if doc:
            document["description"] = " ".join(doc.split())
        return document


def _is_named_tuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def _fields(cls: type) -> list[tuple[str, bool, Any]]:
    """``(name, has_default, default value or None)`` of each attribute of an attrs class or named tuple."""
    if attrs.has(cls):
        found: list[tuple[str, bool, Any]] = []
        for field in attrs.fields(cls):
            default = field.default
            if default is attrs.NOTHING:
                found.append((field.name, False, None))
            elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                found.append((field.name, True, _MADE))  # made per instance: no JSON default to state
            else:
                found.append((field.name, True, default))
        return found
    defaults = getattr(cls, "_field_defaults", {})
    return [(name, name in defaults, defaults.get(name)) for name in cast("type[NamedTuple]", cls)._fields]


_MADE = object()  # the "default" of a field whose default a factory makes


def _json_default(value: Any) -> bool:
    return value is not _MADE and (value is None or isinstance(value, (str, int, float, bool, enum.Enum)))


def _admits(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``default: value`` is valid under ``schema``: only ``null`` needs looking at (a ``None`` default of a
    field whose schema says it is never null, as a refined id the server makes up, states no default)."""
    if value is not None:
        return True
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(option.get("type") == "null" for option in schema.get("anyOf", ()))


def _json_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value
