"""Inbound integrations, the data side: incident events, integration settings, severity tables, payload reading.

A *source* plugin (``tocsin_register_sources``) turns one decoded JSON body from a monitoring tool into
:class:`IncidentEvent` objects; the config's ``integrations`` section names instances of those sources, each
with its own token and :class:`IncidentDefaults`. :mod:`tocsin.intake.inbound` applies the events through the
incident processor. The helpers at the end (``mapping_at``, ``string_at``, …) read untrusted JSON and raise
:class:`PayloadError` naming the JSONPath of the first thing that is wrong.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from tocsin.errors import TocsinError
from tocsin.models import FieldError, IncidentType, Severity, SourceSpec

__all__ = [
    "DEFAULT_SEVERITY_MAP",
    "MIN_TOKEN_LENGTH",
    "EventAction",
    "IncidentDefaults",
    "IncidentEvent",
    "Integration",
    "PayloadError",
    "check_integrations",
    "check_secret_fields",
    "check_token",
    "list_at",
    "mapping_at",
    "path_name_faults",
    "read_secret",
    "severity_lookup",
    "string_at",
    "string_map_at",
]


class PayloadError(TocsinError):
    """An inbound payload that cannot be read: ``path`` is the JSONPath of the problem (``$.alerts[0].status``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class EventAction(enum.StrEnum):
    """What an incident event asks for."""

    CREATE = "create"  # the alert fires: open an incident, or count a repeat of the open one with the key
    UPDATE = "update"  # the alert changed: refresh the open incident's fields (open one if there is none)
    RESOLVE = "resolve"  # the alert is over: resolve the open incident with the key (if any)


def _dedup_key(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise FieldError(attribute.name, f"must be a non-empty string, got {value!r}")


def _string_labels(instance: Any, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    for key, text in value.items():
        if not isinstance(key, str) or not key or not isinstance(text, str):
            raise FieldError(attribute.name, f"labels map non-empty strings to strings, got {key!r}: {text!r}")


@attrs.frozen(kw_only=True)
class IncidentEvent:
    """One thing a payload says about one alert (or one alert group), keyed by ``dedup_key``.

    ``dedup_key`` is the source's own key (an Alertmanager fingerprint, a group key); the integration's name is
    put in front of it, so two integrations never share incidents. Fields left None take the integration's
    defaults. ``origin`` is the JSONPath of the part of the payload the event came from, for error messages.
    """

    action: EventAction = attrs.field(converter=EventAction)
    dedup_key: str = attrs.field(validator=_dedup_key)
    title: str | None = None
    description: str | None = None
    severity: Severity | None = attrs.field(default=None, converter=attrs.converters.optional(Severity))
    incident_type: IncidentType | None = attrs.field(default=None, converter=attrs.converters.optional(IncidentType))
    labels: Mapping[str, str] = attrs.field(factory=dict, validator=_string_labels)
    payload: Any = None
    origin: str = "$"


@attrs.frozen(kw_only=True)
class IncidentDefaults:
    """What an integration's incidents get when the payload does not say.

    ``source`` defaults to the integration's name; ``labels`` sit under the payload's labels (the payload wins
    on a shared key); ``assignees`` are set on every incident the integration opens.
    """

    source: str | None = None
    incident_type: IncidentType = IncidentType.UNKNOWN
    severity: Severity = Severity.P3
    labels: dict[str, str] = attrs.field(factory=dict, validator=_string_labels)
    assignees: tuple[str, ...] = ()


MIN_TOKEN_LENGTH = 16


def check_token(value: str, field: str = "token") -> str:
    """``value`` if it can be an integration token (16 characters or more, no whitespace); else a
    ``FieldError`` naming ``field``."""
    if any(char.isspace() for char in value):
        raise FieldError(field, "must not contain spaces")
    if len(value) < MIN_TOKEN_LENGTH:
        raise FieldError(field, f"must be at least {MIN_TOKEN_LENGTH} characters long")
    return value


@attrs.frozen(kw_only=True)
class Integration:
    """One configured integration: its source's settings, the token callers must present, and the defaults.

    In a config file they share one mapping: ``{type: alertmanager, token_env: PROM_TOKEN, defaults: {...},
    group: true}`` — ``type`` picks the source, and every key but ``token``, ``token_env`` and ``defaults`` is
    the source's. The secret is ``token`` or, better, the environment variable named by ``token_env``.
    """

    source: SourceSpec
    token: str | None = attrs.field(default=None, repr=False)
    token_env: str | None = None
    defaults: IncidentDefaults = attrs.field(factory=IncidentDefaults)

    def __attrs_post_init__(self) -> None:
        check_secret_fields(self.token, self.token_env)

    @property
    def type(self) -> str:
        """The source's type tag (``alertmanager``, ``grafana``, ``generic``, …)."""
        return self.source.type

    def secret(self) -> str:
        """The token callers must present; from the environment for ``token_env`` (``LookupError`` when the
        variable is unset or too short)."""
        return read_secret(self.token, self.token_env)


def check_secret_fields(token: str | None, token_env: str | None) -> None:
    """``FieldError`` unless exactly one of ``token`` (a usable token) and ``token_env`` (a variable name) is
    given: what an integration or a heartbeat says about its secret."""
    if (token is None) == (token_env is None):
        raise FieldError("token", "give exactly one of token and token_env")
    if token is not None:
        check_token(token)
    if token_env is not None and (not token_env or any(c.isspace() for c in token_env)):
        raise FieldError("token_env", f"must name an environment variable, got {token_env!r}")


def read_secret(token: str | None, token_env: str | None) -> str:
    """The secret ``token`` is, or the environment variable ``token_env`` holds (``LookupError`` when that is
    unset or too short)."""
    if token is not None:
        return token
    assert token_env is not None
    value = os.environ.get(token_env, "")
    try:
        return check_token(value, token_env)
    except FieldError as exc:
        state = "is not set" if not value else exc.message
        raise LookupError(f"the environment variable {token_env} {state}") from None


# --- severities --------------------------------------------------------------------------------------------

DEFAULT_SEVERITY_MAP: Mapping[str, Severity] = MappingProxyType(
    {
        "critical": Severity.P1,
        "high": Severity.P2,
        "error": Severity.P2,
        "warning": Severity.P3,
        "info": Severity.P4,
    }
)


def severity_lookup(table: Mapping[str, Severity]) -> Callable[[Any], Severity | None]:
    """Compile ``table`` (a source's ``severity_map``) into ``lookup(value) -> Severity | None``.

    Keys match case-insensitively; numbers match their decimal text; ``P0``…``P4`` (any case) always mean
    themselves. None for anything else, so the integration's default severity applies.
    """
    compiled = {member.value.lower(): member for member in Severity}
    compiled.update({str(key).strip().lower(): Severity(value) for key, value in table.items()})

    def lookup(value: Any) -> Severity | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return None
        return compiled.get(str(value).strip().lower())

    return lookup


# --- config ----------------------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_integrations(integrations: Mapping[str, Integration]) -> Iterator[tuple[str, str]]:
    """Config check of the ``integrations`` section: names become URL path segments
    (``/v1/integrations/NAME``), so they are letters, digits and ``_.-``."""
    yield from path_name_faults("integrations", "an integration", integrations)


def path_name_faults(section: str, what: str, names: Iterable[str]) -> Iterator[tuple[str, str]]:
    """A fault for each of ``names`` (keys of the config's ``section``) that cannot be a URL path segment."""
    for name in names:
        if not _NAME.fullmatch(name):
            yield (
                f"$.{section}[{name!r}]",
                f"{what} name is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit",
            )


# --- reading untrusted JSON ------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def mapping_at(value: Any, path: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object; else ``PayloadError(path, ...)``."""
    if not isinstance(value, Mapping):
        raise PayloadError(path, f"expected an object, got {_kind(value)}")
    return value


def list_at(value: Any, path: str) -> list[Any]:
    """``value`` if it is a JSON list; else ``PayloadError(path, ...)``."""
    if not isinstance(value, list):
        raise PayloadError(path, f"expected a list, got {_kind(value)}")
    return value


def string_at(document: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    """``document[key]`` if it is a string; None when absent (or null) unless ``required``."""
    value = document.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{path}.{key}", "required field missing")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{path}.{key}", f"expected a string, got {_kind(value)}")
    return value


def string_map_at(document: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
    """``document[key]`` if it is an object of strings (absent or null: ``{}``)."""
    value = document.get(key)
    if value is None:
        return {}
    mapping = mapping_at(value, f"{path}.{key}")
    for name, text in mapping.items():
        if not isinstance(text, str):
            raise PayloadError(f"{path}.{key}.{name}", f"expected a string, got {_kind(text)}")
    return dict(mapping)
