"""Team target ``{type: team, team_id}``: page every member of a team."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import attrs

from tocsin import Config, ExpandContext, FieldError, Recipient, TargetRegistrar, Urgency, hookimpl


def _team_id(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise FieldError(attribute.name, f"needs a team id, got {value!r}")


@attrs.frozen(kw_only=True)
class TeamTarget:
    """Every member of ``team_id``, paged at ``urgency`` (high or low)."""

    type: ClassVar[str] = "team"
    team_id: str = attrs.field(validator=_team_id)
    urgency: Urgency = attrs.field(default=Urgency.HIGH, converter=Urgency)


def _unknown(team_id: str, known: Any) -> str:
    return f"unknown team {team_id!r}; known: {', '.join(sorted(known)) or '(none)'}"


def expand(target: TeamTarget, ctx: ExpandContext) -> list[Recipient]:
    """Each member's recipients; an unknown team is recorded as a failure and pages nobody."""
    members = ctx.teams.get(target.team_id)
    if members is None:
        ctx.fail(_unknown(target.team_id, ctx.teams))
        return []
    if not members:
        ctx.unresolved(f"team {target.team_id!r} has no members: nobody paged")
    return [recipient for member in members for recipient in ctx.person(member, target="team")]


def check(target: TeamTarget, config: Config) -> Iterator[str]:
    """Load-time check: the team must be defined in ``teams``."""
    if target.team_id not in config.teams:
        yield _unknown(target.team_id, config.teams)


@hookimpl
def tocsin_register_targets(register: TargetRegistrar) -> None:
    """Register ``team``."""
    register(TeamTarget, expand=expand, check=check)
