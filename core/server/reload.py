"""Reloading the config without a restart (``POST /v1/config/reload``, or SIGHUP to ``tocsin serve``).

The file is read once, and the new config is loaded, checked and compiled completely before anything changes;
on any fault the server keeps the config it has and the answer lists every fault as ``FILE: $.path:
message``. On success the new config replaces the old at once (one reference, in the event loop's thread):

- escalations in flight keep the policy snapshot they started with; new incidents are routed by the new rules
  and escalated by the new policies;
- the teams, people and schedules of the new config apply to every level that fires after the reload, of new
  escalations and of those in flight alike;
- tokens, integrations, heartbeats and maintenance windows of the new config apply to the next request (the
  acknowledgement rate limit starts counting afresh); a web console session whose token is gone ends at once.

What is chosen when the server starts cannot change under it: the store (``storage``), the channel settings
(``channels``), delivery (``delivery``), the plugins' settings (``plugins``), the playbooks (``playbooks``: the
outbox's runners are made from them), ``server.auth``,
``server.public_url``, ``server.action_links``, ``server.session_secret_env`` and ``server.session_hours`` are
faults if they differ (restart to change them), and ``server.host``, ``server.port`` and ``server.instance_id``
keep their running values.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs

from tocsin.config import Config, parse_config, parse_document
from tocsin.errors import ConfigError, ConfigIssue, TocsinError
from tocsin.registry import Registry

__all__ = ["ReloadRefused", "keep_running_settings", "read_config", "restart_only_faults"]

# (section, what it needs) of what a running server cannot take on.
_RESTART_ONLY = (
    ("storage", "the store is opened when the server starts"),
    ("channels", "the channels' senders are made when the server starts"),
    ("delivery", "the outbox's settings are taken when the server starts"),
    ("plugins", "the plugins' settings are handed to them when the server starts"),
    ("playbooks", "the outbox's playbook runners are made when the server starts"),
)


def read_config(path: Path, registry: Registry) -> tuple[Config, bytes]:
    """The config in the file ``path`` and the bytes it was read from (hashed for /health).

    :raises ConfigError: the file cannot be read, is not YAML/TOML/JSON, or has faults: every one, each as
        ``FILE: $.path: message``.
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), "$", f"cannot read file: {exc.strerror or exc}")]) from None
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(str(path), "$", f"the file is not UTF-8 text: {exc.reason}")]) from None
    document = parse_document(decoded, path)
    config = parse_config(document, registry, source=str(path))
    return config, text


def restart_only_faults(running: Config, loaded: Config, source: str) -> Iterator[ConfigIssue]:
    """A fault for each setting of ``loaded`` that differs from ``running`` and only a restart can change."""
    for section, why in _RESTART_ONLY:
        if getattr(running, section) != getattr(loaded, section):
            yield ConfigIssue(source, f"$.{section}", f"changed, but {why}: restart the server to change it")
    if running.server.auth is not loaded.server.auth:
        yield ConfigIssue(source, "$.server.auth", "changed, but the API's auth mode is set at start-up: restart")
    for field in ("public_url", "action_links"):  # the outbox signs pages' action links with what it started with
        if getattr(running.server, field) != getattr(loaded.server, field):
            yield ConfigIssue(
                source, f"$.server.{field}", "changed, but action links are set up when the server starts: restart"
            )
    for field in ("session_secret_env", "session_hours"):  # the console signs its cookies with what it started with
        if getattr(running.server, field) != getattr(loaded.server, field):
            yield ConfigIssue(
                source, f"$.server.{field}", "changed, but console sessions are set up when the server starts: restart"
            )


def keep_running_settings(running: Config, loaded: Config) -> Config:
    """``loaded`` with the running server's address and instance id (they take effect at the next start)."""
    server = attrs.evolve(
        loaded.server, host=running.server.host, port=running.server.port, instance_id=running.server.instance_id
    )
    return attrs.evolve(loaded, server=server)


class ReloadRefused(TocsinError):
    """The new config was not taken; ``issues`` says why (each a ``FILE: $.path: message`` line)."""

    def __init__(self, issues: tuple[ConfigIssue, ...]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))
