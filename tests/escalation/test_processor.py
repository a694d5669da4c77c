"""The incident processor, and the guide's complete workflow example in tocsin's API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.escalation import START, at, engine, events_of, guide_policy, incident, level, pages, plugins, policy, user

import tocsin
from tocsin.plugins.action_assign import Assign
from tocsin.plugins.action_labels import AddLabels
from tocsin.plugins.action_notify import Notify
from tocsin.plugins.action_suppress import Suppress
from tocsin.plugins.action_use_policy import UsePolicy
from tocsin.plugins.channel_webhook import WebhookContact
from tocsin.plugins.rotation_daily import DailyRotation
from tocsin.targets.schedule import ScheduleTarget
from tocsin.targets.team import TeamTarget


def rule(name: str, *actions, field: str = "incident_type", operator: str = "equals", value="Infrastructure", **more):
    condition = tocsin.RuleCondition(field=field, operator=operator, value=value)
    return tocsin.RoutingRule(name=name, conditions=(condition,), actions=tuple(actions), **more)


def test_the_guides_complete_workflow_example():
    clock = tocsin.ManualClock(START)
    store = tocsin.InMemoryStore()
    eng = tocsin.EscalationEngine(plugins(), store, clock=clock)
    routing = tocsin.RoutingRuleEvaluator(plugins().registry)

    schedule = tocsin.OnCallSchedule(
        id="primary",
        name="Primary",
        timezone="UTC",
        layers=(
            tocsin.ScheduleLayer(name="Primary", users=("oncall@example.com",), rotation=DailyRotation(handoff_hour=9)),
        ),
    )
    eng.executor().register_schedule(schedule)
    eng.executor().register_team("platform", ["eng1@example.com", "eng2@example.com"])
    standard = tocsin.EscalationPolicy(
        id="standard",
        name="Standard",
        description="Standard escalation",
        enabled=True,
        levels=(
            tocsin.EscalationLevel(level=0, delay_minutes=0, targets=(ScheduleTarget(schedule_id=schedule.id),)),
            tocsin.EscalationLevel(level=1, delay_minutes=5, targets=(TeamTarget(team_id="platform"),)),
        ),
        repeat=None,
        severity_filter=(tocsin.Severity.P0, tocsin.Severity.P1),
    )
    eng.register_policy(standard)
    routing.register_rule(rule("Infrastructure Routing", Assign(assignees=("platform@example.com",))))

    new = tocsin.Incident.new("monitoring", "High CPU", "CPU usage at 95%", tocsin.Severity.P1, "Infrastructure")
    matches = routing.evaluate_incident(new)
    assert [r.name for r in matches] == ["Infrastructure Routing"]
    routed = routing.apply_actions(new, matches).incident
    assert routed.assignees == ("platform@example.com",)

    assert eng.find_policy_for_incident(routed) == standard
    eng.start_escalation(routed, standard.id)
    state = eng.get_escalation_state(routed.id)
    assert state.current_level == 0
    assert state.status is tocsin.EscalationStatus.ACTIVE

    clock.advance(minutes=3)
    eng.acknowledge_escalation(routed.id, "oncall@example.com")
    assert eng.get_escalation_state(routed.id).status is tocsin.EscalationStatus.ACKNOWLEDGED
    eng.run_until(at(120))
    assert pages(eng, routed.id) == [(0, 0, 0, "oncall@example.com")]  # the team was never paged


@pytest.fixture
def setup():
    clock = tocsin.ManualClock(START)
    eng = engine(clock)
    eng.register_policy(guide_policy("p1", severity_filter=(tocsin.Severity.P0, tocsin.Severity.P1)))
    eng.register_policy(policy("quiet", level(0, user("quiet@x"))))
    eng.executor().register_team("platform", ["eng1@example.com"])
    rules = [
        rule("infra", Assign(assignees=("platform@example.com",)), AddLabels(labels={"routed": "yes"})),
        rule("db quiet", UsePolicy(policy_id="quiet"), field="labels.component", value="db"),
        rule("maintenance", Suppress(duration_minutes=30), field="source", value="maintenance"),
        rule("security", Notify(channels=("#security", "#unknown")), field="incident_type", value="Security"),
    ]
    contact = WebhookContact(url="https://hooks.example.com/security")
    processor = tocsin.IncidentProcessor(eng, rules=rules, notify_channels={"#security": contact})
    return clock, eng, processor


def test_process_routes_for_real_chooses_the_policy_and_starts_the_escalation(setup):
    _, eng, processor = setup
    result = processor.process(incident(incident_type="Infrastructure"))
    assert result.matched_rules == ("infra",)
    assert result.incident.assignees == ("platform@example.com",)
    assert processor.get_incident("inc-1").labels == {"routed": "yes"}
    assert result.policy_id == "p1"
    assert result.escalation.status is tocsin.EscalationStatus.ACTIVE
    assert eng.get_escalation_state("inc-1").incident_id == "inc-1"
    assert pages(eng) == [(0, 0, 0, "oncall@example.com")]


def test_use_policy_wins_over_the_severity_match(setup):
    _, eng, processor = setup
    result = processor.process(incident(labels={"component": "db"}))
    assert result.policy_id == "quiet"
    assert pages(eng) == [(0, 0, 0, "quiet@x")]


def test_a_repeat_with_the_same_dedup_key_counts_instead_of_escalating_again(setup):
    _, eng, processor = setup
    processor.process(incident("first", dedup_key="cpu-host-1"))
    second = processor.process(incident("second", dedup_key="cpu-host-1"))
    third = processor.process(incident("third", dedup_key="cpu-host-1"))
    assert (second.duplicate, second.duplicates, third.duplicates) == (True, 1, 2)
    assert third.incident.id == "first"
    assert processor.get_incident("second") is None
    assert eng.get_escalation_state("second") is None
    assert eng.active_count() == 1


def test_a_repeat_that_says_resolved_resolves_the_open_incident_and_its_escalation(setup):
    clock, eng, processor = setup
    processor.process(incident("first", dedup_key="k"))
    clock.set(at(2))
    result = processor.process(incident("again", dedup_key="k", state="Resolved"))
    assert result.incident.state is tocsin.IncidentState.RESOLVED
    assert eng.get_escalation_state("first").status is tocsin.EscalationStatus.RESOLVED
    eng.run_until(at(300))
    assert pages(eng, "first") == [(0, 0, 0, "oncall@example.com")]
    fresh = processor.process(incident("later", dedup_key="k"))
    assert fresh.duplicate is False  # the old one is no longer open


@pytest.mark.parametrize("how", ["resolve", "close", "update"])
def test_resolving_or_closing_the_incident_by_any_path_resolves_its_escalation(setup, how):
    _, eng, processor = setup
    processor.process(incident())
    eng.run_until(at(6))
    if how == "resolve":
        processor.resolve_incident("inc-1", by="eng1@example.com")
    elif how == "close":
        processor.close_incident("inc-1")
    else:
        processor.update_state("inc-1", "Closed")
    state = eng.get_escalation_state("inc-1")
    assert state.status is tocsin.EscalationStatus.RESOLVED
    eng.run_until(at(300))
    assert [minute for minute, *_ in pages(eng)] == [0, 5]


def test_suppress_holds_the_escalation_back_and_resolving_meanwhile_pages_nobody(setup):
    clock, eng, processor = setup
    result = processor.process(incident("a", source="maintenance"))
    processor.process(incident("b", source="maintenance"))
    assert result.suppressed_until == at(30)
    assert result.escalation.next_due_at == at(30)
    clock.set(at(10))
    processor.resolve_incident("a")
    eng.run_until(at(35))
    assert pages(eng, "a") == []
    assert pages(eng, "b") == [(30, 0, 0, "oncall@example.com"), (35, 0, 1, "lead@example.com")]


def test_notify_channels_resolve_through_config_and_are_sent_once(setup):
    _, eng, processor = setup
    processor.process(incident(incident_type="Security"))
    processor.process(incident(incident_type="Security"))  # a repeat (same id): nothing new
    state = eng.get_escalation_state("inc-1")
    announced = [d.notification for d in state.deliveries if d.notification.level < 0]
    assert [(n.recipient.address, n.recipient.channel) for n in announced] == [
        ("#security", "webhook"),
        ("#unknown", "log"),  # a name the config does not define goes to the log channel
    ]
    assert announced[0].recipient.contact == WebhookContact(url="https://hooks.example.com/security")
    assert events_of(eng, "announced")[0].detail == "2 recipient(s)"


def test_notify_without_a_policy_is_sent_at_once():
    eng = engine(tocsin.ManualClock(START))
    eng.register_policy(guide_policy("p1", severity_filter=(tocsin.Severity.P1,)))
    processor = tocsin.IncidentProcessor(eng, rules=[rule("s", Notify(channels=("#ops",)), value="Security")])
    processed = processor.process(incident(severity="P4", incident_type="Security"))
    assert processed.policy_id is None and processed.escalation is None
    (delivery,) = eng.store.all_deliveries()
    assert delivery.notification.key == "inc-1/notify/log/#ops"
    assert delivery.notification.recipient.address == "#ops"


def test_processing_emits_incident_processed(setup):
    seen = []

    class Observer:
        __name__ = "observer"

        @tocsin.hookimpl
        def tocsin_incident_processed(self, incident, matched_rules, policy_id):
            seen.append((incident.id, list(matched_rules), policy_id))

    clock = tocsin.ManualClock(START)
    eng = tocsin.EscalationEngine(tocsin.load_plugins(autoload=False, extra=[Observer()]), clock=clock)
    eng.register_policy(guide_policy())
    processor = tocsin.IncidentProcessor(eng, rules=[rule("infra", AddLabels(labels={"a": "b"}))])
    processor.process(incident(incident_type="Infrastructure"))
    assert seen == [("inc-1", ["infra"], "standard")]


def test_an_incident_that_arrives_resolved_starts_nothing(setup):
    _, eng, processor = setup
    result = processor.process(incident(state="Resolved"))
    assert result.escalation is None and result.policy_id is None
    assert eng.get_escalation_state("inc-1") is None


def test_unknown_incident_state_changes_are_refused(setup):
    _, _, processor = setup
    with pytest.raises(tocsin.UnknownIncidentError, match="no incident 'nope'"):
        processor.resolve_incident("nope")


def test_created_at_is_kept_and_times_come_from_the_clock(setup):
    clock, _, processor = setup
    clock.set(datetime(2026, 3, 1, 4, 0, tzinfo=UTC))
    result = processor.process(incident())
    assert result.escalation.started_at == START + timedelta(hours=1)
    assert result.incident.created_at == START
