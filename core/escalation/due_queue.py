"""The due-queue: which escalation is due next, in O(log n), without looking at the others.

A binary heap of ``(due, sequence, key)`` entries. Rescheduling or removing a key does not search the heap:
the key's live sequence number moves on and the old entry is skipped when it reaches the top (and swept
away when stale entries outnumber live ones). Times are integers (microseconds since the epoch), so
arithmetic on them is exact.
"""

from __future__ import annotations

import heapq
import itertools

__all__ = ["DueQueue"]


class DueQueue:
    """Keys ordered by their due time; one live entry per key."""

    __slots__ = ("_counter", "_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str]] = []
        self._live: dict[str, int] = {}  # key -> sequence number of its live heap entry
        self._counter = itertools.count()

    def schedule(self, key: str, due: int) -> None:
        """Make ``key`` due at ``due`` (replacing any earlier schedule for it)."""
        sequence = next(self._counter)
        self._live[key] = sequence
        heapq.heappush(self._heap, (due, sequence, key))
        if len(self._heap) > 64 and len(self._heap) > 2 * len(self._live):
            self._sweep()

    def remove(self, key: str) -> None:
        """Forget ``key``; its heap entry becomes stale and is skipped."""
        self._live.pop(key, None)

    def next_due(self) -> int | None:
        """The earliest live due time, or None when nothing is scheduled."""
        heap = self._heap
        live = self._live
        while heap:
            due, sequence, key = heap[0]
            if live.get(key) == sequence:
                return due
            heapq.heappop(heap)
        return None

    def pop_due(self, now: int) -> list[str]:
        """Remove and return, earliest first, every key due at or before ``now``."""
        heap = self._heap
        live = self._live
        due_keys: list[str] = []
        while heap and heap[0][0] <= now:
            _, sequence, key = heapq.heappop(heap)
            if live.get(key) == sequence:
                del live[key]
                due_keys.append(key)
        return due_keys

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def __len__(self) -> int:
        return len(self._live)

    def _sweep(self) -> None:
        live = self._live
        self._heap = [entry for entry in self._heap if live.get(entry[2]) == entry[1]]
        heapq.heapify(self._heap)
