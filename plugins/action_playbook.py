"""Routing action ``apply_playbook {playbook_id}``: start a playbook for the incident.

The playbook is one of the config's ``playbooks`` (its type registered by a plugin): the run is *queued*, and the
incident processor sends it through the outbox once the incident is saved, so routing never waits on it. An
application that embeds tocsin may instead register a Python callable on the evaluator; that one runs in place.
Either way a playbook runs at most once per incident, not for an incident that is already resolved, and never in
a dry run (explain says what would happen). An unknown playbook, or a Python one that raises, is a failed effect.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, Config, Playbook, hookimpl
from tocsin.validators import non_empty


@attrs.frozen(kw_only=True)
class ApplyPlaybook:
    """Start the playbook ``playbook_id`` for the incident."""

    type: ClassVar[str] = "apply_playbook"
    playbook_id: str = attrs.field(validator=non_empty)


def apply(action: ApplyPlaybook, ctx: ActionContext) -> None:
    """Queue the config's playbook (or run the application's); record what happened, or why nothing did."""
    playbook_id = action.playbook_id
    spec = ctx.playbook_specs.get(playbook_id)
    playbook = ctx.playbooks.get(playbook_id)
    if spec is None and playbook is None:
        known = ", ".join(sorted({*ctx.playbook_specs, *ctx.playbooks})) or "(none)"
        ctx.failed(f"unknown playbook {playbook_id!r}; known: {known}")
        return
    if not ctx.incident.state.is_open:
        ctx.ignored(f"the incident is {ctx.incident.state.value}: playbook {playbook_id!r} not started")
        return
    holder = ctx.claim(f"playbook:{playbook_id}")
    if holder is not None:
        ctx.ignored(f"playbook {playbook_id!r} already applied by rule {holder!r}")
        return
    if spec is not None:
        _queue(ctx, f"playbook {playbook_id!r} ({spec.type})", playbook_id)
    elif playbook is not None:
        _run_in_place(ctx, playbook_id, playbook)


def _queue(ctx: ActionContext, what: str, playbook_id: str) -> None:
    if ctx.dry_run:
        ctx.applied(f"would queue {what} (dry run)")
        return
    ctx.add_to_output("playbooks", [playbook_id])
    ctx.queued(f"{what} queued: it runs through the outbox once the incident is saved")


def _run_in_place(ctx: ActionContext, playbook_id: str, playbook: Playbook) -> None:
    if ctx.dry_run:
        ctx.applied(f"would run playbook {playbook_id!r} (dry run)")
        return
    try:
        outcome = playbook(ctx.incident)
    except Exception as exc:
        ctx.failed(f"playbook {playbook_id!r} raised {type(exc).__name__}: {exc}")
        return
    suffix = f": {outcome}" if isinstance(outcome, str) and outcome else ""
    ctx.applied(f"ran playbook {playbook_id!r}{suffix}")


def check(action: ApplyPlaybook, config: Config) -> Iterator[str]:
    """The playbook must be one of the config's ``playbooks``."""
    if action.playbook_id not in config.playbooks:
        known = sorted(config.playbooks)
        close = difflib.get_close_matches(action.playbook_id, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "define it in the playbooks section"
        yield f"unknown playbook {action.playbook_id!r}; known: {', '.join(known) or '(none)'} ({hint})"


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``apply_playbook`` with its load-time check."""
    register(ApplyPlaybook, apply=apply, check=check)
