"""The PostgreSQL store: escalations, their journal, the outbox and incidents in one database that several tocsin
instances share. Importing it loads psycopg; the rest of tocsin never does unless this store is asked for."""

from __future__ import annotations

from tocsin.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
