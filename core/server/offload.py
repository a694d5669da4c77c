"""Routing off the event loop: a rule's ``matches`` condition may spend its whole regex timeout on one value,
and while it runs in the event loop's thread every other request waits (``/health`` too).

:class:`OffloadedRouting` routes an incident in a worker thread first, and answers the incident processor's
own ``route`` call for that same incident object (made on the event loop, before its unit of work) with the
result. It does so only when a rule has a slow condition (``OperatorSpec.slow``): plain rules are routed in
place, as a thread hop costs more than they do. Routing reads only the compiled rules and the incident, never
the engine or the stores, so a worker thread may run it while the loop serves other requests; everything that
writes still runs in the loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping

import anyio.to_thread

from tocsin.models import Incident, PlaybookSpec, RoutingRule
from tocsin.registry import Registry
from tocsin.routing.actions import PolicyLookup, RoutingResult
from tocsin.routing.explain import RoutingExplanation
from tocsin.routing.router import RoutingRuleEvaluator

__all__ = ["OffloadedRouting"]


class OffloadedRouting(RoutingRuleEvaluator):
    """A :class:`RoutingRuleEvaluator` that can route and explain in a worker thread.

    :param registry: the loaded plugins' registry.
    :param rules: the routing rules, in definition order.
    :param policies: the escalation policy with an id (``use_policy`` refuses an unknown or disabled one).
    :param playbook_specs: the config's playbooks (``apply_playbook`` queues their runs).
    """

    def __init__(
        self,
        registry: Registry,
        rules: Iterable[RoutingRule],
        *,
        policies: PolicyLookup | None = None,
        playbook_specs: Mapping[str, PlaybookSpec] | None = None,
    ) -> None:
        rules = tuple(rules)
        super().__init__(registry, rules, policies=policies, playbook_specs=playbook_specs)
        _ = self.plan  # built now, once: worker threads only ever read it
        self._ready: dict[int, tuple[Incident, RoutingResult]] = {}
        operators = registry.operators
        #: Whether a rule has a slow condition (see ``OperatorSpec.slow``); if none does, routing stays in the
        #: event loop: a worker thread would cost more than the rules.
        self.offloads = any(
            operators.get(condition.operator).slow
            for rule in rules
            if rule.enabled
            for condition in rule.conditions
            if condition.operator in operators
        )

    @contextlib.asynccontextmanager
    async def routed_ahead(self, incident: Incident) -> AsyncIterator[None]:
        """Route ``incident`` in a worker thread; within the block, :meth:`route` of this very object answers
        with that result at once. Without a slow condition (:attr:`offloads`) it is routed in place, later."""
        if not self.offloads:
            yield
            return
        routed = await anyio.to_thread.run_sync(self._route_now, incident)
        key = id(incident)
        self._ready[key] = (incident, routed)
        try:
            yield
        finally:
            self._ready.pop(key, None)

    async def explain_ahead(self, incident: Incident) -> RoutingExplanation:
        """:meth:`explain`, in a worker thread (in place without a slow condition)."""
        if not self.offloads:
            return self.explain(incident)
        return await anyio.to_thread.run_sync(self.explain, incident)

    def route(self, incident: Incident) -> RoutingResult:
        """The result routed ahead for ``incident`` (the same object) if there is one; else route it now."""
        ready = self._ready.get(id(incident))
        if ready is not None and ready[0] is incident:
            return ready[1]
        return self._route_now(incident)

    def _route_now(self, incident: Incident) -> RoutingResult:
        return super().route(incident)
