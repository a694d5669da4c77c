"""The SQLite store: escalations, their journal, the outbox and incidents in one file."""
