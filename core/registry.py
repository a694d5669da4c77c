"""Registries of what plugins provide, and the typed registrars handed to the registration hooks.

Each registration hook is called once per plugin with a registrar bound to that plugin, so every entry
knows who registered it. A name registered twice is an error naming both plugins unless the second
registration says ``replace=True``. After start-up the registry is frozen: nothing changes while incidents
are handled.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import attrs

from tocsin.errors import PluginError
from tocsin.models import ActionSpec, ContactSpec, RotationSpec, TargetSpec

__all__ = [
    "EXTENSION_POINTS",
    "INTEGRATION_KEYS",
    "MISSING",
    "ActionRegistrar",
    "ActionType",
    "ChannelRegistrar",
    "ChannelType",
    "ExtensionPoint",
    "ExtractorRegistrar",
    "ExtractorSpec",
    "OperatorRegistrar",
    "OperatorSpec",
    "Registered",
    "Registry",
    "RotationRegistrar",
    "RotationType",
    "SourceRegistrar",
    "SourceType",
    "Table",
    "TargetRegistrar",
    "TargetType",
    "UnknownNameError",
]

T = TypeVar("T")


class _Missing:
    """The value of a field an incident does not have (distinct from ``None``, which is a value)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class UnknownNameError(LookupError):
    """A name that no plugin registered; the message lists the known names and the closest match."""


@attrs.frozen(kw_only=True)
class OperatorSpec:
    """A condition operator. ``compile(expected)`` checks the rule's value (raising ``ValueError`` with a
    readable message when it is wrong) and returns ``test(actual) -> bool``; ``actual`` is ``MISSING`` when
    the incident has no such field. Operators with ``takes_value=False`` (exists) are compiled with
    ``MISSING``. A test may raise ``TimeoutError`` when it ran out of time: the condition counts as false.

    ``keys(expected)``, when given, lets the rule index look rules up instead of scanning them: it returns
    the ``tocsin.values.index_key`` of every actual value for which the test is true (and for no other), or
    None when it cannot say. ``cost`` orders a rule's conditions: cheaper ones are tested first.

    ``slow=True`` says a test may take long (up to a timeout of its own, as a regular expression that
    backtracks): ``tocsin serve`` then runs routing in a worker thread, so that it holds up no other request.
    Rules without a slow operator are routed in place (a thread hop costs more than most rules).
    """

    name: str
    compile: Callable[[Any], Callable[[Any], bool]]
    takes_value: bool = True
    keys: Callable[[Any], Iterable[Hashable] | None] | None = None
    cost: int = 1
    slow: bool = False


@attrs.frozen(kw_only=True)
class ExtractorSpec:
    """A field extractor. ``compile(field)`` returns ``get(incident) -> value | MISSING``. With
    ``prefix=True`` the spec handles every field that starts with ``name`` (``labels.``, ``jmespath:``).
    ``cost`` orders a rule's conditions: fields that are cheap to read are tested first."""

    name: str
    compile: Callable[[str], Callable[[Any], Any]]
    prefix: bool = False
    cost: int = 1


@attrs.frozen(kw_only=True)
class ActionType:
    """A routing action type: its attrs class (``cls.type`` is the config tag), ``apply(action, ctx)``
    (``ctx`` is a ``tocsin.ActionContext``) and an optional ``check(action, config)`` yielding messages for
    references that do not resolve (an unknown policy id), reported when the config loads."""

    cls: type
    apply: Callable[..., Any]
    check: Callable[..., Any] | None = None


@attrs.frozen(kw_only=True)
class RotationType:
    """A rotation strategy: its settings class and ``compile(settings)`` returning the rotation object."""

    cls: type
    compile: Callable[..., Any]


@attrs.frozen(kw_only=True)
class TargetType:
    """An escalation target type: its class, ``expand`` (target -> recipients at fire time) and an optional
    ``check(target, config)`` yielding messages for references that do not resolve (checked at load)."""

    cls: type
    expand: Callable[..., Any]
    check: Callable[..., Any] | None = None


@attrs.frozen(kw_only=True)
class ChannelType:
    """A notification channel: its contact class (``cls.type`` is the channel name), ``create(settings)``
    returning the sender, and an optional settings class read from the config's ``channels`` section.

    ``links`` says whether its messages show a page's links (``Notification.links``: the action links and the
    one that opens the incident in the web console);
    ``interactions``, when given, answers its service's callbacks at ``POST /v1/<name>/interactions`` (see
    :mod:`tocsin.responding`)."""

    cls: type
    create: Callable[..., Any]
    settings: type | None = None
    links: bool = True
    interactions: Callable[..., Any] | None = None


@attrs.frozen(kw_only=True)
class SourceType:
    """An integration source: its settings class (``cls.type`` is the tag in the config's ``integrations``
    section) and ``compile(settings)`` returning ``parse(body) -> list[IncidentEvent]`` for one integration."""

    cls: type
    compile: Callable[..., Any]


