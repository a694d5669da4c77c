"""Registries of what plugins provide, and the typed registrars handed to the registration hooks.

Each registration hook is called once per plugin with a registrar bound to that plugin, so every entry
knows who registered it. A name registered twice is an error naming both plugins unless the second
registration says ``replace=True``. After start-up the registry is frozen: nothing changes while incidents
are handled.

A plugin may register a settings class (its ``plugins.<name>`` section of a config). Any callable it registers
that declares a keyword parameter ``plugin_settings`` gets that plugin's settings object: :meth:`Registry.bind`
returns a registry whose callables carry them, one per loaded configuration.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import attrs

from tocsin.errors import PluginError
from tocsin.models import ActionSpec, ContactSpec, PlaybookSpec, RotationSpec, TargetSpec

__all__ = [
    "EXTENSION_POINTS",
    "INTEGRATION_KEYS",
    "MISSING",
    "PLAYBOOK_CHANNEL",
    "PLUGIN_SETTINGS",
    "UNUSABLE",
    "ActionRegistrar",
    "ActionType",
    "ChannelRegistrar",
    "ChannelType",
    "ExtensionPoint",
    "ExtractorRegistrar",
    "ExtractorSpec",
    "OperatorRegistrar",
    "OperatorSpec",
    "PlaybookRegistrar",
    "PlaybookType",
    "Registered",
    "Registry",
    "RotationRegistrar",
    "RotationType",
    "SettingsRegistrar",
    "SettingsType",
    "SourceRegistrar",
    "SourceType",
    "Table",
    "TargetRegistrar",
    "TargetType",
    "UnknownNameError",
    "UnusableSettings",
]

T = TypeVar("T")

PLUGIN_SETTINGS = "plugin_settings"  # the keyword parameter through which a plugin's callables get its settings


class UnusableSettings(ValueError):
    """Raised instead of calling a plugin's callable whose settings have faults (bound as :data:`UNUSABLE`): the
    config loader reports the settings' faults and drops what the checks say because of this."""

    def __init__(self, plugin: str) -> None:
        super().__init__(self.message(plugin))
        self.plugin = plugin

    @staticmethod
    def message(plugin: str) -> str:
        """The message, which any fault raised because of it contains."""
        return f"the settings of plugin {plugin!r} have faults"


UNUSABLE: Any = object()  # bind() a plugin's settings as this: its callables raise UnusableSettings


