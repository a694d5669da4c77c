"""``tocsin check CONFIG``: validate a configuration and report every fault on its own line; with ``--strict``, lint
it too (see :mod:`tocsin.config.lint`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from tocsin.cli._app import UserError, app, echo, emit_json, load, user_errors


@app.command()
@user_errors
def check(
    config: Path = typer.Argument(..., help="The configuration file (YAML, TOML or JSON)."),
    strict: bool = typer.Option(False, "--strict", help="Lint too; exit 1 on any finding, error or warning."),
    json_output: bool = typer.Option(False, "--json", help="With --strict: the findings as JSON (for CI)."),
    weeks: str = typer.Option("4", "--weeks", help="How many weeks ahead schedules are linted (1 to 52)."),
    at: str | None = typer.Option(None, "--at", help="Lint schedules from this ISO 8601 instant (default: now)."),
) -> None:
    """Validate CONFIG: exit 0 when it loads (warnings, if any, on stderr as `FILE: $.path: warning: message`),
    else print one `FILE: $.path: message` line per fault. With --strict, also print one `FILE: $.path:
    severity: message` line per lint finding and exit 1 if there is any (the config warnings are counted apart:
    they do not fail the lint)."""
    from tocsin.config import config_warnings

    plugins, loaded = load(config)
    warnings = config_warnings(loaded, plugins.registry, source=str(config))
    for warning in warnings:
        echo(f"{warning.file}: {warning.path}: warning: {warning.message}", err=True)
    if not strict:
        if json_output:
            raise UserError("--json needs --strict (the JSON form is the lint report)")
        echo(
            f"{config}: ok ({len(loaded.schedules)} schedules, {len(loaded.policies)} policies, "
            f"{len(loaded.rules)} rules, {len(loaded.teams)} teams)"
        )
        return
    from tocsin.config.lint import lint_config

    if not weeks.isdigit() or not 1 <= int(weeks) <= 52:
        raise UserError(f"--weeks: expected a whole number of weeks from 1 to 52, got {weeks!r}")
    findings = lint_config(loaded, plugins.registry, now=_instant(at), weeks=int(weeks))
    errors = sum(finding.severity == "error" for finding in findings)
    if json_output:
        emit_json(
            {
                "file": str(config),
                "ok": not findings,
                "errors": errors,
                "warnings": len(findings) - errors,
                "findings": [finding.to_json() for finding in findings],
                # What the config may want changed though it works as it is (also printed by plain `check`): not
                # lint findings, so they do not fail the lint.
                "config_warnings": [{"path": w.path, "message": w.message} for w in warnings],
            }
        )
    else:
        for finding in findings:
            echo(f"{config}: {finding.path}: {finding.severity}: {finding.message} [{finding.code}]")
        verdict = "ok" if not findings else "lint failed"
        noted = f"; {len(warnings)} config warning(s) above, not lint findings" if warnings else ""
        echo(f"{config}: {verdict} ({errors} errors, {len(findings) - errors} warnings{noted})")
    if findings:
        raise typer.Exit(1)


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--at: expected an ISO 8601 date-time, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
