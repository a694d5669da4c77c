"""The hooks a tocsin plugin can implement.

Two kinds: *registration hooks*, one per extension point, each called once per plugin when the plugin set
is final, with a registrar bound to that plugin; and *observer hooks*, called after lifecycle events. Hot
paths (rule evaluation, on-call lookup, the escalation timer) never call pluggy: what plugins register is
compiled into plain objects at start-up.

A plugin's settings (the config's ``plugins.<plugin name>`` section, read into the class it registers with
:func:`tocsin_register_settings`) reach every callable it registers that declares a keyword parameter
``plugin_settings``, and every observer hook of it that declares that argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pluggy

from tocsin.models import Change, DeliveryResult, EscalationState, Incident, Notification
from tocsin.registry import (
    ActionRegistrar,
    ChannelRegistrar,
    ExtractorRegistrar,
    OperatorRegistrar,
    PlaybookRegistrar,
    RotationRegistrar,
    SettingsRegistrar,
    SourceRegistrar,
    TargetRegistrar,
)

PROJECT = "tocsin"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# --- registration hooks ---------------------------------------------------------------------------------


@hookspec
def tocsin_register_settings(register: SettingsRegistrar) -> None:
    """Register the plugin's settings class: what the config's ``plugins.<plugin name>`` section holds.

    Called once, before the other registration hooks. The class is an attrs class; its validators report
    faults as ``$.plugins.<name>.<field>`` like any other. A config without the section gets the class built
    from ``{}`` (its defaults; a required field is then a fault of that config). Every callable this plugin
    registers (an operator's ``compile``, a target's ``expand`` and ``check``, a rotation's or source's
    ``compile``, a channel's ``create``, …) and every observer hook it implements gets the settings object
    when it declares a keyword parameter ``plugin_settings``.

    :param register: call ``register(AcmeSettings)``, or ``register(AcmeSettings, check=check)`` where
        ``check(settings, config)`` yields a message for each fault the class cannot see alone (run at load).
    """


@hookspec
def tocsin_register_operators(register: OperatorRegistrar) -> None:
    """Register condition operators.

    Called once, when the plugin set is final; never while incidents are handled.

    :param register: call ``register("starts_with", compile)`` for each operator. ``compile(expected)``
        receives the rule's value when the rule loads, raises ``ValueError`` with a readable message if it
        is unusable, and returns ``test(actual) -> bool``. ``actual`` is ``tocsin.MISSING`` when the
        incident lacks the field. Pass ``takes_value=False`` for operators such as ``exists``, and
        ``slow=True`` for one whose test may run until a timeout of its own (a regular expression): the server
        then routes in a worker thread.
    """


@hookspec
def tocsin_register_extractors(register: ExtractorRegistrar) -> None:
    """Register field extractors: how a condition's ``field`` reads a value from an incident.

    Called once, when the plugin set is final; never while incidents are handled.

    :param register: call ``register("severity", compile)`` for a fixed field, or
        ``register("labels.", compile, prefix=True)`` for a family of fields. ``compile(field)`` runs when
        the rule loads and returns ``get(incident) -> value``, returning ``tocsin.MISSING`` when absent.
    """


@hookspec
def tocsin_register_actions(register: ActionRegistrar) -> None:
    """Register routing action types.

    Called once, when the plugin set is final; never while incidents are handled.

    :param register: call ``register(AddLabels, apply=apply)`` for each action. The class is an attrs class
        whose ``type`` ClassVar is its tag in config files; ``apply(action, ctx)`` changes the incident
        through the routing context and records its effects.
    """


@hookspec
def tocsin_register_rotations(register: RotationRegistrar) -> None:
    """Register rotation strategies for schedule layers.

    Called once, when the plugin set is final; never while on-call is looked up.

    :param register: call ``register(WeeklyRotation, compile=compile)`` for each strategy. The class holds the
        settings (its ``type`` ClassVar is the tag); ``compile(settings)`` returns the ``tocsin.rotation.Rotation``
        that answers which shift holds a wall-clock time. Shift ``k`` goes to the layer's ``users[k mod n]``
        unless the anchored shifts are ``tocsin.rotation.Shifts``, whose ``holder(k)`` chooses who from the
        rotation's own lists. An optional ``check(settings, config)`` yields messages for what the settings
        cannot see alone; ``tocsin check`` runs it and compiles every layer's rotation.
    """


@hookspec
def tocsin_register_targets(register: TargetRegistrar) -> None:
    """Register escalation target types.

    Called once, when the plugin set is final; never while incidents are handled.

    :param register: call ``register(WebhookTarget, expand=expand)`` for each target type. The class is an
        attrs class whose ``type`` tag names it in config files; ``expand(target, ctx)`` returns the
        recipients when a level fires. An optional ``check(target, config)`` yields messages for references
        that do not resolve (a team or schedule that does not exist); they are reported at load time.
    """


@hookspec
def tocsin_register_channels(register: ChannelRegistrar) -> None:
    """Register notification channels.

    Called once, when the plugin set is final; never while notifications are delivered.

    :param register: call ``register(EmailContact, create=create, settings=EmailSettings)``. The contact
        class's ``type`` tag is the channel's name and the shape of a user's contact entry; ``settings`` is
        read from the config's ``channels.<name>`` section (built from its defaults when the section is absent;
        None without a settings class); ``create(settings)`` returns the sender, whose optional ``start()`` and
        ``close()`` the outbox awaits when it starts and shuts down. An optional ``check(settings, config)``
        yields messages for what the settings class cannot see alone (run at load). Pass
        ``links=False`` for a channel whose messages cannot show links (action links, and the one that opens the
        incident in the web console), and
        ``interactions=handler`` for one whose service calls back when someone acts on a message (a button):
        ``tocsin serve`` answers ``POST /v1/<name>/interactions`` with ``await handler(request, settings,
        responder)`` (see :mod:`tocsin.responding`).
    """


@hookspec
def tocsin_register_sources(register: SourceRegistrar) -> None:
    """Register integration sources: the monitoring tools whose payloads tocsin accepts.

    Called once, when the plugin set is final; never while payloads are received.

    :param register: call ``register(AlertmanagerSource, compile=compile)``. The class holds one integration's
        settings; its ``type`` tag names it in the config's ``integrations`` section (the keys ``type``,
        ``token``, ``token_env`` and ``defaults`` belong to every integration and are not the source's).
        ``compile(settings)`` runs when the configuration loads and returns ``parse(body) ->
        list[tocsin.IncidentEvent]``, which turns one decoded JSON body into incident events (create / update /
        resolve, each with a dedup key) and raises ``tocsin.PayloadError`` naming the JSONPath of anything it
        cannot read. An optional ``check(settings, config)`` yields messages for what the settings cannot see
        alone (run at load, like the compile).
    """


@hookspec
def tocsin_register_playbooks(register: PlaybookRegistrar) -> None:
    """Register playbook types: automation a routing rule starts with ``apply_playbook``.

    Called once, when the plugin set is final; never while incidents are handled.

    :param register: call ``register(WebhookPlaybook, create=create)``. The class holds one playbook's
        settings; its ``type`` tag names it in the config's ``playbooks`` section (``playbooks: {restart-db:
        {type: webhook, url: ...}}``). A run is queued in the outbox with the incident (durable, at most once per
        incident and playbook) and handed to the runner ``create(settings)`` returned (created once per playbook,
        on its first run): ``async run(request: tocsin.PlaybookRun) -> tocsin.DeliveryResult``, ``ok=True`` only
        when the automation accepted the run; a failure is retried like a page unless ``retryable=False``. The
        runner may have ``endpoint(request) -> str`` (where the run goes: one queue per endpoint) and
        ``async aclose()``.
    """


# --- observer hooks ---------------------------------------------------------------------------------------
# An implementation declares only the arguments it uses; ``plugin_settings`` is its own plugin's settings.


@hookspec
def tocsin_incident_processed(
    incident: Incident, matched_rules: Sequence[str], policy_id: str | None, plugin_settings: Any
) -> None:
    """An incident went through routing: ``incident`` is the version after actions, ``matched_rules`` the
    names of the rules that applied, ``policy_id`` the chosen policy (None when no policy applies)."""


@hookspec
def tocsin_escalation_started(state: EscalationState, plugin_settings: Any) -> None:
    """An escalation started for ``state.incident_id`` with the policy snapshot in ``state.policy``."""


@hookspec
def tocsin_escalation_level_fired(
    state: EscalationState, level: int, pass_number: int, late: bool, plugin_settings: Any
) -> None:
    """Level ``level`` of pass ``pass_number`` fired; ``late`` when it fired after its due time (downtime)."""


@hookspec
def tocsin_escalation_acknowledged(state: EscalationState, by: str, plugin_settings: Any) -> None:
    """``by`` acknowledged the escalation."""


@hookspec
def tocsin_escalation_resolved(state: EscalationState, plugin_settings: Any) -> None:
    """The escalation was resolved (its incident was resolved or closed)."""


@hookspec
def tocsin_escalation_cancelled(state: EscalationState, plugin_settings: Any) -> None:
    """The escalation was cancelled."""


@hookspec
def tocsin_escalation_completed(state: EscalationState, plugin_settings: Any) -> None:
    """Every level and repeat fired without an acknowledgement: the escalation is over."""


@hookspec
def tocsin_notification_delivered(notification: Notification, result: DeliveryResult, plugin_settings: Any) -> None:
    """A channel confirmed delivery of ``notification``."""


@hookspec
def tocsin_notification_failed(notification: Notification, result: DeliveryResult, plugin_settings: Any) -> None:
    """An attempt to deliver ``notification`` failed; ``result.detail`` says why.

    Called once per failed attempt (``result.attempts`` numbers them); the outbox then retries, unless the
    failure is permanent or the attempts are used up (the notification is then dead: see ``dead_letters()``).
    """


@hookspec
def tocsin_change_recorded(change: Change, plugin_settings: Any) -> None:
    """Someone (or the pager itself) changed something at run time: an override or swap made or removed, the
    config reloaded, a note written, an incident reassigned or un-acknowledged, a heartbeat missed or back, a
    maintenance window made or ended, an incident held by one. ``change.kind`` says which (see
    :class:`tocsin.Change`). Called after the change is committed."""