def _unusable(plugin: str, *args: Any, **kwargs: Any) -> Any:
    raise UnusableSettings(plugin)


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
    """A rotation strategy: its settings class, ``compile(settings)`` returning the rotation object, and an
    optional ``check(settings, config)`` yielding messages for references that do not resolve (run at load)."""

    cls: type
    compile: Callable[..., Any]
    check: Callable[..., Any] | None = None


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
    returning the sender, an optional settings class read from the config's ``channels`` section, and an
    optional ``check(settings, config)`` yielding messages for what the class cannot see alone (run at load).

    ``links`` says whether its messages show a page's links (``Notification.links``: the action links and the
    one that opens the incident in the web console);
    ``interactions``, when given, answers its service's callbacks at ``POST /v1/<name>/interactions`` (see
    :mod:`tocsin.responding`)."""

    cls: type
    create: Callable[..., Any]
    settings: type | None = None
    links: bool = True
    interactions: Callable[..., Any] | None = None
    check: Callable[..., Any] | None = None


@attrs.frozen(kw_only=True)
class SourceType:
    """An integration source: its settings class (``cls.type`` is the tag in the config's ``integrations``
    section), ``compile(settings)`` returning ``parse(body) -> list[IncidentEvent]`` for one integration (run
    by ``tocsin check`` too), and an optional ``check(settings, config)`` yielding messages (run at load)."""

    cls: type
    compile: Callable[..., Any]
    check: Callable[..., Any] | None = None


@attrs.frozen(kw_only=True)
class SettingsType:
    """A plugin's settings: the attrs class its ``plugins.<name>`` config section is read into, and an optional
    ``check(settings, config)`` yielding messages for what the class cannot see alone (run at load time)."""

    cls: type
    check: Callable[..., Any] | None = None


@attrs.frozen(kw_only=True)
class PlaybookType:
    """A playbook type: its settings class (``cls.type`` is the tag in the config's ``playbooks`` section) and
    ``create(settings)`` returning the runner of one playbook: ``async run(request: PlaybookRun) -> DeliveryResult``,
    optionally ``endpoint(request) -> str`` (where it goes: its queue in the outbox) and ``async aclose()``."""

    cls: type
    create: Callable[..., Any]


@attrs.frozen(kw_only=True)
class Registered(Generic[T]):
    """One entry of a table: the name, the plugin that registered it, and what it registered.

    ``wants_settings`` names the fields of ``value`` holding callables that take ``plugin_settings``.
    """

    name: str
    plugin: str
    value: T
    wants_settings: tuple[str, ...] = ()


def _takes_plugin_settings(function: Any) -> bool:
    """True when ``function`` declares a ``plugin_settings`` parameter (it then gets its plugin's settings)."""
    try:
        return PLUGIN_SETTINGS in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature takes nothing of ours
        return False


def _wants_settings(value: Any) -> tuple[str, ...]:
    if not attrs.has(type(value)):
        return ()
    return tuple(
        field.name
        for field in attrs.fields(type(value))
        if callable(held := getattr(value, field.name)) and not isinstance(held, type) and _takes_plugin_settings(held)
    )


class Table(Generic[T]):
    """Name -> registered value for one extension point."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered[T]] = {}
        self._frozen = False
        # Says who would have provided a missing name (a blocked plugin), or None: set by the plugin manager.
        self.explain_missing: Callable[[str, str], str | None] | None = None

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
        self._entries[name] = Registered(name=name, plugin=plugin, value=value, wants_settings=_wants_settings(value))

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
            why = self.explain_missing(self.kind, name) if self.explain_missing is not None else None
            if why:
                return f"{message}: {why}"
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

    def bound(self, settings: Mapping[str, Any]) -> Table[T]:
        """A frozen copy whose callables that take ``plugin_settings`` get their plugin's entry of ``settings``."""
        table: Table[T] = Table(self.kind)
        table.explain_missing = self.explain_missing
        for name, entry in self._entries.items():
            if entry.wants_settings:
                given = settings.get(entry.plugin)
                bound_callables = {
                    field: functools.partial(_unusable, entry.plugin)
                    if given is UNUSABLE
                    else functools.partial(getattr(entry.value, field), plugin_settings=given)
                    for field in entry.wants_settings
                }
                entry = attrs.evolve(entry, value=attrs.evolve(entry.value, **bound_callables))  # type: ignore[misc]
            table._entries[name] = entry
        table._frozen = True
        return table

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
    settings: Table[SettingsType]  # by plugin name
    playbooks: Table[PlaybookType]

    def __init__(self, plugin_names: Iterable[str] = (), left_out: Mapping[str, str] | None = None) -> None:
        for point in EXTENSION_POINTS:
            setattr(self, point.key, Table(point.kind))
        self.plugin_names = frozenset(plugin_names)  # the plugins whose registrations these are
        self.left_out: Mapping[str, str] = dict(left_out or {})  # plugins found but not registered -> why
        self._unbound: Registry = self

    def bind(self, settings: Mapping[str, Any]) -> Registry:
        """A frozen registry like this one whose callables that declare ``plugin_settings`` get their plugin's
        entry of ``settings`` (plugin name -> settings object; None for a plugin not in it)."""
        unbound = self._unbound
        bound = Registry(unbound.plugin_names, unbound.left_out)
        bound._unbound = unbound
        for point in EXTENSION_POINTS:
            setattr(bound, point.key, getattr(unbound, point.key).bound(settings))
        return bound

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

    def __call__(
        self,
        cls: type,
        *,
        compile: Callable[..., Any],
        check: Callable[..., Any] | None = None,
        replace: bool = False,
    ) -> None:
        """Register the rotation settings class ``cls``, ``compile(settings)`` building the rotation, and an
        optional load-time ``check(settings, config)``."""
        tag = _type_tag(cls, self.plugin, "rotation")
        entry = RotationType(cls=cls, compile=compile, check=check)
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


# The outbox channel that runs playbooks: no channel plugin may take its name.
PLAYBOOK_CHANNEL = "playbook"


class ChannelRegistrar(_Registrar):
    """Registers notification channels for one plugin."""

    def __call__(
        self,
        cls: type,
        *,
        create: Callable[..., Any],
        settings: type | None = None,
        check: Callable[..., Any] | None = None,
        links: bool = True,
        interactions: Callable[..., Any] | None = None,
        replace: bool = False,
    ) -> None:
        """Register the contact class ``cls`` (its tag names the channel), ``create(settings)``, the settings
        class of the config's ``channels.<name>`` section and an optional load-time ``check(settings, config)``;
        ``links``: its messages show action links; ``interactions``: the handler of its service's callbacks."""
        tag = _type_tag(cls, self.plugin, "channel")
        if tag == PLAYBOOK_CHANNEL:
            raise PluginError(
                f"plugin {self.plugin!r}: channel name {tag!r} is reserved: the outbox runs playbooks through it"
            )
        entry = ChannelType(
            cls=cls, create=create, settings=settings, links=links, interactions=interactions, check=check
        )
        self._registry.channels.add(tag, entry, plugin=self.plugin, replace=replace)


# Keys every integration has, whatever its source: a source's settings class may not use them.
INTEGRATION_KEYS = frozenset({"type", "token", "token_env", "defaults"})


class SourceRegistrar(_Registrar):
    """Registers integration sources for one plugin."""

    def __call__(
        self,
        cls: type,
        *,
        compile: Callable[..., Any],
        check: Callable[..., Any] | None = None,
        replace: bool = False,
    ) -> None:
        """Register the settings class ``cls`` (tag ``cls.type``), ``compile(settings)`` building the parser and
        an optional load-time ``check(settings, config)``."""
        tag = _type_tag(cls, self.plugin, "source")
        taken = sorted(INTEGRATION_KEYS & {field.name for field in attrs.fields(cls)})
        if taken:
            raise PluginError(
                f"plugin {self.plugin!r}: source class {cls.__name__} may not have field(s) {', '.join(taken)}: "
                "every integration has them"
            )
        entry = SourceType(cls=cls, compile=compile, check=check)
        self._registry.sources.add(tag, entry, plugin=self.plugin, replace=replace)


class SettingsRegistrar(_Registrar):
    """Registers one plugin's settings class (the config's ``plugins.<plugin name>`` section)."""

    def __call__(self, cls: type, *, check: Callable[..., Any] | None = None) -> None:
        """Register the attrs class ``cls`` the plugin's section is read into, and an optional load-time
        ``check(settings, config)`` yielding a message for each fault the class cannot see alone."""
        if not attrs.has(cls):
            raise PluginError(f"plugin {self.plugin!r}: a settings class must be an attrs class, got {cls!r}")
        self._registry.settings.add(self.plugin, SettingsType(cls=cls, check=check), plugin=self.plugin)


class PlaybookRegistrar(_Registrar):
    """Registers playbook types for one plugin."""

    def __call__(self, cls: type, *, create: Callable[..., Any], replace: bool = False) -> None:
        """Register the settings class ``cls`` (tag ``cls.type``) and ``create(settings)`` building a runner."""
        tag = _type_tag(cls, self.plugin, "playbook")
        entry = PlaybookType(cls=cls, create=create)
        self._registry.playbooks.add(tag, entry, plugin=self.plugin, replace=replace)


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
    # First: a plugin's settings class is known before the callables that take its settings are registered.
    ExtensionPoint(
        key="settings", kind="plugin settings", hook="tocsin_register_settings", registrar=SettingsRegistrar
    ),
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
    ExtensionPoint(
        key="playbooks",
        kind="playbook",
        hook="tocsin_register_playbooks",
        registrar=PlaybookRegistrar,
        variant=PlaybookSpec,
    ),
)
