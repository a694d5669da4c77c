"""Storage: the interfaces the engine and the incident processor write through, the store's own errors, the
in-memory implementation, and the store of what operators change at run time (:mod:`tocsin.store.operations`);
the SQLite one is in :mod:`tocsin.store.sqlite`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin._lazy import attach

if TYPE_CHECKING:
    from tocsin.store.errors import StaleStateError, StoreBusyError, StoreError
    from tocsin.store.interfaces import (
        DeliveryStore,
        EscalationRow,
        EscalationStore,
        IncidentChange,
        IncidentStore,
        OpenEscalation,
    )
    from tocsin.store.memory import InMemoryIncidentStore, InMemoryStore
    from tocsin.store.operations import InMemoryOperations, OperationsStore
    from tocsin.store.records import (
        HeartbeatState,
        IncidentNote,
        MaintenanceWindow,
        ScheduleOverride,
        Suppression,
        WindowSource,
    )
else:
    __getattr__, __dir__ = attach(
        __name__,
        {
            "tocsin.store.errors": ("StaleStateError", "StoreBusyError", "StoreError"),
            "tocsin.store.interfaces": (
                "DeliveryStore",
                "EscalationRow",
                "EscalationStore",
                "IncidentChange",
                "IncidentStore",
                "OpenEscalation",
            ),
            "tocsin.store.memory": ("InMemoryIncidentStore", "InMemoryStore"),
            "tocsin.store.operations": ("InMemoryOperations", "OperationsStore"),
            "tocsin.store.records": (
                "HeartbeatState",
                "IncidentNote",
                "MaintenanceWindow",
                "ScheduleOverride",
                "Suppression",
                "WindowSource",
            ),
        },
    )

__all__ = [
    "DeliveryStore",
    "EscalationRow",
    "EscalationStore",
    "HeartbeatState",
    "InMemoryIncidentStore",
    "InMemoryOperations",
    "InMemoryStore",
    "IncidentChange",
    "IncidentNote",
    "IncidentStore",
    "MaintenanceWindow",
    "OpenEscalation",
    "OperationsStore",
    "ScheduleOverride",
    "StaleStateError",
    "StoreBusyError",
    "StoreError",
    "Suppression",
    "WindowSource",
]
