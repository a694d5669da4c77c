"""The reconciler: defence in depth for "the store is the truth" (as Grafana OnCall's auditor is).

Every operation is one unit of work, so an open incident always has the escalation its policy gave it and a
resolved incident never keeps an open one. A store written by an older tocsin, an incident store on another
database than the escalations, or a bug could still break that; the reconciler finds and repairs it, at
start-up and periodically, logs each repair and counts it (``tocsin_reconciler_repairs`` in /metrics). On a
healthy store it finds nothing.
"""

from __future__ import annotations

import contextlib

import attrs

from tocsin.escalation.errors import EscalationNotActiveError, UnknownIncidentError
from tocsin.intake.processor import IncidentProcessor
from tocsin.logs import get_logger

__all__ = ["RECONCILER", "Reconciliation", "reconcile"]

RECONCILER = "tocsin reconciler"  # who the journal says resolved an escalation the reconciler ended
_log = get_logger(component="reconciler")


@attrs.frozen(kw_only=True)
class Reconciliation:
    """What one pass repaired: incidents whose escalation was started, escalations resolved."""

    started: tuple[str, ...] = ()  # open incidents that should have been escalating and now are
    resolved: tuple[str, ...] = ()  # open escalations of incidents that were resolved, closed or missing

    @property
    def repairs(self) -> int:
        """How many things were repaired (0 on a healthy store)."""
        return len(self.started) + len(self.resolved)


def reconcile(processor: IncidentProcessor) -> Reconciliation:
    """One pass over the store: start the missing escalations of open incidents, resolve the open escalations
    of incidents that are not open. Each repair is its own unit of work; one that fails is logged and left to
    the next pass."""
    engine = processor.engine
    incidents = processor.incidents
    store = engine.store
    # Compared by id first (read from the indexes): only what disagrees is read whole, and checked again.
    open_incidents = incidents.incident_ids(open_only=True)
    started: list[str] = []
    for incident_id in sorted(open_incidents - store.incident_ids()):
        try:
            incident = incidents.get(incident_id)
            if incident is not None and processor.repair(incident) is not None:
                started.append(incident_id)
                _log.warning("open incident had no escalation; started it", incident_id=incident_id)
        except Exception as exc:
            _log.error("repairing an incident failed", incident_id=incident_id, error=f"{type(exc).__name__}: {exc}")
    resolved: list[str] = []
    for incident_id in sorted(store.incident_ids(open_only=True) - open_incidents):
        try:
            found = incidents.get(incident_id)
            if found is not None and found.state.is_open:
                continue  # opened meanwhile
            with contextlib.suppress(UnknownIncidentError, EscalationNotActiveError):
                engine.resolve_escalation(incident_id, by=RECONCILER)
                resolved.append(incident_id)
                state = "missing" if found is None else found.state.value
                _log.warning(
                    "escalation of a closed incident was open; resolved it",
                    incident_id=incident_id,
                    incident_state=state,
                )
        except Exception as exc:
            _log.error("resolving an escalation failed", incident_id=incident_id, error=f"{type(exc).__name__}: {exc}")
    return Reconciliation(started=tuple(started), resolved=tuple(resolved))
