"""Structure hooks that report every fault of a config document in one pass, and keep what they could read.

cattrs stops short of what a person fixing a config file needs: with an unknown key it never builds the
class, so the validators of the other fields never run, and attrs raises at the first validator that fails.
:func:`every_fault_hook` structures each field on its own, reports unknown and missing keys beside the fields
that did not structure, and runs the validator of every field that did, so one ``tocsin check`` lists all of a
class's faults. The faults are raised as cattrs' own :class:`~cattrs.errors.ClassValidationError`, so
:func:`tocsin.convert.structure_faults` turns them into paths as it does for cattrs.

Each fault also carries what *could* be read (:func:`salvaged`): the class built from its good fields (a
faulty field takes its default), a list without the items that could not be read at all. The config loader
runs its reference checks over that, so an unknown operator or time zone is reported beside an unknown key
instead of after it is fixed. A salvaged value is never handed to a user: a document with faults is an error.

Used for config documents only: API bodies keep cattrs' generated (faster) hooks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, ClassValidationError, ForbiddenExtraKeysError

from tocsin.errors import FieldError

__all__ = ["NOTHING", "every_fault_hook", "original_path", "salvaged", "salvaging", "shifted_lists"]

NOTHING: Any = attrs.NOTHING  # what :func:`salvaged` returns for a value that could not be read at all

_SALVAGED = "tocsin_salvaged"  # the attribute of a structuring exception that holds what could be read
_KEPT = "tocsin_kept"  # of a list's exception: the original index of each item the salvaged list kept


def salvaging(exc: Exception, value: Any, kept: list[int] | None = None) -> Exception:
    """``exc`` carrying ``value``, what could be read despite it (and, for a list that lost items, which
    original indexes its items have)."""
    setattr(exc, _SALVAGED, value)
    if kept is not None:
        setattr(exc, _KEPT, kept)
    return exc


def salvaged(exc: BaseException) -> Any:
    """What a structuring exception says could be read, or :data:`NOTHING`."""
    return getattr(exc, _SALVAGED, NOTHING)


def shifted_lists(exc: BaseException) -> dict[int, list[int]]:
    """``id(salvaged list) -> original indexes`` for every salvaged list under ``exc`` that lost items: a check
    that names ``[1]`` of such a list means the item that stood at ``kept[1]`` in the document."""
    found: dict[int, list[int]] = {}
    for inner in _walk(exc):
        kept = getattr(inner, _KEPT, None)
        value = salvaged(inner)
        if kept is not None and value:  # an empty list indexes nothing (and empty tuples share one id)
            found[id(value)] = kept
    return found


def _walk(exc: BaseException) -> Iterator[BaseException]:
    yield exc
    for inner in getattr(exc, "exceptions", ()):
        yield from _walk(inner)


def _noted(exc: Exception, name: str, type_: Any) -> Exception:
    exc.__notes__ = [*getattr(exc, "__notes__", []), AttributeValidationNote(f"Structuring {name}", name, type_)]
    return exc


def _fault_key(exc: BaseException) -> tuple[str, str]:
    return (getattr(exc, "field", ""), str(exc))


def _bypass(cl: type, values: Mapping[str, Any], names: Mapping[str, str]) -> Any:
    """``cl`` built from ``values`` (by alias) and the defaults, without validators or post-init checks; NOTHING
    when a field without a default has no value. Only ever used to look for more faults."""
    instance: Any = object.__new__(cl)
    for field in attrs.fields(cl):
        key = names.get(field.name, field.name)
        if key in values:
            value = values[key]
        elif field.default is attrs.NOTHING:
            return NOTHING
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            factory = field.default.factory
            value = factory(instance) if field.default.takes_self else factory()
        else:
            value = field.default
        object.__setattr__(instance, field.name, value)
    return instance


def every_fault_hook(converter: cattrs.Converter, cl: type) -> Callable[[Any, Any], Any]:
    """A structure hook for the attrs class ``cl`` that raises every fault of a document at once, with what it
    could read attached (see :func:`salvaged`)."""
    try:
        attrs.resolve_types(cl)
    except Exception:  # a forward reference only cattrs' own machinery can resolve: leave the class to it
        return converter.gen_structure_attrs_fromdict(cl)
    fields = [field for field in attrs.fields(cl) if field.init]
    keys = {(field.alias or field.name): field for field in fields}
    names = {field.name: key for key, field in keys.items()}

    def validator_faults(values: Mapping[str, Any]) -> list[Exception]:
        """What each field's validator says of its value, called without an instance (an instance-dependent
        validator that cannot run so is left to the constructor)."""
        faults: list[Exception] = []
        for key, field in keys.items():
            if key not in values or field.validator is None:
                continue
            value = values[key]
            try:
                if field.converter is not None and callable(field.converter):
                    value = field.converter(value)
                field.validator(None, field, value)
            except FieldError as exc:
                faults.append(exc)
            except (ValueError, TypeError) as exc:
                faults.append(_noted(exc, key, field.type))
            except Exception:
                continue
        return faults

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a mapping, got {value!r}")
        errors: list[Exception] = []
        values: dict[str, Any] = {}
        faulty: set[str] = set()
        for key, field in keys.items():
            if key in value:
                try:
                    values[key] = converter.structure(value[key], field.type)
                except Exception as exc:
                    errors.append(_noted(exc, key, field.type))
                    faulty.add(key)
                    rescued = salvaged(exc)
                    if rescued is not NOTHING:
                        values[key] = rescued
            elif field.default is attrs.NOTHING:
                errors.append(_noted(KeyError(key), key, field.type))
                faulty.add(key)
        if not faulty:
            try:
                built = cl(**values)
            except Exception as exc:  # a validator or __attrs_post_init__: look for the validators' other faults
                errors.append(exc)
                seen = {_fault_key(exc)}
                errors.extend(fault for fault in validator_faults(values) if _fault_key(fault) not in seen)
                built = _bypass(cl, values, names)
        else:
            # A salvaged value's own validator would only repeat its faults: run those of the clean fields.
            errors.extend(validator_faults({key: item for key, item in values.items() if key not in faulty}))
            built = _bypass(cl, values, names)
        extra = set(value) - set(keys)
        if extra:
            errors.append(ForbiddenExtraKeysError(None, cl, extra))
        if not errors:
            return built
        raise salvaging(ClassValidationError(f"While structuring {cl.__name__}", errors, cl), built)

    return structure


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]")


def original_path(path: str, root: Any, shifted: Mapping[int, list[int]]) -> str:
    """``path`` (a JSONPath into the salvaged ``root``) with each index into a list that lost items turned back
    into that item's index in the document (see :func:`shifted_lists`)."""
    if not shifted or not path.startswith("$"):
        return path
    parts = ["$"]
    node: Any = root
    position = 1
    for match in _STEP.finditer(path, 1):
        if match.start() != position or node is NOTHING:
            break
        name, index, quoted = match.groups()
        if index is not None:
            kept = shifted.get(id(node))
            number = int(index)
            parts.append(f"[{kept[number] if kept is not None and number < len(kept) else number}]")
            node = _child(node, number)
        else:
            parts.append(match.group(0))
            node = _child(node, name if name is not None else ast.literal_eval(quoted))
        position = match.end()
    return "".join(parts) + path[position:]


def _child(node: Any, step: str | int) -> Any:
    try:
        if isinstance(step, int):
            return node[step]
        if isinstance(node, Mapping):
            return node[step]
        return getattr(node, step)
    except (LookupError, AttributeError, TypeError):
        return NOTHING
