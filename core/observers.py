"""Observer hooks, resolved once: a hook no plugin implements is never called (nor its arguments built).

Each attribute is a :class:`Hook` for one observer hook, or None when nothing implements it. The
implementations are looked up from pluggy when the engine is built and then called directly, one by one:
an exception raised by one observer is logged and the others still see the event. Observers watch; they
never stop the engine. An implementation that declares ``plugin_settings`` gets its own plugin's settings
(which is why hook wrappers, which would see every plugin's call at once, are refused at load).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tocsin.logs import get_logger

__all__ = ["OBSERVER_HOOKS", "Hook", "Observers"]

OBSERVER_HOOKS = (
    "tocsin_incident_processed",
    "tocsin_escalation_started",
    "tocsin_escalation_level_fired",
    "tocsin_escalation_acknowledged",
    "tocsin_escalation_resolved",
    "tocsin_escalation_cancelled",
    "tocsin_escalation_completed",
    "tocsin_notification_delivered",
    "tocsin_notification_failed",
    "tocsin_change_recorded",
)

_log = get_logger(component="observers")


class Hook:
    """The implementations of one observer hook, each with the argument names it takes."""

    __slots__ = ("_calls", "name")

    def __init__(self, name: str, caller: Any, settings: Mapping[str, Any] | None = None) -> None:
        self.name = name
        every = set(caller.spec.argnames) - {"plugin_settings"} if caller.spec is not None else None
        # pluggy calls the most recently registered implementation first; keep that order. An implementation
        # that takes every argument of the hook gets them as they are (None); ``plugin_settings`` is its own.
        self._calls: list[tuple[str, Callable[..., Any], tuple[str, ...] | None, dict[str, Any]]] = []
        for impl in reversed(caller.get_hookimpls()):
            names = set(impl.argnames)
            extra = {}
            if "plugin_settings" in names:
                names.discard("plugin_settings")
                extra["plugin_settings"] = (settings or {}).get(impl.plugin_name)
            argnames = None if names == every else tuple(name for name in impl.argnames if name in names)
            self._calls.append((impl.plugin_name, impl.function, argnames, extra))

    def __call__(self, **kwargs: Any) -> None:
        """Call every implementation with the arguments it declares; log what one raises."""
        for plugin, function, argnames, extra in self._calls:
            try:
                if argnames is None:
                    function(**kwargs, **extra)
                else:
                    function(**{name: kwargs[name] for name in argnames}, **extra)
            except Exception:
                _log.exception("observer hook raised", hook=self.name, plugin=plugin)


class Observers:
    """The observer hooks that have implementations, by short name (``started``, ``level_fired``, …)."""

    __slots__ = tuple(name.removeprefix("tocsin_").removeprefix("escalation_") for name in OBSERVER_HOOKS)

    # One per name in OBSERVER_HOOKS, without its prefix (set in __init__).
    incident_processed: Hook | None
    started: Hook | None
    level_fired: Hook | None
    acknowledged: Hook | None
    resolved: Hook | None
    cancelled: Hook | None
    completed: Hook | None
    notification_delivered: Hook | None
    notification_failed: Hook | None
    change_recorded: Hook | None

    def __init__(self, hook_relay: Any | None, settings: Mapping[str, Any] | None = None) -> None:
        for name in OBSERVER_HOOKS:
            caller = getattr(hook_relay, name, None) if hook_relay is not None else None
            hook = Hook(name, caller, settings) if caller is not None and caller.get_hookimpls() else None
            setattr(self, name.removeprefix("tocsin_").removeprefix("escalation_"), hook)

    @staticmethod
    def emit(hook: Hook | None, **kwargs: Any) -> None:
        """Call ``hook(**kwargs)`` if it is set."""
        if hook is not None:
            hook(**kwargs)
