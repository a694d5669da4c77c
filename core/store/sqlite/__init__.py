"""The SQLite store: escalations, their journal, the outbox and incidents in one file."""

from __future__ import annotations

from tocsin.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
