"""``tocsin route CONFIG INCIDENT_FILE``: which rules match an incident, what they change, which policy follows.

Nothing is delivered and no playbook runs: the actions are applied as a dry run, and each one's outcome is shown
(``--json --explain``: under each rule's ``actions``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tocsin.cli._app import app, echo, emit_json, load, user_errors
from tocsin.cli._tables import Table, show

if TYPE_CHECKING:
    from tocsin.routing.actions import RoutingResult
    from tocsin.routing.explain import RoutingExplanation


@app.command("route")
@user_errors
def route(
    config: Path = typer.Argument(..., help="The configuration file (YAML, TOML or JSON)."),
    incident_file: Path = typer.Argument(..., help="The incident (YAML or JSON; id and created_at optional)."),
    explain: bool = typer.Option(False, "--explain", help="Show every rule's conditions and why it (not) matched."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Route the incident in INCIDENT_FILE through CONFIG's rules and show the result and the chosen policy."""
    from tocsin.config import read_document
    from tocsin.incidents import incident_from_json, incident_to_json
    from tocsin.routing.policies import select_policy
    from tocsin.routing.router import RoutingRuleEvaluator

    plugins, loaded = load(config)
    incident = incident_from_json(read_document(incident_file), source=str(incident_file))
    evaluator = RoutingRuleEvaluator(
        plugins.registry, loaded.rules, policies=loaded.policy, playbook_specs=loaded.playbooks
    )
    explanation = evaluator.explain(incident)
    result = explanation.result
    policy = select_policy(loaded.policies, result.incident, result.policy_id)
    policy_id = policy.id if policy is not None else None
    if as_json:
        document: dict[str, Any] = {
            "matched": [{"rule": rule.name, "priority": rule.priority} for rule in result.matched],
            "incident": incident_to_json(result.incident),
            "policy": policy_id,
        }
        if explain:
            document["explain"] = explanation.to_json()
        emit_json(document)
        return
    _show_result(result, policy_id)
    if explain:
        _show_explanation(explanation)


def _show_result(result: RoutingResult, policy_id: str | None) -> None:
    if result.matched:
        matched = Table("matched rules (evaluation order)", ("#", "rule", "priority", "stop"))
        for number, rule in enumerate(result.matched, start=1):
            matched.add_row(str(number), rule.name, str(rule.priority), "yes" if rule.stop else "")
        show(matched)
    else:
        echo("no rule matched")
    if result.effects:
        effects = Table("actions", ("rule", "action", "status", "detail"))
        for effect in result.effects:
            effects.add_row(effect.rule, effect.action, effect.status, effect.detail)
        show(effects)
    incident = result.incident
    labels = ", ".join(f"{key}={value}" for key, value in incident.labels.items()) or "-"
    echo(f"severity: {incident.severity.value}")
    echo(f"assignees: {', '.join(incident.assignees) or '-'}")
    echo(f"labels: {labels}")
    echo(f"notify: {', '.join(result.notify_channels) or '-'}")
    if result.suppress_minutes is not None:
        echo(f"suppressed for {result.suppress_minutes} minutes")
    echo(f"policy: {policy_id or '(none applies)'}")


def _show_explanation(explanation: RoutingExplanation) -> None:
    from tocsin.routing.explain import condition_json

    for entry in explanation.rules:
        verdict = "MATCHED" if entry.matched else "no match"
        title = f"{entry.rule.name} (priority {entry.rule.priority}): {verdict} - {entry.reason}"
        table = Table(title, ("field", "operator", "expected", "value", "result"))
        for condition in entry.conditions:
            shown = condition_json(condition)
            value = "(missing)" if shown["missing"] else _text(shown["value"])
            outcome = "true" if condition.result else "false"
            if condition.error:
                outcome += f" ({condition.error})"
            expected = "" if shown["expected"] is None else _text(shown["expected"])
            table.add_row(condition.field, condition.operator, expected, value, outcome)
        show(table)
        for effect in entry.effects:
            echo(f"  {effect.action}: {effect.status}: {effect.detail}")


def _text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
