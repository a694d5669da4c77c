"""Routing action ``apply_playbook {playbook_id}``: run a playbook the application registered.

An unknown playbook or one that raises is recorded as a failed effect, never a crash; each playbook runs
at most once per incident; an explain (dry run) only says it would run.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from tocsin import ActionContext, ActionRegistrar, hookimpl
from tocsin.validators import non_empty


@attrs.frozen(kw_only=True)
class ApplyPlaybook:
    """Run the playbook ``playbook_id`` with the incident."""

    type: ClassVar[str] = "apply_playbook"
    playbook_id: str = attrs.field(validator=non_empty)


def apply(action: ApplyPlaybook, ctx: ActionContext) -> None:
    """Run the playbook once; record what it returned, or why it did not run."""
    playbook_id = action.playbook_id
    playbook = ctx.playbooks.get(playbook_id)
    if playbook is None:
        known = ", ".join(sorted(ctx.playbooks)) or "(none)"
        ctx.failed(f"unknown playbook {playbook_id!r}; registered: {known}")
        return
    holder = ctx.claim(f"playbook:{playbook_id}")
    if holder is not None:
        ctx.ignored(f"playbook {playbook_id!r} already applied by rule {holder!r}")
        return
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


@hookimpl
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register ``apply_playbook``."""
    register(ApplyPlaybook, apply=apply)
