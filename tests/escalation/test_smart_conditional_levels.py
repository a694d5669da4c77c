"""Conditional levels (``when``): conditions and working-hours windows, evaluated when each level comes due.

Every test also rules out extra pages: it compares the complete list of pages.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.escalation import plugins
from support.smart import (
    berlin,
    engine,
    events_of,
    incident,
    journal,
    level,
    paged,
    policy,
    user,
    when,
)

import tocsin
from tocsin.testing import ConfigBuilder

ONCALL, LEAD, SECONDARY, HEAD = "oncall@example.com", "lead@example.com", "secondary@example.com", "head@example.com"


def business_aware() -> tocsin.EscalationPolicy:
    """The issue's P1 policy: on-call now; the lead at 5m in business hours, else the secondary; P0: the head."""
    return policy(
        "p1",
        level(0, user(ONCALL)),
        level(5, user(LEAD), when=when(during="business")),
        level(0, user(SECONDARY), when=when(outside="business")),
        level(10, user(HEAD), when=when(("severity", "equals", "P0"))),
    )


@pytest.mark.parametrize(
    ("start", "fifth_minute"),
    [("2026-03-24 14:00", LEAD), ("2026-03-24 22:00", SECONDARY), ("2026-03-28 14:00", SECONDARY)],
    ids=["tuesday-afternoon", "tuesday-night", "saturday-afternoon"],
)
def test_the_lead_is_paged_in_business_hours_and_the_secondary_otherwise(start, fifth_minute):
    began = berlin(start)
    eng, _ = engine(began)
    eng.register_policy(business_aware())
    eng.start_escalation(incident("inc-1", began), "p1")
    eng.run_until(began + timedelta(hours=2))
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (5, 0, 1 if fifth_minute == LEAD else 2, fifth_minute)]
    skipped = [(e.level, e.detail) for e in events_of(eng, "inc-1", "level_skipped")]
    assert [lv for lv, _ in skipped] == ([2, 3] if fifth_minute == LEAD else [1, 3])
    assert skipped[-1][1] == "when: severity equals 'P0' is false (severity is 'P1')"
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.COMPLETED


def test_a_skipped_level_is_journalled_with_why_and_shown_in_order():
    began = berlin("2026-03-24 22:00")
    eng, _ = engine(began)
    eng.register_policy(business_aware())
    eng.start_escalation(incident("inc-1", began, severity="P0"), "p1")
    eng.run_until(began + timedelta(hours=1))
    assert journal(eng, "inc-1", began) == [
        (0, "started", None),
        (0, "level_fired", 0),
        (5, "level_skipped", 1),
        (5, "level_fired", 2),
        (15, "level_fired", 3),
        (15, "completed", None),
    ]
    (skip,) = events_of(eng, "inc-1", "level_skipped")
    assert skip.detail == "due Tue 2026-03-24 22:05 Europe/Berlin: outside working hours 'business'"
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (5, 0, 2, SECONDARY), (15, 0, 3, HEAD)]


def test_the_next_level_counts_its_delay_from_the_skipped_levels_due_time():
    began = berlin("2026-03-24 14:00")
    eng, _ = engine(began)
    eng.register_policy(
        policy(
            "p",
            level(0, user(ONCALL)),
            level(5, user(SECONDARY), when=when(outside="business")),  # skipped at 5m
            level(10, user(LEAD)),  # due 10 minutes after 5m, not after 0m
        )
    )
    eng.start_escalation(incident("inc-1", began), "p")
    eng.run_until(began + timedelta(hours=1))
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (15, 0, 2, LEAD)]


def test_windows_are_judged_at_each_levels_due_time_not_when_the_escalation_started():
    began = berlin("2026-03-24 17:20")  # Tuesday, ten minutes before business hours end
    eng, _ = engine(began)
    eng.register_policy(
        policy(
            "p",
            level(0, user(ONCALL)),
            level(5, user(LEAD), when=when(during="business")),  # 17:25: inside
            level(10, user(HEAD), when=when(during="business")),  # 17:35: outside
        )
    )
    eng.start_escalation(incident("inc-1", began), "p")
    eng.run_until(began + timedelta(hours=1))
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (5, 0, 1, LEAD)]
    assert [e.level for e in events_of(eng, "inc-1", "level_skipped")] == [2]


def test_each_pass_judges_its_levels_again():
    began = berlin("2026-03-24 17:00")
    eng, _ = engine(began)
    eng.register_policy(
        policy(
            "p",
            level(0, user(ONCALL)),
            level(5, user(LEAD), when=when(during="business")),
            repeat=tocsin.RepeatConfig(max_repeats=1, interval_minutes=25),
        )
    )
    eng.start_escalation(incident("inc-1", began), "p")
    eng.run_until(began + timedelta(hours=2))
    # Pass 0: the lead at 17:05. Pass 1 starts at 17:30 (25 after 17:05); its lead level at 17:35 is skipped.
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (5, 0, 1, LEAD), (30, 1, 0, ONCALL)]
    assert [(e.pass_number, e.level) for e in events_of(eng, "inc-1", "level_skipped")] == [(1, 1)]


