"""How the config's ``integrations`` section is read: one flat mapping per integration holds the integration's
own keys (``token``, ``token_env``, ``defaults``) beside its source's settings, and faults from both are
reported together, each at its key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cattrs
from cattrs.errors import AttributeValidationNote, ClassValidationError

from tocsin.convert import variant_structure_hook
from tocsin.integrations.events import IncidentDefaults, Integration
from tocsin.models import FieldError, SourceSpec
from tocsin.registry import INTEGRATION_KEYS, Table

__all__ = ["register_integration_hooks"]


def register_integration_hooks(converter: cattrs.Converter, sources: Table[Any]) -> None:
    """Teach ``converter`` to structure and unstructure :class:`Integration` against the registered sources."""
    converter.register_structure_hook(Integration, _integration_structure(converter, sources))
    converter.register_unstructure_hook(Integration, lambda value: _unstructure_integration(converter, value))


def _integration_structure(converter: cattrs.Converter, table: Table[Any]) -> Callable[[Any, Any], Integration]:
    # One flat mapping holds the integration's own keys (token, defaults) and its source's settings; faults
    # from both are reported together, each at its key.
    tag_of = variant_structure_hook(converter, table)

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

        rest = {key: item for key, item in value.items() if key not in INTEGRATION_KEYS}
        token = attempt("token", lambda: converter.structure(value["token"], str)) if "token" in value else None
        token_env = (
            attempt("token_env", lambda: converter.structure(value["token_env"], str)) if "token_env" in value else None
        )
        defaults = attempt("defaults", lambda: converter.structure(value.get("defaults") or {}, IncidentDefaults))
        source: SourceSpec | None = None
        try:
            source = converter.structure(rest, cls)
        except ClassValidationError as exc:
            errors.extend(exc.exceptions)
        except Exception as exc:  # an attrs validator of the settings class (a FieldError names its field)
            errors.append(exc)
        if errors:
            raise ClassValidationError("While structuring an integration", errors, Integration)
        assert source is not None  # structured without a fault
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
