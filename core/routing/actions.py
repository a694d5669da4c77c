"""Applying routing actions: the context an action's ``apply`` works through, its effects, and the result.

Actions run rule by rule in evaluation order, each rule's actions in the order it lists them. Where two
actions set the same thing (the severity, a label, the policy, the suppression), the first one stands:
an action *claims* what it sets through :meth:`ActionContext.claim`, and a later claim is told who holds
it, so it can record itself as ignored. Every action leaves at least one :class:`Effect`: ``applied``,
``ignored``, ``failed``, or ``queued`` (the work goes out through the outbox once the incident is saved).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import attrs

from tocsin.models import EscalationPolicy, Incident, PlaybookSpec, RoutingRule
from tocsin.routing.compile import CompiledRule

__all__ = ["ActionContext", "Effect", "EffectStatus", "Playbook", "PolicyLookup", "RoutingResult", "apply_rules"]

EffectStatus = Literal["applied", "ignored", "failed", "queued"]
Playbook = Callable[[Incident], object]  # runs automation for an incident; a returned string is recorded
PolicyLookup = Callable[[str], EscalationPolicy | None]  # the escalation policy with an id, or None


@attrs.frozen(kw_only=True)
class Effect:
    """What one action did: ``applied`` (and what), ``ignored`` (and why), ``failed`` (and how) or ``queued`` (what
    goes out through the outbox once the incident is saved)."""

    rule: str
    action: str  # the action's type tag
    status: EffectStatus
    detail: str

    def to_json(self) -> dict[str, str]:
        """``{"rule", "action", "status", "detail"}``."""
        return {"rule": self.rule, "action": self.action, "status": self.status, "detail": self.detail}


@attrs.frozen(kw_only=True)
class RoutingResult:
    """The outcome of routing one incident.

    ``incident`` is the version after every action; ``matched`` the rules that applied, in evaluation
    order; ``policy_id`` comes from ``use_policy``, ``suppress_minutes`` from ``suppress``,
    ``notify_channels`` from ``notify`` and ``playbooks`` (the config playbooks to run) from ``apply_playbook``.
    ``outputs`` holds everything actions put, by key, including those four (under the same names) and whatever
    plugin actions add.
    """

    incident: Incident
    matched: tuple[RoutingRule, ...] = ()
    effects: tuple[Effect, ...] = ()
    policy_id: str | None = None
    suppress_minutes: int | None = None
    notify_channels: tuple[str, ...] = ()
    playbooks: tuple[str, ...] = ()
    outputs: Mapping[str, Any] = attrs.field(factory=dict)


class ActionContext:
    """What an action's ``apply(action, ctx)`` reads and changes.

    Read ``ctx.incident`` (the current version), change it with :meth:`replace`; claim what the action sets
    with :meth:`claim` so the first rule in evaluation order wins; put results for the caller with
    :meth:`set_output` / :meth:`add_to_output` (``policy_id``, ``suppress_minutes`` and ``notify_channels``
    become :class:`RoutingResult` fields); record what happened with :meth:`applied`, :meth:`ignored`,
    :meth:`failed` or :meth:`queued`. ``dry_run`` is true when routing is only explained: do nothing outside the
    incident.
    """

    def __init__(
        self,
        incident: Incident,
        *,
        playbooks: Mapping[str, Playbook] | None = None,
        dry_run: bool = False,
        policies: PolicyLookup | None = None,
        playbook_specs: Mapping[str, PlaybookSpec] | None = None,
    ) -> None:
        self._incident = incident
        self._policies = policies
        self._playbooks: Mapping[str, Playbook] = MappingProxyType(dict(playbooks or {}))
        self._playbook_specs: Mapping[str, PlaybookSpec] = MappingProxyType(dict(playbook_specs or {}))
        self._dry_run = dry_run
        self._claims: dict[str, str] = {}
        self._outputs: dict[str, Any] = {}
        self._effects: list[Effect] = []
        self._rule: RoutingRule | None = None
        self._tag = ""

    @property
    def incident(self) -> Incident:
        """The incident as the actions so far left it."""
        return self._incident

    @property
    def rule(self) -> RoutingRule:
        """The rule whose action is being applied."""
        if self._rule is None:
            raise RuntimeError("no action is being applied")
        return self._rule

    @property
    def dry_run(self) -> bool:
        """True when routing is only explained: change the incident, but run nothing outside it."""
        return self._dry_run

    @property
    def playbooks(self) -> Mapping[str, Playbook]:
        """The Python playbooks the application registered on the evaluator, by id (read-only): they run in place."""
        return self._playbooks

    @property
    def playbook_specs(self) -> Mapping[str, PlaybookSpec]:
        """The config's playbooks, by id (read-only): a run of one is queued in the outbox (put its id in the
        ``playbooks`` output)."""
        return self._playbook_specs

    @property
    def knows_policies(self) -> bool:
        """True when :meth:`policy` can say which escalation policies exist (the router was given them)."""
        return self._policies is not None

    def policy(self, policy_id: str) -> EscalationPolicy | None:
        """The escalation policy ``policy_id``, or None when there is none (or the router knows no policies)."""
        return self._policies(policy_id) if self._policies is not None else None

    def replace(self, **changes: Any) -> Incident:
        """Make a new version of the incident with ``changes`` (``attrs.evolve``) and return it."""
        self._incident = attrs.evolve(self._incident, **changes)
        return self._incident

    def claim(self, key: str) -> str | None:
        """Claim ``key`` (e.g. ``"severity"``, ``"labels.team"``) for the current rule.

        :returns: None when the current rule now holds it (set it), else the name of the rule that claimed
            it first (leave it and record the action as ignored).
        """
        holder = self._claims.get(key)
        if holder is not None:
            return holder
        self._claims[key] = self.rule.name
        return None

    def output(self, key: str, default: Any = None) -> Any:
        """The output stored under ``key`` so far."""
        return self._outputs.get(key, default)

    def set_output(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (claim the key first when rules may compete for it)."""
        self._outputs[key] = value

    def add_to_output(self, key: str, values: Iterable[Any]) -> tuple[Any, ...]:
        """Append ``values`` not yet present to the tuple under ``key``; return the ones added."""
        held: tuple[Any, ...] = self._outputs.get(key, ())
        added = tuple(dict.fromkeys(value for value in values if value not in held))
        self._outputs[key] = held + added
        return added

    def applied(self, detail: str) -> None:
        """Record that the current action did ``detail``."""
        self._record("applied", detail)

    def ignored(self, detail: str) -> None:
        """Record that the current action changed nothing, and why."""
        self._record("ignored", detail)

    def failed(self, detail: str) -> None:
        """Record that the current action could not do its work, and why."""
        self._record("failed", detail)

    def queued(self, detail: str) -> None:
        """Record that the current action's work goes out through the outbox once the incident is saved."""
        self._record("queued", detail)

    def _record(self, status: EffectStatus, detail: str) -> None:
        self._effects.append(Effect(rule=self.rule.name, action=self._tag, status=status, detail=detail))

    def _apply_rule(self, compiled: CompiledRule) -> None:
        self._rule = compiled.rule
        for action, entry in compiled.actions:
            self._tag = action.type
            before = len(self._effects)
            try:
                entry.apply(action, self)
            except Exception as exc:  # a broken action is recorded, never a crash
                self.failed(f"{type(exc).__name__}: {exc}")
            if len(self._effects) == before:
                self.applied(f"applied {action!r}")
        self._rule = None

    def _result(self, matched: Sequence[CompiledRule]) -> RoutingResult:
        outputs = dict(self._outputs)
        return RoutingResult(
            incident=self._incident,
            matched=tuple(compiled.rule for compiled in matched),
            effects=tuple(self._effects),
            policy_id=outputs.get("policy_id"),
            suppress_minutes=outputs.get("suppress_minutes"),
            notify_channels=tuple(outputs.get("notify_channels", ())),
            playbooks=tuple(outputs.get("playbooks", ())),
            outputs=MappingProxyType(outputs),
        )


def apply_rules(
    incident: Incident,
    matched: Sequence[CompiledRule],
    *,
    playbooks: Mapping[str, Playbook] | None = None,
    dry_run: bool = False,
    policies: PolicyLookup | None = None,
    playbook_specs: Mapping[str, PlaybookSpec] | None = None,
) -> RoutingResult:
    """Apply the actions of ``matched`` (already in evaluation order) to ``incident``."""
    context = ActionContext(
        incident, playbooks=playbooks, dry_run=dry_run, policies=policies, playbook_specs=playbook_specs
    )
    for compiled in matched:
        context._apply_rule(compiled)
    return context._result(matched)