@attrs.frozen(kw_only=True)
class Registered(Generic[T]):
    """One entry of a table: the name, the plugin that registered it, and what it registered."""

    name: str
    plugin: str
    value: T


class Table(Generic[T]):
    """Name -> registered value for one extension point."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered[T]] = {}
        self._frozen = False

    def add(self, name: str, value: T, *, plugin: str, replace: bool = False) -> None:
        """Register ``value`` under ``name`` for ``plugin``; a taken name is an error unless ``replace``."""
        if self._frozen:
            raise PluginError(
                f"plugin {plugin!r}: cannot register {self.kind} {name!r}: registries are frozen after start-up"
            )
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r}: {self.kind} name must be a non-empty string, got {name!r}")
        held = self._entries.get(name)
        if held is not None and not replace:
            raise PluginError(
                f"plugin {plugin!r}: {self.kind} {name!r} is already registered by {held.plugin!r} "
                "(pass replace=True to override it)"
            )
        self._entries[name] = Registered(name=name, plugin=plugin, value=value)

    def freeze(self) -> None:
        """Refuse any further registration."""
        self._frozen = True

    def get(self, name: str) -> T:
        """The value registered as ``name``; ``UnknownNameError`` lists the known names otherwise."""
        try:
            return self._entries[name].value
        except (KeyError, TypeError):
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: object) -> str:
        """``unknown <kind> 'x'; known: a, b`` (with a suggestion when one is close)."""
        known = sorted(self._entries)
        message = f"unknown {self.kind} {name!r}; known: {', '.join(known) or '(none)'}"
        if isinstance(name, str):
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        return message

    def entry(self, name: str) -> Registered[T]:
        """The full entry (with the plugin name) for ``name``."""
        return self._entries[name]

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Registered[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


class Registry:
    """Everything the loaded plugins provide, one table per extension point (see :data:`EXTENSION_POINTS`)."""

    operators: Table[OperatorSpec]
    extractors: Table[ExtractorSpec]
    actions: Table[ActionType]
    rotations: Table[RotationType]
    targets: Table[TargetType]
    channels: Table[ChannelType]
    sources: Table[SourceType]

    def __init__(self) -> None:
        for point in EXTENSION_POINTS:
            setattr(self, point.key, Table(point.kind))

    def tables(self) -> dict[str, Table[Any]]:
        """The tables by their public key (as in ``tocsin plugins --json``), in extension-point order."""
        return {point.key: getattr(self, point.key) for point in EXTENSION_POINTS}

    def freeze(self) -> None:
        """Freeze every table."""
        for table in self.tables().values():
            table.freeze()


def _type_tag(cls: type, plugin: str, kind: str) -> str:
    tag = getattr(cls, "type", None)
    if not attrs.has(cls) or not isinstance(tag, str) or not tag:
        raise PluginError(
            f"plugin {plugin!r}: a {kind} class must be an attrs class with a string ClassVar 'type', got {cls!r}"
        )
    return tag


class _Registrar:
    def __init__(self, registry: Registry, plugin: str) -> None:
        self._registry = registry
        self.plugin = plugin


class OperatorRegistrar(_Registrar):
    """Registers condition operators for one plugin."""

    def __call__(
        self,
        name: str,
        compile: Callable[[Any], Callable[[Any], bool]],
        *,
        takes_value: bool = True,
        replace: bool = False,
        keys: Callable[[Any], Iterable[Hashable] | None] | None = None,
        cost: int = 1,
        slow: bool = False,
    ) -> None:
        """Register operator ``name``; ``compile(expected)`` returns the predicate over the actual value.
        ``keys`` and ``cost`` are optional hints for the rule index and condition order; ``slow`` says a test
        may run until a timeout of its own (see OperatorSpec)."""
        spec = OperatorSpec(name=name, compile=compile, takes_value=takes_value, keys=keys, cost=cost, slow=slow)
        self._registry.operators.add(name, spec, plugin=self.plugin, replace=replace)


class ExtractorRegistrar(_Registrar):
    """Registers field extractors for one plugin."""

    def __call__(
        self,
        name: str,
        compile: Callable[[str], Callable[[Any], Any]],
        *,
        prefix: bool = False,
        replace: bool = False,
        cost: int = 1,
    ) -> None:
        """Register the field ``name`` (or every field starting with it when ``prefix``); ``cost`` is relative
        (1: an attribute read) and orders a rule's conditions cheapest first."""
        spec = ExtractorSpec(name=name, compile=compile, prefix=prefix, cost=cost)
        self._registry.extractors.add(name, spec, plugin=self.plugin, replace=replace)


