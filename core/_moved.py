"""Old module paths from before the feature packages, kept importable for code written against them.

``import tocsin.signing`` still works and gives the very module now at ``tocsin.delivery.webhook.signing``, with
a :class:`DeprecationWarning` that names the new path. The table is the record of the move
(docs/architecture.md prints it); an old path that became a package (``tocsin.routing``, ``tocsin.store``, …)
needs no entry, because the package's face exports what the module did.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED: dict[str, str] = {
    "tocsin._schedule_parts": "tocsin.schedules._parts",
    "tocsin.ical": "tocsin.schedules.ical",
    "tocsin.windows": "tocsin.schedules.windows",
    "tocsin.rules_compile": "tocsin.routing.compile",
    "tocsin.rules_explain": "tocsin.routing.explain",
    "tocsin.rules_index": "tocsin.routing.index",
    "tocsin.rules_check": "tocsin.routing.check",
    "tocsin.fields": "tocsin.routing.fields",
    "tocsin.actions": "tocsin.routing.actions",
    "tocsin.policies": "tocsin.routing.policies",
    "tocsin.memory_store": "tocsin.store.memory",
    "tocsin.sqlite_db": "tocsin.store.sqlite.db",
    "tocsin.sqlite_incidents": "tocsin.store.sqlite.incidents",
    "tocsin.sqlite_outbox": "tocsin.store.sqlite.outbox",
    "tocsin.sqlite_schema": "tocsin.store.sqlite.schema",
    "tocsin.sqlite_store": "tocsin.store.sqlite.store",
    "tocsin.alert_groups": "tocsin.integrations.alert_groups",
    "tocsin.channels": "tocsin.delivery.channels",
    "tocsin.outbox": "tocsin.delivery.outbox",
    "tocsin.payload": "tocsin.delivery.payload",
    "tocsin.delivery_settings": "tocsin.delivery.settings",
    "tocsin.retry": "tocsin.delivery.retry",
    "tocsin.webhook_delivery": "tocsin.delivery.webhook.post",
    "tocsin.signing": "tocsin.delivery.webhook.signing",
    "tocsin.ssrf": "tocsin.delivery.webhook.ssrf",
    "tocsin.ip_ranges": "tocsin.delivery.webhook.addresses",
    "tocsin.escalation_errors": "tocsin.escalation.errors",
    "tocsin.escalation_plan": "tocsin.escalation.plan",
    "tocsin.firing": "tocsin.escalation.firing",
    "tocsin.transitions": "tocsin.escalation.transitions",
    "tocsin.due_queue": "tocsin.escalation.due_queue",
    "tocsin.monitor": "tocsin.escalation.monitor",
    "tocsin.level_rules": "tocsin.escalation.level_rules",
    "tocsin.working_hours": "tocsin.escalation.working_hours",
    "tocsin.executor": "tocsin.escalation.targets",
    "tocsin.expand": "tocsin.escalation.targets",
    "tocsin.processor": "tocsin.intake.processor",
    "tocsin.inbound": "tocsin.intake.inbound",
    "tocsin.serving": "tocsin.config.serving",
    "tocsin.scenario": "tocsin.simulation.scenario",
}


class _MovedLoader(importlib.abc.Loader):
    """Puts the module at its new path in the old path's place."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a throwaway module; exec_module swaps the real one in

    def exec_module(self, module: ModuleType) -> None:
        new = MOVED[module.__name__]
        warnings.warn(f"{module.__name__} moved to {new}; import it from there", DeprecationWarning, stacklevel=2)
        # The import system reads the result back from sys.modules, so the old name is the new module itself:
        # one module object, one set of globals, whichever path imported it first.
        sys.modules[module.__name__] = importlib.import_module(new)


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths listed in :data:`MOVED`; every other name is left to the normal finders."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedLoader())


def install() -> None:
    """Add the finder to ``sys.meta_path`` once (``import tocsin`` calls this)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
