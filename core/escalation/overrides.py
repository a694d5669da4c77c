"""Schedule overrides made at run time: checked, stored, and merged into every on-call answer.

"Cover my shift tonight" is an override made through the API (``POST /v1/schedules/{id}/overrides``); "take my
Tuesday, I take your Friday" is a swap, stored as the two overrides it means. Both live in the
:class:`~tocsin.store.operations.OperationsStore`, never in the config file, so every instance sharing the store
sees them. They are merged after the config's overrides (a later override wins where two overlap) wherever
on-call is answered: the schedule endpoints, and the targets that page a schedule when a level fires (the
executor asks :meth:`RuntimeOverrides.in_force`).

The past is not rewritten: an override must not start before now, one that has ended cannot be removed, and
removing one that is running ends it now (its past part stays).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta

import attrs

from tocsin.clock import Clock
from tocsin.errors import ConfigError, ConfigIssue
from tocsin.escalation.errors import EscalationError
from tocsin.models import Override
from tocsin.schedules.resolver import OVERRIDE_LAYER, ScheduleResolver
from tocsin.store.operations import OperationsStore
from tocsin.store.records import ScheduleOverride, new_id

__all__ = [
    "ImmutableOverrideError",
    "RuntimeOverrides",
    "ShiftClaim",
    "UnknownOverrideError",
]

_SECOND = timedelta(seconds=1)


class UnknownOverrideError(EscalationError, LookupError):
    """No run-time override has this id on this schedule."""


class ImmutableOverrideError(EscalationError):
    """The override has ended: the past is not rewritten."""


@attrs.frozen(kw_only=True)
class ShiftClaim:
    """One side of a swap: ``user`` holds the schedule from ``start`` until ``end`` and gives it away."""

    user: str
    start: datetime
    end: datetime


class RuntimeOverrides:
    """The run-time overrides of every schedule, in ``store``; ``clock`` says what "now" (and so the past) is."""

    def __init__(self, store: OperationsStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # --- reading and merging ---

    def between(self, schedule_id: str, start: datetime, end: datetime | None = None) -> list[ScheduleOverride]:
        """The run-time overrides of ``schedule_id`` in force at some time in ``[start, end]`` (``end`` left
        out: from ``start`` on), in the order they were made.

        Schedules count whole seconds (an override made at 14:00:00.5 is on call from 14:00:00), so one that starts
        within ``end``'s second is in force at ``end``, as "who is on call now" is asked in that second."""
        before = end.replace(microsecond=0) + _SECOND if end is not None else None
        return self._store.overrides(schedule_id, ending_after=start, starting_before=before)

    def in_force(self, schedule_id: str, at: datetime) -> list[Override]:
        """The overrides of ``schedule_id`` in force at ``at``: what a level firing then takes into account."""
        return [found.as_override() for found in self.between(schedule_id, at, at)]

    def merged(self, resolver: ScheduleResolver, start: datetime, end: datetime | None = None) -> ScheduleResolver:
        """``resolver`` with the run-time overrides in force in ``[start, end]`` (``end`` left out: at ``start``)."""
        found = self.between(resolver.schedule.id, start, end if end is not None else start)
        return resolver.with_overrides([override.as_override() for override in found])

    # --- changing ---

    def add(
        self,
        resolver: ScheduleResolver,
        *,
        user: str,
        start: datetime | None,
        end: datetime,
        layer: str | None = None,
        note: str = "",
        by: str | None = None,
        people: Collection[str],
        override_id: str | None = None,
    ) -> ScheduleOverride:
        """Store an override of ``resolver``'s schedule: ``user`` on call from ``start`` (default: now) until
        ``end``, for ``layer`` only when given; ``override_id`` names it (default: a new id; one already stored
        raises ``StaleStateError``).

        :raises ConfigError: every fault, each with its path in the request (``$.end``, ``$.user``, …): an end
            not after the start, a start in the past, a person the config does not know, an unknown layer.
        """
        now = self._clock.now()
        start = start if start is not None else now
        faults = list(_window_faults("$", start, end, now))
        faults.extend(_person_faults("$.user", user, people))
        if layer is not None and layer not in resolver.layer_names():
            known = ", ".join(repr(name) for name in resolver.layer_names())
            faults.append(("$.layer", f"unknown layer {layer!r}; known: {known}"))
        _raise(faults)
        override = ScheduleOverride(
            id=override_id or new_id(),
            schedule_id=resolver.schedule.id,
            user=user,
            start=start,
            end=end,
            layer=layer,
            note=note,
            created_by=by,
            created_at=now,
        )
        self._store.add_overrides([override])
        return override

    def swap(
        self,
        resolver: ScheduleResolver,
        first: ShiftClaim,
        second: ShiftClaim,
        *,
        layer: str | None = None,
        note: str = "",
        by: str | None = None,
        people: Collection[str],
    ) -> tuple[ScheduleOverride, ScheduleOverride]:
        """Exchange two shifts: ``second.user`` takes ``first``'s and ``first.user`` takes ``second``'s, stored
        as those two overrides (sharing a ``swap_id``), each for the layer its shift is held on (``layer``, when
        given, says which).

        :raises ConfigError: each fault with its path (``$.first.start``, ``$.second.user``, …): a shift in the
            past or ending before it starts, a person the config does not know, the same person twice, or a
            person who does not hold the shift they give away (on one layer, the whole of it).
        """
        now = self._clock.now()
        faults: list[tuple[str, str]] = []
        for path, claim in (("$.first", first), ("$.second", second)):
            faults.extend(_window_faults(path, claim.start, claim.end, now))
            faults.extend(_person_faults(f"{path}.user", claim.user, people))
        if first.user == second.user:
            faults.append(("$.second.user", f"is {first.user!r} again: a swap is between two people"))
        if layer is not None and layer not in resolver.layer_names():
            known = ", ".join(repr(name) for name in resolver.layer_names())
            faults.append(("$.layer", f"unknown layer {layer!r}; known: {known}"))
        _raise(faults)
        layers: list[str | None] = []
        for path, claim in (("$.first", first), ("$.second", second)):
            held, fault = self._held_on(resolver, claim, layer)
            if fault is not None:
                faults.append((path, fault))
            layers.append(held)
        _raise(faults)
        swap_id = new_id()
        made = tuple(
            ScheduleOverride(
                id=new_id(),
                schedule_id=resolver.schedule.id,
                user=taker.user,
                start=given.start,
                end=given.end,
                layer=held,
                note=note,
                created_by=by,
                created_at=now,
                swap_id=swap_id,
            )
            for given, taker, held in ((first, second, layers[0]), (second, first, layers[1]))
        )
        self._store.add_overrides(made)
        return made[0], made[1]

    def remove(self, schedule_id: str, override_id: str) -> tuple[ScheduleOverride, bool]:
        """Remove a run-time override: one that has not started is deleted, one that is running ends now.
        Returns the override (as it is now) and whether it was deleted.

        :raises UnknownOverrideError: no override ``override_id`` on ``schedule_id``.
        :raises ImmutableOverrideError: it has ended already.
        """
        found = self._store.override(override_id)
        if found is None or found.schedule_id != schedule_id:
            raise UnknownOverrideError(f"schedule {schedule_id!r} has no run-time override {override_id!r}")
        now = self._clock.now()
        if found.end <= now:
            raise ImmutableOverrideError(
                f"override {override_id!r} ended at {found.end.isoformat()}: past on-call cannot be changed"
            )
        if found.start >= now:
            self._store.delete_override(override_id)
            return found, True
        cut = self._store.cut_override(override_id, now)
        return (cut if cut is not None else found), False

    def _held_on(
        self, resolver: ScheduleResolver, claim: ShiftClaim, layer: str | None
    ) -> tuple[str | None, str | None]:
        """(the layer ``claim.user`` holds the whole claimed shift on — None for the whole schedule —, a fault)."""
        merged = self.merged(resolver, claim.start, claim.end)
        shifts = [shift for shift in merged.shifts(claim.start, claim.end) if shift.user == claim.user]
        if layer is not None:
            shifts = [shift for shift in shifts if shift.layer in (layer, OVERRIDE_LAYER)]
        covered = claim.start
        for shift in sorted(shifts, key=lambda shift: shift.start):
            if shift.start > covered:
                break
            covered = max(covered, shift.end)
        span = f"{claim.start.isoformat()} to {claim.end.isoformat()}"
        if covered < claim.end:
            return None, f"{claim.user!r} is not on call for the whole of {span}: only a held shift can be swapped"
        names = sorted({shift.layer for shift in shifts})
        if len(names) > 1:
            return None, f"{claim.user!r} holds {span} on several layers ({', '.join(names)}): swap each part"
        held = names[0]
        return (None if held == OVERRIDE_LAYER else held), None


def _window_faults(path: str, start: datetime, end: datetime, now: datetime) -> Iterator[tuple[str, str]]:
    if end <= start:
        yield f"{path}.end", f"must be after start ({start.isoformat()})"
    if start < now:
        yield f"{path}.start", f"is in the past (now is {now.isoformat()}): past on-call cannot be changed"


def _person_faults(path: str, user: str, people: Collection[str]) -> Iterator[tuple[str, str]]:
    if user not in people:
        yield path, f"{user!r} is not a person the config knows (its users, teams and schedules)"


def _raise(faults: Sequence[tuple[str, str]]) -> None:
    if faults:
        raise ConfigError(ConfigIssue("body", path, message) for path, message in faults)
