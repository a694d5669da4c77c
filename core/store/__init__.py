"""Storage: the interfaces the engine and the incident processor write through, the store's own errors, and the
in-memory implementation; the SQLite one is in :mod:`tocsin.store.sqlite`."""

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
        },
    )

__all__ = [
    "DeliveryStore",
    "EscalationRow",
    "EscalationStore",
    "InMemoryIncidentStore",
    "InMemoryStore",
    "IncidentChange",
    "IncidentStore",
    "OpenEscalation",
    "StaleStateError",
    "StoreBusyError",
    "StoreError",
]
