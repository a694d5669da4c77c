"""``tocsin route CONFIG INCIDENT_FILE``: which rules match an incident, what they change, which policy follows.

Nothing is delivered and no playbook runs: the actions are applied as a dry run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from tocsin.cli._app import app, emit_json, load, out_console, user_errors
from tocsin.config import read_document
from tocsin.incidents import incident_from_json, incident_to_json
from tocsin.routing.actions import RoutingResult
from tocsin.routing.explain import RoutingExplanation, condition_json
from tocsin.routing.policies import select_policy
from tocsin.routing.router import RoutingRuleEvaluator


@app.command("route")
@user_errors
def route(
    config: Path = typer.Argument(..., help="The configuration file (YAML, TOML or JSON)."),
    incident_file: Path = typer.Argument(..., help="The incident (YAML or JSON; id and created_at optional)."),
    explain: bool = typer.Option(False, "--explain", help="Show every rule's conditions and why it (not) matched."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Route the incident in INCIDENT_FILE through CONFIG's rules and show the result and the chosen policy."""
    plugins, loaded = load(config)
    incident = incident_from_json(read_document(incident_file), source=str(incident_file))
    evaluator = RoutingRuleEvaluator(plugins.registry, loaded.rules)
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
        matched = Table(title="matched rules (evaluation order)")
        for column in ("#", "rule", "priority", "stop"):
            matched.add_column(column)
        for number, rule in enumerate(result.matched, start=1):
            matched.add_row(str(number), Text(rule.name), str(rule.priority), "yes" if rule.stop else "")
        out_console.print(matched)
    else:
        out_console.print("no rule matched", markup=False)
    if result.effects:
        effects = Table(title="actions")
        for column in ("rule", "action", "status", "detail"):
            effects.add_column(column)
        for effect in result.effects:
            effects.add_row(Text(effect.rule), Text(effect.action), effect.status, Text(effect.detail))
        out_console.print(effects)
    incident = result.incident
    labels = ", ".join(f"{key}={value}" for key, value in incident.labels.items()) or "-"
    out_console.print(f"severity: {incident.severity.value}", markup=False)
    out_console.print(f"assignees: {', '.join(incident.assignees) or '-'}", markup=False)
    out_console.print(f"labels: {labels}", markup=False)
    out_console.print(f"notify: {', '.join(result.notify_channels) or '-'}", markup=False)
    if result.suppress_minutes is not None:
        out_console.print(f"suppressed for {result.suppress_minutes} minutes", markup=False)
    out_console.print(f"policy: {policy_id or '(none applies)'}", markup=False)


def _show_explanation(explanation: RoutingExplanation) -> None:
    for entry in explanation.rules:
        verdict = "MATCHED" if entry.matched else "no match"
        table = Table(title=Text(f"{entry.rule.name} (priority {entry.rule.priority}): {verdict} - {entry.reason}"))
        for column in ("field", "operator", "expected", "value", "result"):
            table.add_column(column)
        for condition in entry.conditions:
            shown = condition_json(condition)
            value = "(missing)" if shown["missing"] else _text(shown["value"])
            outcome = "true" if condition.result else "false"
            if condition.error:
                outcome += f" ({condition.error})"
            expected = "" if shown["expected"] is None else _text(shown["expected"])
            cells = (condition.field, condition.operator, expected, value, outcome)
            table.add_row(*(Text(cell) for cell in cells))
        out_console.print(table)
        for effect in entry.effects:
            out_console.print(f"  {effect.action}: {effect.status}: {effect.detail}", markup=False)


def _text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
