"""Storage: the interfaces the engine and the incident processor write through, the store's own errors, and the
in-memory implementation; the SQLite one is in :mod:`tocsin.store.sqlite`."""