def test_conditions_see_the_incident_as_it_is_when_the_level_comes_due():
    began = berlin("2026-03-24 14:00")
    eng, clock = engine(began)
    eng.register_policy(
        policy(
            "p",
            level(0, user(ONCALL)),
            level(5, user(LEAD), when=when(("state", "equals", "Detected"))),  # only while nobody looks at it
            level(5, user(HEAD), when=when(("state", "equals", "Investigating"))),
        )
    )
    processor = tocsin.IncidentProcessor(eng)
    processor.process(incident("inc-1", began))
    clock.advance(minutes=3)
    processor.update_state("inc-1", "Investigating", by=ONCALL)
    eng.run_until(began + timedelta(hours=1))
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (10, 0, 2, HEAD)]
    (skip,) = events_of(eng, "inc-1", "level_skipped")
    assert skip.detail == "when: state equals 'Detected' is false (state is 'Investigating')"
    pages = eng.get_escalation_state("inc-1").deliveries
    assert [d.notification.incident.state.value for d in pages] == ["Detected", "Investigating"]


def test_update_incident_fires_what_was_due_first_with_the_incident_as_it_was():
    began = berlin("2026-03-24 14:00")
    eng, clock = engine(began)
    eng.register_policy(
        policy("p", level(0, user(ONCALL)), level(5, user(LEAD), when=when(("severity", "in", ["P0", "P1"]))))
    )
    eng.start_escalation(incident("inc-1", began, severity="P1"), "p")
    clock.advance(minutes=6)  # the lead's level was due at 5m and nothing ticked since
    eng.update_incident(incident("inc-1", began, severity="P3"))
    eng.run_until(began + timedelta(hours=1))
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (6, 0, 1, LEAD)]
    assert eng.update_incident(incident("unknown", began)) is None


def test_conditions_and_windows_must_all_hold():
    began = berlin("2026-03-24 22:00")
    eng, _ = engine(began)
    both = when(("severity", "equals", "P0"), during="business")
    eng.register_policy(policy("p", level(0, user(ONCALL)), level(5, user(HEAD), when=both)))
    eng.start_escalation(incident("inc-1", began, severity="P0"), "p")
    eng.run_until(began + timedelta(hours=1))
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL)]


def test_an_acknowledgement_answers_the_last_level_that_paged_not_a_skipped_one():
    began = berlin("2026-03-24 22:00")
    eng, clock = engine(began)
    eng.register_policy(
        policy(
            "p",
            level(0, user(ONCALL)),
            level(5, user(LEAD), when=when(during="business")),  # skipped at 22:05
            level(60, user(HEAD)),
            ack_timeout_minutes=10,
        )
    )
    eng.start_escalation(incident("inc-1", began), "p")
    clock.advance(minutes=7)
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.run_until(began + timedelta(minutes=30))
    # The ack at 7m timed out at 17m: the on-call (level 0, the last level that paged) is paged again.
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (17, 0, 0, ONCALL)]
    eng.run_until(began + timedelta(hours=3))
    # The schedule goes on from the re-paged level: the lead's level (22:22) is skipped, the head at 82m.
    assert paged(eng, "inc-1", began)[2:] == [(82, 0, 2, HEAD)]


def test_a_level_whose_window_or_condition_does_not_compile_is_refused_by_the_engine():
    eng, _ = engine(berlin("2026-03-24 14:00"))
    with pytest.raises(tocsin.PolicyError) as caught:
        eng.register_policy(
            policy(
                "p",
                level(0, user(ONCALL), when=when(during="weekends")),
                level(5, user(LEAD), when=when(("severity", "matches", "(")), delay_counts_during="nights"),
            )
        )
    message = str(caught.value)
    assert message.startswith(
        "policy 'p': levels[0].when.during: unknown working-hours window 'weekends'; known: business"
    )
    assert "levels[1].delay_counts_during: unknown working-hours window 'nights'" in message
    assert "levels[1].when.conditions[0].value:" in message
    assert eng.get_policy("p") is None


def test_a_when_needs_something_to_test():
    with pytest.raises(tocsin.FieldError, match="'when' needs conditions, during or outside"):
        tocsin.LevelCondition()


def test_a_policy_without_smart_levels_keeps_the_plain_state():
    began = berlin("2026-03-24 14:00")
    eng, _ = engine(began)
    eng.register_policy(policy("plain", level(0, user(ONCALL)), level(5, user(LEAD))))
    eng.start_escalation(incident("inc-1", began), "plain")
    row = eng.store.load("inc-1")
    assert row.smart is None  # a plain escalation stores nothing of smart escalation
    eng.run_until(began + timedelta(hours=1))
    assert paged(eng, "inc-1", began) == [(0, 0, 0, ONCALL), (5, 0, 1, LEAD)]


