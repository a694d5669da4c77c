"""Crash points, for the kill tests: make the process die with SIGKILL at a chosen step boundary.

``TOCSIN_CRASH_AT=<when>:<event>`` kills the process the first time a store commit journals ``<event>`` (an
escalation event kind: ``started``, ``level_fired``, ``acknowledged``, ``escalated``, ``resolved``, …), either
``before-commit`` (everything of the operation is written but not committed) or ``after-commit`` (committed,
but nothing after it ran: no cache update, no page handed to a channel, no answer sent). Unset, nothing
happens; the variable is read once, at import.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

__all__ = ["crash_point"]

_WHENS = frozenset({"before-commit", "after-commit"})


def _target() -> tuple[str, str] | None:
    value = os.environ.get("TOCSIN_CRASH_AT", "")
    when, _, event = value.partition(":")
    return (when, event) if when in _WHENS and event else None


_TARGET = _target()


def crash_point(when: str, events: Iterable[str]) -> None:
    """Die here if ``TOCSIN_CRASH_AT`` names ``when`` and one of ``events`` (kinds being committed)."""
    if _TARGET is not None and _TARGET[0] == when and _TARGET[1] in events:
        os.kill(os.getpid(), signal.SIGKILL)
