"""Checkpoints of the write-ahead log in a thread of their own, never in a commit on the event loop.

In WAL mode a commit appends pages to the ``-wal`` file; a checkpoint copies them back into the database and
syncs both files to disk. SQLite runs one inside whichever commit finds the log past 1,000 pages, so every
few dozen requests one of them would wait for that copy and its fsyncs, holding the event loop. The writer's
connection turns that off (``wal_autocheckpoint = 0``) and a :class:`Checkpointer` runs ``PRAGMA
wal_checkpoint(PASSIVE)`` on a connection of its own, in a daemon thread (``sqlite3`` releases the GIL while
SQLite works): when :meth:`Checkpointer.wrote` has counted enough commits, and at least every second that
commits were made. A passive checkpoint never waits for the write lock, so it delays no writer; the log is
reused from its start once a checkpoint has copied all of it.
"""

from __future__ import annotations

import sqlite3
import threading

from tocsin.logs import get_logger

__all__ = ["Checkpointer"]

_log = get_logger(component="store")

_COMMITS_PER_CHECKPOINT = 64
_LONGEST_WAIT = 1.0  # seconds: commits made since the last checkpoint are copied at least this often


class Checkpointer:
    """Checkpoints the log of the database at ``path`` in a daemon thread, started by the first commit.

    :param path: the database file (a file: an in-memory database has no log).
    :param synchronous: the writer's level; the checkpoint's syncs follow it.
    """

    def __init__(self, path: str, *, synchronous: str = "full") -> None:
        self._path = path
        self._synchronous = "FULL" if synchronous == "full" else "NORMAL"
        self._commits = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checkpoints = 0  # how many have run (for tests and benchmarks)

    def wrote(self) -> None:
        """Count a commit; enough of them wake the thread at once."""
        self._commits += 1
        if self._thread is None:
            self._start()
        if self._commits >= _COMMITS_PER_CHECKPOINT:
            self._wake.set()

    def close(self) -> None:
        """Stop the thread after a last checkpoint (waits for it)."""
        with self._lock:
            self._stopping = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="tocsin-checkpoint", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.Error as exc:
            _log.warning("cannot open a checkpoint connection; the log grows until restart", error=str(exc))
            return
        try:
            while True:
                self._wake.wait(_LONGEST_WAIT)
                self._wake.clear()
                stopping = self._stopping
                if self._commits:
                    self._commits = 0
                    self._checkpoint(connection)
                if stopping:
                    return
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # a full disk, say: the writer's commits report it; try again later
            _log.warning("checkpoint failed; trying again later", error=str(exc))
            return
        self.checkpoints += 1
