"""Storage: the interfaces the engine and the incident processor write through, the store's own errors, and the
in-memory implementation; the SQLite one is in :mod:`tocsin.store.sqlite`."""

from __future__ import annotations

from tocsin.store.errors import StaleStateError, StoreError
from tocsin.store.interfaces import DeliveryStore, EscalationRow, EscalationStore, IncidentChange, IncidentStore
from tocsin.store.memory import InMemoryIncidentStore, InMemoryStore

__all__ = [
    "DeliveryStore",
    "EscalationRow",
    "EscalationStore",
    "InMemoryIncidentStore",
    "InMemoryStore",
    "IncidentChange",
    "IncidentStore",
    "StaleStateError",
    "StoreError",
]
