"""Prometheus metrics for one app (its own registry, so two apps in one process never mix counts).

Counters and histograms are updated as things happen (requests, incidents received, delivery answers);
the gauges that describe stored state (incidents by state, escalations by status) and the monitor's lag are
read from the store and the engine when /metrics is scraped, so they are right after a restart too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from tocsin.models import DeliveryResult, EscalationStatus, Notification

if TYPE_CHECKING:
    from tocsin.escalation.engine import EscalationEngine
    from tocsin.server.storage import Announcements
    from tocsin.store.interfaces import EscalationStore, IncidentStore

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class _StateCollector:
    """Read at scrape time: incidents by state, escalations by status, the monitor's lag, and this instance's
    claims, takeovers and lost compare-and-sets."""

    def __init__(
        self,
        engine: EscalationEngine,
        escalations: EscalationStore,
        incidents: IncidentStore,
        announcements: Announcements | None,
    ) -> None:
        self._engine = engine
        self._escalations = escalations
        self._incidents = incidents
        self._announcements = announcements

    def describe(self) -> Iterator[Metric]:
        """Nothing: the registry need not read the store to learn the names (they never collide)."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges' current values."""
        incidents = GaugeMetricFamily("tocsin_incidents", "Stored incidents by state.", labels=["state"])
        for state, count in sorted(self._incidents.state_counts().items()):
            incidents.add_metric([state.value], count)
        yield incidents
        escalations = GaugeMetricFamily(
            "tocsin_escalations", "Escalations (the latest of each incident) by status.", labels=["status"]
        )
        counts = self._escalations.status_counts()
        for status, count in sorted(counts.items()):
            escalations.add_metric([status.value], count)
        yield escalations
        yield GaugeMetricFamily(
            "tocsin_escalations_exhausted_unanswered",
            "Open escalations whose every level fired with nobody acknowledging (status completed): incidents "
            "nobody has answered.",
            value=counts.get(EscalationStatus.COMPLETED, 0),
        )
        engine = self._engine
        heard = self._announcements.received if self._announcements is not None else 0
        for name, value, what in (
            ("tocsin_claimed_escalations", engine.claimed, "Due escalations this instance claimed (with a lease)."),
            (
                "tocsin_takeovers",
                engine.taken_over,
                "Claimed escalations this instance took over: started, changed or left behind by another instance.",
            ),
            (
                "tocsin_cas_conflicts",
                engine.conflicts,
                "Commits that lost a compare-and-set (another instance changed the escalation first); none sent.",
            ),
            (
                "tocsin_due_announcements",
                heard,
                "Announcements of due work heard from the database (PostgreSQL LISTEN/NOTIFY; 0 on other stores).",
            ),
        ):
            counter = CounterMetricFamily(name, what, labels=["instance"])
            counter.add_metric([engine.instance_id], value)
            yield counter
        yield GaugeMetricFamily(
            "tocsin_monitor_lag_seconds",
            "How long the earliest due escalation step has been waiting for the timer (0 when nothing is late).",
            value=monitor_lag(self._engine),
        )


def monitor_lag(engine: EscalationEngine) -> float:
    """Seconds since the earliest due step of an open escalation came due (0 when none is overdue)."""
    due = engine.next_due_at()
    if due is None:
        return 0.0
    return max(0.0, (engine.clock.now() - due).total_seconds())


class Metrics:
    """The app's metrics; :meth:`render` is the /metrics body."""

    def __init__(
        self,
        engine: EscalationEngine,
        escalations: EscalationStore,
        incidents: IncidentStore,
        announcements: Announcements | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tocsin_http_requests",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "tocsin_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.incidents_received = Counter(
            "tocsin_incidents_received",
            "Incidents posted to the API: created, a duplicate folded into an open incident, or a replayed "
            "Idempotency-Key.",
            ["result"],
            registry=self.registry,
        )
        self.reconciler_repairs = Counter(
            "tocsin_reconciler_repairs",
            "What the reconciler repaired: an open incident's missing escalation started, or the open escalation "
            "of a resolved incident resolved. Normally zero.",
            ["kind"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "tocsin_notifications",
            "Delivery attempts by channel and result (sent or failed).",
            ["channel", "result"],
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "tocsin_delivery_latency_seconds",
            "From a level firing to the channel's answer, by channel.",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Label children by their labels: prometheus_client looks each up under a lock on every call otherwise.
        self._answers: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}
        self._deliveries: dict[tuple[str, bool], tuple[Any, Any]] = {}
        self.registry.register(_StateCollector(engine, escalations, incidents, announcements))
        engine.outbox.subscribe(self.delivered)

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its time (the label children are looked up once per route)."""
        key = (method, route, status)
        counter = self._answers.get(key)
        if counter is None:
            counter = self._answers[key] = self.requests.labels(method, route, str(status))
        counter.inc()
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[(method, route)] = self.request_seconds.labels(method, route)
        timer.observe(seconds)

    def delivered(self, notification: Notification, result: DeliveryResult) -> None:
        """Count one delivery answer and its latency (an outbox listener)."""
        channel = notification.recipient.channel
        key = (channel, result.ok)
        children = self._deliveries.get(key)
        if children is None:
            children = self._deliveries[key] = (
                self.notifications.labels(channel, "sent" if result.ok else "failed"),
                self.delivery_seconds.labels(channel),
            )
        children[0].inc()
        fired = notification.fired_at or notification.due_at
        children[1].observe(max(0.0, (result.at - fired).total_seconds()))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