class ActionRegistrar(_Registrar):
    """Registers routing action types for one plugin."""

    def __call__(
        self,
        cls: type,
        *,
        apply: Callable[..., Any],
        check: Callable[..., Any] | None = None,
        replace: bool = False,
    ) -> None:
        """Register the action class ``cls`` (tag ``cls.type``), ``apply(action, ctx)`` and an optional
        load-time ``check(action, config)``."""
        tag = _type_tag(cls, self.plugin, "action")
        entry = ActionType(cls=cls, apply=apply, check=check)
        self._registry.actions.add(tag, entry, plugin=self.plugin, replace=replace)


class RotationRegistrar(_Registrar):
    """Registers rotation strategies for one plugin."""

    def __call__(self, cls: type, *, compile: Callable[..., Any], replace: bool = False) -> None:
        """Register the rotation settings class ``cls`` and ``compile(settings)`` building the rotation."""
        tag = _type_tag(cls, self.plugin, "rotation")
        entry = RotationType(cls=cls, compile=compile)
        self._registry.rotations.add(tag, entry, plugin=self.plugin, replace=replace)


class TargetRegistrar(_Registrar):
    """Registers escalation target types for one plugin."""

    def __call__(
        self,
        cls: type,
        *,
        expand: Callable[..., Any],
        check: Callable[..., Any] | None = None,
        replace: bool = False,
    ) -> None:
        """Register the target class ``cls``, its ``expand`` and an optional load-time ``check``."""
        tag = _type_tag(cls, self.plugin, "target")
        entry = TargetType(cls=cls, expand=expand, check=check)
        self._registry.targets.add(tag, entry, plugin=self.plugin, replace=replace)


class ChannelRegistrar(_Registrar):
    """Registers notification channels for one plugin."""

    def __call__(
        self,
        cls: type,
        *,
        create: Callable[..., Any],
        settings: type | None = None,
        links: bool = True,
        interactions: Callable[..., Any] | None = None,
        replace: bool = False,
    ) -> None:
        """Register the contact class ``cls`` (its tag names the channel) and ``create(settings)``; ``links``:
        its messages show action links; ``interactions``: the handler of its service's callbacks."""
        tag = _type_tag(cls, self.plugin, "channel")
        entry = ChannelType(cls=cls, create=create, settings=settings, links=links, interactions=interactions)
        self._registry.channels.add(tag, entry, plugin=self.plugin, replace=replace)


# Keys every integration has, whatever its source: a source's settings class may not use them.
INTEGRATION_KEYS = frozenset({"type", "token", "token_env", "defaults"})


class SourceRegistrar(_Registrar):
    """Registers integration sources for one plugin."""

    def __call__(self, cls: type, *, compile: Callable[..., Any], replace: bool = False) -> None:
        """Register the settings class ``cls`` (tag ``cls.type``) and ``compile(settings)`` building the parser."""
        tag = _type_tag(cls, self.plugin, "source")
        taken = sorted(INTEGRATION_KEYS & {field.name for field in attrs.fields(cls)})
        if taken:
            raise PluginError(
                f"plugin {self.plugin!r}: source class {cls.__name__} may not have field(s) {', '.join(taken)}: "
                "every integration has them"
            )
        entry = SourceType(cls=cls, compile=compile)
        self._registry.sources.add(tag, entry, plugin=self.plugin, replace=replace)


@attrs.frozen(kw_only=True)
class ExtensionPoint:
    """One extension point: everything else (the registry's tables, the hook each plugin implements, the
    config converter's tagged unions, ``tocsin plugins``) is derived from the list of these."""

    key: str  # the registry attribute and the key in ``tocsin plugins --json``: "operators"
    kind: str  # how messages name one entry: "condition operator"
    hook: str  # the registration hook: "tocsin_register_operators"
    registrar: type[_Registrar]  # what the hook's ``register`` argument is
    variant: type | None = None  # the model marker of a config tagged union on ``type``, if its entries are one


EXTENSION_POINTS: tuple[ExtensionPoint, ...] = (
    ExtensionPoint(
        key="operators", kind="condition operator", hook="tocsin_register_operators", registrar=OperatorRegistrar
    ),
    ExtensionPoint(
        key="extractors", kind="field extractor", hook="tocsin_register_extractors", registrar=ExtractorRegistrar
    ),
    ExtensionPoint(
        key="actions", kind="action", hook="tocsin_register_actions", registrar=ActionRegistrar, variant=ActionSpec
    ),
    ExtensionPoint(
        key="rotations",
        kind="rotation",
        hook="tocsin_register_rotations",
        registrar=RotationRegistrar,
        variant=RotationSpec,
    ),
    ExtensionPoint(
        key="targets", kind="target", hook="tocsin_register_targets", registrar=TargetRegistrar, variant=TargetSpec
    ),
    ExtensionPoint(
        key="channels", kind="channel", hook="tocsin_register_channels", registrar=ChannelRegistrar, variant=ContactSpec
    ),
    # Integration sources are read by the integrations codec (their settings share a mapping with the
    # integration's own keys), so they are not a plain tagged union.
    ExtensionPoint(key="sources", kind="source", hook="tocsin_register_sources", registrar=SourceRegistrar),
)
