"""Routing rules: which rules match an incident, and what their actions make of it.

:class:`RoutingRuleEvaluator` keeps the guide's names. Rules compile once, when registered, into closures
(extractor, operator and expected value bound); the evaluation plan (index and scan list) is built once per
rule set. Evaluating an incident calls only those closures, never pluggy, and never re-reads a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tocsin.models import Incident, PlaybookSpec, RoutingRule
from tocsin.registry import Registry
from tocsin.routing.actions import Playbook, PolicyLookup, RoutingResult, apply_rules
from tocsin.routing.compile import CompiledRule, CompileMemo, RuleError, compile_rule
from tocsin.routing.explain import RoutingExplanation, explain_routing
from tocsin.routing.index import RulePlan

__all__ = ["RoutingRuleEvaluator"]


class RoutingRuleEvaluator:
    """Evaluates routing rules against incidents and applies their actions.

    :param registry: the loaded plugins' registry (operators, field extractors, action types).
    :param rules: rules to register now, in definition order.
    :param playbooks: playbook id -> Python callable, for ``apply_playbook`` (it runs in place, as routing runs).
    :param indexed: look rules up by field value (default); False scans every rule. Same answers either way.
    :param policies: the escalation policy with an id (``use_policy`` refuses an unknown or disabled one).
    :param playbook_specs: playbook id -> settings (the config's ``playbooks``), for ``apply_playbook``: a run
        of one is queued (``RoutingResult.playbooks``) for the caller to send through the outbox.
    :raises RuleError: a rule that cannot be compiled (unknown field, bad value, no conditions, …).
    """

    def __init__(
        self,
        registry: Registry,
        rules: Iterable[RoutingRule] = (),
        *,
        playbooks: Mapping[str, Playbook] | None = None,
        indexed: bool = True,
        policies: PolicyLookup | None = None,
        playbook_specs: Mapping[str, PlaybookSpec] | None = None,
    ) -> None:
        self._registry = registry
        self.policies = policies
        self.playbook_specs: Mapping[str, PlaybookSpec] = dict(playbook_specs or {})
        self._indexed = indexed
        self._compiled: list[CompiledRule] = []
        self._by_identity: dict[int, CompiledRule] = {}
        self._names: set[str] = set()
        self._playbooks: dict[str, Playbook] = {}
        self._plan: RulePlan | None = None
        self._memo: CompileMemo = {}  # identical getters and tests are shared between rules
        for playbook_id, playbook in (playbooks or {}).items():
            self.register_playbook(playbook_id, playbook)
        for rule in rules:
            self.register_rule(rule)

    @property
    def rules(self) -> tuple[RoutingRule, ...]:
        """The registered rules, in definition order."""
        return tuple(compiled.rule for compiled in self._compiled)

    @property
    def plan(self) -> RulePlan:
        """The evaluation plan for the current rule set (built on first use after a change)."""
        plan = self._plan
        if plan is None:
            plan = self._plan = RulePlan(self._compiled, indexed=self._indexed)
        return plan

    def register_rule(self, rule: RoutingRule) -> None:
        """Check, compile and add ``rule`` after the ones already registered.

        :raises RuleError: e.g. ``rule 'x': conditions: a rule needs at least one condition``; a second rule
            with the same name is refused too.
        """
        if not isinstance(rule, RoutingRule):
            raise RuleError([("rule", f"expected a RoutingRule, got {rule!r}")])
        compiled = self._compile(rule, order=len(self._compiled))
        if rule.name in self._names:
            raise RuleError([(f"rule {rule.name!r}", "a rule with this name is already registered")])
        self._names.add(rule.name)
        self._compiled.append(compiled)
        self._by_identity[id(rule)] = compiled
        self._plan = None

    def register_playbook(self, playbook_id: str, playbook: Playbook) -> None:
        """Make ``playbook`` (called with the incident) available to ``apply_playbook`` as ``playbook_id``."""
        if not isinstance(playbook_id, str) or not playbook_id:
            raise ValueError(f"a playbook id must be a non-empty string, got {playbook_id!r}")
        if not callable(playbook):
            raise TypeError(f"playbook {playbook_id!r} must be callable, got {playbook!r}")
        self._playbooks[playbook_id] = playbook

    def evaluate_incident(self, incident: Incident) -> list[RoutingRule]:
        """The rules whose conditions all hold for ``incident``: priority descending, ties in definition
        order, ending after the first matching rule with ``stop: true``. Disabled rules never match."""
        plan = self._plan or self.plan
        return [compiled.rule for compiled in plan.match(incident)]

    def apply_actions(self, incident: Incident, matched: Sequence[RoutingRule]) -> RoutingResult:
        """Apply the actions of ``matched`` (in the order given) to ``incident``; the first rule to set a
        thing wins. A failing action is recorded as a failed effect, never raised.

        :raises RuleError: a rule in ``matched`` that is not registered and cannot be compiled.
        """
        compiled = [self._compiled_for(rule) for rule in matched]
        return self._apply(incident, compiled)

    def route(self, incident: Incident) -> RoutingResult:
        """Evaluate the rules and apply the matching ones' actions."""
        plan = self._plan or self.plan
        return self._apply(incident, plan.match(incident))

    def explain(self, incident: Incident) -> RoutingExplanation:
        """Why each rule did or did not match ``incident`` and what its actions set, without side effects:
        the actions run as a dry run (playbooks are neither started nor queued)."""
        return explain_routing(self._compiled, incident, lambda matched: self._apply(incident, matched, dry_run=True))

    def _apply(self, incident: Incident, matched: Sequence[CompiledRule], *, dry_run: bool = False) -> RoutingResult:
        return apply_rules(
            incident,
            matched,
            playbooks=self._playbooks,
            dry_run=dry_run,
            policies=self.policies,
            playbook_specs=self.playbook_specs,
        )

    def _compiled_for(self, rule: RoutingRule) -> CompiledRule:
        compiled = self._by_identity.get(id(rule))
        if compiled is not None and compiled.rule is rule:
            return compiled
        return self._compile(rule, order=len(self._compiled))

    def _compile(self, rule: RoutingRule, *, order: int) -> CompiledRule:
        try:
            return compile_rule(rule, self._registry, order=order, memo=self._memo)
        except RuleError as exc:
            raise RuleError((f"rule {rule.name!r}: {path}", message) for path, message in exc.issues) from None
