"""Units of work: nested atomic blocks on one store, and what runs once the outermost block has committed.

An operation (raise an incident, acknowledge, resolve, fire a level) is ONE unit of work: everything it
writes, in whichever store, is durable together or not at all. Code that writes opens a block with
``with store.atomic():``; a block opened inside another joins it (a savepoint, so a fault caught inside an
inner block undoes only that block), and only the outermost block commits. What must follow a commit — the
engine's in-memory cache, handing notifications to the outbox workers, observer hooks — is registered with
:meth:`UnitOfWork.after_commit` and runs after the outermost commit; what undoes a cache is registered with
:meth:`UnitOfWork.after_rollback` and runs if the block (or the enclosing one) rolls back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from tocsin.logs import get_logger

__all__ = ["Callback", "UnitOfWork"]

Callback = Callable[[], object]  # what a callback returns is ignored
_log = get_logger(component="store")


class _Frame:
    __slots__ = ("committed", "rolled_back")

    def __init__(self) -> None:
        self.committed: list[Callback] = []
        self.rolled_back: list[Callback] = []


class UnitOfWork:
    """The nesting and the callbacks of atomic blocks; a store supplies begin, commit and rollback.

    Subclasses override :meth:`_begin`, :meth:`_commit`, :meth:`_rollback` (the outermost block) and
    :meth:`_savepoint`, :meth:`_release`, :meth:`_rollback_to` (an inner block). The base class does nothing in
    them: an in-memory store, whose writes cannot fail halfway, keeps only the callbacks' promise.
    Blocks are held by one thread at a time (the lock is re-entrant).
    """

    def __init__(self) -> None:
        self._unit_lock = threading.RLock()
        self._frames: list[_Frame] = []

    @property
    def in_atomic(self) -> bool:
        """True inside an atomic block (of this thread)."""
        return bool(self._frames) and self._owned()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One atomic block: commits (the outermost) or is rolled back (on any exception, which propagates)."""
        with self._unit_lock:
            depth = len(self._frames)
            if depth:
                self._savepoint(depth)
            else:
                self._begin()
            frame = _Frame()
            self._frames.append(frame)
            try:
                yield
            except BaseException:
                self._frames.pop()
                if depth:
                    self._rollback_to(depth)
                else:
                    self._rollback()
                _run(frame.rolled_back[::-1])
                raise
            self._frames.pop()
            if depth:
                self._release(depth)
                parent = self._frames[-1]
                parent.committed.extend(frame.committed)
                parent.rolled_back.extend(frame.rolled_back)
                return
            try:
                self._commit()
            except BaseException:
                _run(frame.rolled_back[::-1])
                raise
            _run(frame.committed)

    def after_commit(self, callback: Callback) -> None:
        """Run ``callback`` once the outermost block commits (now, outside any block)."""
        if self._frames and self._owned():
            self._frames[-1].committed.append(callback)
        else:
            callback()

    def after_rollback(self, callback: Callback) -> None:
        """Run ``callback`` if the current block is rolled back (never, outside any block). Rollback callbacks
        run newest first, so each can undo what was done after the one before it."""
        if self._frames and self._owned():
            self._frames[-1].rolled_back.append(callback)

    # --- what a store does at each boundary ----------------------------------------------------------------

    def _begin(self) -> None:
        """Start the outermost block."""

    def _commit(self) -> None:
        """Make the outermost block durable; an exception means nothing was written."""

    def _rollback(self) -> None:
        """Undo the outermost block."""

    def _savepoint(self, depth: int) -> None:
        """Start an inner block at ``depth`` (1 for the first one inside the outermost)."""

    def _release(self, depth: int) -> None:
        """Keep an inner block's writes as part of the enclosing block."""

    def _rollback_to(self, depth: int) -> None:
        """Undo an inner block's writes only."""

    def _owned(self) -> bool:
        # RLock has no public owner test; _is_owned is how threading.Condition asks the same question.
        return bool(self._unit_lock._is_owned())  # type: ignore[attr-defined]


def _run(callbacks: list[Callback]) -> None:
    """Run every callback; one that raises is logged and does not stop the others (the commit stands)."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            name = getattr(callback, "__qualname__", repr(callback))
            _log.exception("a callback after a store transaction failed", callback=name)