# --- config -----------------------------------------------------------------------------------------------


@pytest.fixture
def config_faults(tocsin_plugins):
    """The lines ``tocsin check smart.yaml`` prints for a document (tocsin's own config builder reads it)."""
    return lambda document: ConfigBuilder(tocsin_plugins.registry).merge(document).faults(source="smart.yaml")


def smart_policy(*levels: dict) -> dict:
    return {"policies": [{"id": "p", "levels": list(levels)}]}


LEAD_TARGET = [{"type": "user", "email": LEAD}]


def test_a_level_naming_an_unknown_window_is_a_config_error_with_its_path(config_faults):
    document = {
        "working_hours": {"business": {"intervals": [{"days": [1], "start": "09:00", "end": "17:00"}]}},
        **smart_policy(
            {"targets": LEAD_TARGET, "when": {"during": "busines"}},
            {"targets": LEAD_TARGET, "when": {"outside": "nights"}, "delay_counts_during": "business"},
            {"targets": LEAD_TARGET, "delay_counts_during": "weekend"},
        ),
    }
    assert config_faults(document) == [
        "smart.yaml: $.policies[0].levels[0].when.during: unknown working-hours window 'busines'; known: business",
        "smart.yaml: $.policies[0].levels[1].when.outside: unknown working-hours window 'nights'; known: business",
        "smart.yaml: $.policies[0].levels[2].delay_counts_during: unknown working-hours window 'weekend'; "
        "known: business",
    ]


def test_a_window_name_without_a_working_hours_section_says_so(config_faults):
    assert config_faults(smart_policy({"targets": LEAD_TARGET, "when": {"during": "business"}})) == [
        "smart.yaml: $.policies[0].levels[0].when.during: unknown working-hours window 'business': "
        "there is no working_hours section"
    ]


def test_when_conditions_are_checked_like_routing_conditions(config_faults):
    conditions = [
        {"field": "sevrity", "operator": "equals", "value": "P1"},
        {"field": "severity", "operator": "in", "value": "P1"},
        {"field": "severity", "operator": "resembles", "value": "P1"},
    ]
    lines = config_faults(smart_policy({"targets": LEAD_TARGET, "when": {"conditions": conditions}}))
    path = "smart.yaml: $.policies[0].levels[0].when.conditions"
    assert lines[0].startswith(f"{path}[0].field: unknown field 'sevrity'; known: ")
    assert lines[0].endswith("(did you mean 'severity'?)")
    assert lines[1] == f"{path}[1].value: 'in' needs a list, got 'P1'"
    assert lines[2].startswith(f"{path}[2].operator: unknown condition operator 'resembles'; known: ")
    assert len(lines) == 3


def test_an_empty_when_and_round_robin_with_ack_all_are_config_errors(config_faults):
    lines = config_faults(
        smart_policy(
            {"targets": LEAD_TARGET, "when": {}},
            {"targets": LEAD_TARGET, "round_robin": {"rotate_after_minutes": 5}, "ack_mode": "all"},
            {"targets": LEAD_TARGET, "round_robin": {"rotate_after_minutes": 0}},
            {"targets": LEAD_TARGET, "ack_mode": "everyone"},
        )
    )
    assert lines == [
        "smart.yaml: $.policies[0].levels[0].when.conditions: 'when' needs conditions, during or outside "
        "(or leave 'when' out)",
        "smart.yaml: $.policies[0].levels[1].ack_mode: 'all' cannot be combined with round_robin, which pages one "
        "recipient at a time; use one of them",
        "smart.yaml: $.policies[0].levels[2].round_robin.rotate_after_minutes: must be 1 or more, got 0",
        "smart.yaml: $.policies[0].levels[3].ack_mode: expected one of first, all; got 'everyone'",
    ]


def test_a_level_that_fires_with_a_problem_still_counts_as_fired_next_to_a_skipped_one():
    began = berlin("2026-03-24 22:00")
    eng, _ = engine(began)
    eng.executor().register_team("empty", [])
    team_target = plugins().registry.targets.get("team").cls
    eng.register_policy(
        policy("p", level(0, team_target(team_id="empty")), level(5, user(LEAD), when=when(during="business")))
    )
    eng.start_escalation(incident("inc-1", began), "p")
    assert eng.tick(began + timedelta(minutes=5)) == 0  # the lead's level was skipped: nothing fired
    assert [kind for _, kind, _ in journal(eng, "inc-1", began)] == [
        "started",
        "level_fired",
        "unresolved",
        "level_skipped",
        "completed",
    ]
    eng2, _ = engine(began)
    eng2.executor().register_team("empty", [])
    eng2.register_policy(policy("q", level(0, user(ONCALL)), level(5, team_target(team_id="empty"))))
    eng2.start_escalation(incident("inc-2", began), "q")
    assert eng2.tick(began + timedelta(minutes=5)) == 1  # fired, though it reached nobody
    assert paged(eng2, "inc-2", began) == [(0, 0, 0, ONCALL)]
