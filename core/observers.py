"""Observer hooks, resolved once: a hook no plugin implements is never called (nor its arguments built).

Each attribute is a :class:`Hook` for one observer hook, or None when nothing implements it. The
implementations are looked up from pluggy when the engine is built and then called directly, one by one:
an exception raised by one observer is logged and the others still see the event. Observers watch; they
never stop the engine. (A hook with a pluggy wrapper implementation is called through pluggy instead, so
the wrapper keeps its meaning.)
"""

from __future__ import annotations

from collections.abc import Callable
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

    def __init__(self, name: str, caller: Any) -> None:
        self.name = name
        impls = caller.get_hookimpls()
        if any(getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False) for impl in impls):
            self._calls: list[tuple[str, Callable[..., Any], tuple[str, ...] | None]] = [(name, caller, None)]
        else:
            # pluggy calls the most recently registered implementation first; keep that order. An
            # implementation that takes every argument of the hook gets them as they are (None).
            every = set(caller.spec.argnames) if caller.spec is not None else None
            self._calls = [
                (impl.plugin_name, impl.function, None if set(impl.argnames) == every else tuple(impl.argnames))
                for impl in reversed(impls)
            ]

    def __call__(self, **kwargs: Any) -> None:
        """Call every implementation with the arguments it declares; log what one raises."""
        for plugin, function, argnames in self._calls:
            try:
                if argnames is None:
                    function(**kwargs)
                else:
                    function(**{name: kwargs[name] for name in argnames})
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

    def __init__(self, hook_relay: Any | None) -> None:
        for name in OBSERVER_HOOKS:
            caller = getattr(hook_relay, name, None) if hook_relay is not None else None
            hook = Hook(name, caller) if caller is not None and caller.get_hookimpls() else None
            setattr(self, name.removeprefix("tocsin_").removeprefix("escalation_"), hook)

    @staticmethod
    def emit(hook: Hook | None, **kwargs: Any) -> None:
        """Call ``hook(**kwargs)`` if it is set."""
        if hook is not None:
            hook(**kwargs)
