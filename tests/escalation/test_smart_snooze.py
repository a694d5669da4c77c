"""Snooze: an acknowledged escalation re-triggers when the snooze runs out, as PagerDuty does; also as a
scenario event. Every test compares the complete list of pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from support.escalation import plugins
from support.smart import berlin, engine, events_of, incident, journal, level, paged, policy, user

import tocsin
from tocsin.simulation.runner import compare, simulate
from tocsin.simulation.scenario import load_scenario

START = berlin("2026-03-24 14:00")
ONCALL, LEAD = "oncall@example.com", "lead@example.com"


def at(minutes: float):
    return START + timedelta(minutes=minutes)


@pytest.fixture
def eng() -> tocsin.EscalationEngine:
    built, _ = engine(START)
    built.register_policy(policy("p", level(0, user(ONCALL)), level(5, user(LEAD))))
    return built


def test_a_snooze_that_runs_out_pages_the_acknowledged_level_again_then_goes_on(eng):
    eng.start_escalation(incident("inc-1", START), "p")
    eng.clock.set(at(3))
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.clock.set(at(4))
    state = eng.snooze("inc-1", 30, by=ONCALL)
    assert (state.status, state.snoozed_until, state.next_due_at) == (
        tocsin.EscalationStatus.ACKNOWLEDGED,
        at(34),
        at(34),
    )
    eng.run_until(at(33))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, ONCALL)]
    eng.run_until(at(120))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, ONCALL), (34, 0, 0, ONCALL), (39, 0, 1, LEAD)]
    assert journal(eng, "inc-1", START)[2:] == [
        (3, "acknowledged", None),
        (4, "snoozed", 0),
        (34, "snooze_ended", 0),
        (34, "level_fired", 0),
        (39, "level_fired", 1),
        (39, "completed", None),
    ]
    state = eng.get_escalation_state("inc-1")
    assert (state.round, state.snoozed_until) == (1, None)
    keys = [d.notification.key for d in state.deliveries]
    assert keys[1] == "inc-1#1/r1/p0/l0/log/oncall@example.com"  # a new round: a new page, not a duplicate


def test_resolving_during_the_snooze_ends_it_quietly(eng):
    eng.start_escalation(incident("inc-1", START), "p")
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.snooze("inc-1", 30)
    eng.clock.set(at(20))
    state = eng.resolve_escalation("inc-1", by=ONCALL)
    assert (state.status, state.snoozed_until) == (tocsin.EscalationStatus.RESOLVED, None)
    eng.run_until(at(120))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, ONCALL)]


def test_snoozing_again_moves_the_time(eng):
    eng.start_escalation(incident("inc-1", START), "p")
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.snooze("inc-1", 30)
    eng.clock.set(at(20))
    assert eng.snooze("inc-1", 60).snoozed_until == at(80)
    eng.run_until(at(79))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, ONCALL)]
    eng.run_until(at(200))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, ONCALL), (80, 0, 0, ONCALL), (85, 0, 1, LEAD)]


def test_a_snooze_replaces_the_ack_timeout_while_it_runs():
    eng, _ = engine(START)
    eng.register_policy(policy("p", level(0, user(ONCALL)), level(60, user(LEAD)), ack_timeout_minutes=10))
    eng.start_escalation(incident("inc-1", START), "p")
    eng.clock.set(at(1))
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.clock.set(at(2))
    eng.snooze("inc-1", 30)
    eng.run_until(at(200))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, ONCALL), (32, 0, 0, ONCALL), (92, 0, 1, LEAD)]
    assert events_of(eng, "inc-1", "ack_timeout") == []


def test_levels_that_do_not_stop_on_ack_still_fire_while_snoozed():
    eng, _ = engine(START)
    eng.register_policy(policy("p", level(0, user(ONCALL)), level(10, user(LEAD), stop_on_ack=False)))
    eng.start_escalation(incident("inc-1", START), "p")
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.snooze("inc-1", 30)
    eng.run_until(at(120))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, ONCALL), (10, 0, 1, LEAD), (30, 0, 0, ONCALL), (40, 0, 1, LEAD)]


def test_only_an_acknowledged_escalation_can_be_snoozed(eng):
    eng.start_escalation(incident("inc-1", START), "p")
    with pytest.raises(tocsin.EscalationNotActiveError, match="the escalation is active; only an acknowledged"):
        eng.snooze("inc-1", 30)
    eng.resolve_escalation("inc-1")
    with pytest.raises(tocsin.EscalationNotActiveError, match="the escalation is resolved; it cannot be snoozed"):
        eng.snooze("inc-1", 30)
    with pytest.raises(tocsin.UnknownIncidentError):
        eng.snooze("nope", 30)


@pytest.mark.parametrize("minutes", [0, -5, 1.5, True, "30"])
def test_a_snooze_needs_a_whole_number_of_minutes(eng, minutes):
    eng.start_escalation(incident("inc-1", START), "p")
    eng.acknowledge_escalation("inc-1", ONCALL)
    with pytest.raises(ValueError, match="snooze needs a whole number of minutes"):
        eng.snooze("inc-1", minutes)
    assert eng.get_escalation_state("inc-1").snoozed_until is None


def test_a_restarted_engine_still_wakes_the_snoozed_escalation(eng):
    eng.start_escalation(incident("inc-1", START), "p")
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.snooze("inc-1", 30)
    config = tocsin.Config(policies=(eng.get_policy("p"),))
    again = tocsin.EscalationEngine(plugins(), eng.store, clock=tocsin.ManualClock(at(10)), config=config)
    assert again.next_due_at() == at(30)
    again.run_until(at(120))
    assert paged(again, "inc-1", START) == [(0, 0, 0, ONCALL), (30, 0, 0, ONCALL), (35, 0, 1, LEAD)]


# --- scenarios --------------------------------------------------------------------------------------------

CONFIG = {
    "policies": [
        {
            "id": "p",
            "levels": [
                {"targets": [{"type": "user", "email": ONCALL}]},
                {"delay_minutes": 5, "targets": [{"type": "user", "email": LEAD}]},
            ],
        }
    ]
}


def scenario(tmp_path, events: list, expect: dict | None = None):
    document = {
        "name": "snoozed",
        "start": "2026-03-24T14:00:00+01:00",
        "incident": {"title": "Checkout errors", "severity": "P1"},
        "events": events,
        "until": "2h",
    }
    if expect is not None:
        document["expect"] = expect
    path = tmp_path / "snooze.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_a_scenario_can_snooze_and_the_timeline_shows_it(tmp_path):
    path = scenario(
        tmp_path,
        [
            {"at": "3m", "action": "acknowledge", "by": ONCALL},
            {"at": "10m", "action": "snooze", "minutes": 30, "by": ONCALL},
        ],
        {
            "pages": [
                {"at": "0m", "level": 0, "recipient": ONCALL},
                {"at": "40m", "level": 0, "recipient": ONCALL},
                {"at": "45m", "level": 1, "recipient": LEAD},
            ],
            "no_more_pages": True,
            "status": "completed",
        },
    )
    config = tocsin.parse_config(CONFIG, plugins().registry)
    result = simulate(load_scenario(path), config, plugins())
    assert compare(result) == []
    lifecycle = [(e["minute"], e["event"]) for e in result.timeline if e["event"] in ("snoozed", "snooze_ended")]
    assert lifecycle == [(10, "snoozed"), (40, "snooze_ended")]
    snoozed = next(e for e in result.timeline if e["event"] == "snoozed")
    assert snoozed["by"] == ONCALL
    assert snoozed["detail"] == "for 30 minutes, until 2026-03-24T13:40:00+00:00"


def test_snoozing_an_escalation_nobody_acknowledged_is_rejected_in_the_timeline(tmp_path):
    path = scenario(tmp_path, [{"at": "2m", "action": "snooze", "minutes": 30, "by": ONCALL}])
    config = tocsin.parse_config(CONFIG, plugins().registry)
    result = simulate(load_scenario(path), config, plugins())
    (rejected,) = [e for e in result.timeline if e["event"] == "rejected"]
    assert (rejected["minute"], rejected["action"]) == (2, "snooze")
    assert "only an acknowledged or exhausted (completed) escalation can be snoozed" in rejected["detail"]
    assert [(p["minute"], p["recipient"]) for p in result.pages()] == [(0, ONCALL), (5, LEAD)]


def test_scenario_snooze_events_are_checked(tmp_path):
    path = scenario(
        tmp_path,
        [
            {"at": "3m", "action": "snooze", "by": ONCALL},
            {"at": "4m", "action": "snooze", "minutes": "30"},
            {"at": "5m", "action": "acknowledge", "minutes": 30},
        ],
    )
    with pytest.raises(tocsin.ConfigError) as caught:
        load_scenario(path)
    assert str(caught.value).splitlines() == [
        f"{path}: $.events[0].minutes: a snooze needs minutes, a whole number 1 or more (required)",
        f"{path}: $.events[1].minutes: a snooze needs minutes, a whole number 1 or more (got '30')",
        f"{path}: $.events[2].minutes: only a snooze takes minutes; 'acknowledge' does not",
    ]
