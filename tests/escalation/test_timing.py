"""Every timing rule of DESIGN.md section 5 on a manual clock; each test also rules out extra pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.escalation import (
    START,
    at,
    engine,
    events_of,
    guide_policy,
    incident,
    kinds,
    level,
    page_times,
    pages,
    policy,
    team,
    user,
)

import tocsin

LEAD = "lead@example.com"
ONCALL = "oncall@example.com"


@pytest.fixture
def clock() -> tocsin.ManualClock:
    return tocsin.ManualClock(START)


@pytest.fixture
def eng(clock: tocsin.ManualClock) -> tocsin.EscalationEngine:
    built = engine(clock)
    built.executor().register_team("platform", ["eng1@example.com", "eng2@example.com"])
    built.register_policy(guide_policy())
    return built


def test_the_guides_policy_pages_at_0_5_15_then_repeats_20_minutes_after_each_pass(eng):
    eng.start_escalation(incident(), "standard")
    eng.run_until(at(600))
    minutes = sorted(set(page_times(eng)))
    assert minutes == [0, 5, 15, 35, 40, 50, 70, 75, 85, 105, 110, 120]
    assert pages(eng)[:4] == [
        (0, 0, 0, ONCALL),
        (5, 0, 1, LEAD),
        (15, 0, 2, "eng1@example.com"),
        (15, 0, 2, "eng2@example.com"),
    ]
    assert [(p, lv) for _, p, lv, _ in pages(eng)][-4:] == [(3, 0), (3, 1), (3, 2), (3, 2)]
    assert len(pages(eng)) == 16  # 4 passes x (1 + 1 + 2): nothing after the last repeat


def test_the_escalation_completes_when_the_last_level_of_the_last_pass_fires(eng):
    eng.start_escalation(incident(), "standard")
    eng.run_until(at(119))
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACTIVE
    eng.run_until(at(120))
    state = eng.get_escalation_state("inc-1")
    assert state.status is tocsin.EscalationStatus.COMPLETED
    assert state.ended_at == at(120)
    assert state.next_due_at is None
    assert state.exhausted and state.open  # nobody answered: still open, visibly exhausted
    assert eng.active_count() == 1
    eng.run_until(at(1000))
    assert len(pages(eng)) == 16


def test_start_fires_level_zero_at_once_and_reports_the_next_level(eng):
    state = eng.start_escalation(incident(), "standard")
    assert state.status is tocsin.EscalationStatus.ACTIVE
    assert state.current_level == 0
    assert state.next_level == 1
    assert state.next_due_at == at(5)
    assert pages(eng) == [(0, 0, 0, ONCALL)]


def test_levels_are_due_from_when_the_previous_level_was_due_not_when_a_tick_noticed(eng, clock):
    eng.start_escalation(incident(), "standard")
    clock.set(at(5) + timedelta(seconds=40))  # a tick that comes 40 s late
    assert eng.tick() == 1
    state = eng.get_escalation_state("inc-1")
    assert state.next_due_at == at(15)  # still 10 minutes after 5m, not after 5m40s
    notification = state.deliveries[-1].notification
    assert notification.due_at == at(5) and notification.late is False
    eng.run_until(at(15))
    assert page_times(eng) == [0, 5.666666666666667, 15, 15]


def test_delay_zero_levels_fire_together_with_the_previous_one(clock):
    eng = engine(clock)
    eng.register_policy(
        policy("zeros", level(0, user("a@x")), level(0, user("b@x")), level(5, user("c@x")), level(0, user("d@x")))
    )
    eng.start_escalation(incident(), "zeros")
    assert pages(eng) == [(0, 0, 0, "a@x"), (0, 0, 1, "b@x")]
    eng.run_until(at(60))
    assert pages(eng) == [(0, 0, 0, "a@x"), (0, 0, 1, "b@x"), (5, 0, 2, "c@x"), (5, 0, 3, "d@x")]
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.COMPLETED


def test_a_later_level_with_delay_zero_does_not_end_the_escalation(clock):
    eng = engine(clock)
    repeat = tocsin.RepeatConfig(max_repeats=1, interval_minutes=10)
    eng.register_policy(policy("p", level(0, user("a@x")), level(5, user("b@x")), level(0, user("c@x")), repeat=repeat))
    eng.start_escalation(incident(), "p")
    eng.run_until(at(100))
    assert pages(eng) == [
        (0, 0, 0, "a@x"),
        (5, 0, 1, "b@x"),
        (5, 0, 2, "c@x"),
        (15, 1, 0, "a@x"),
        (20, 1, 1, "b@x"),
        (20, 1, 2, "c@x"),
    ]


def test_a_repeat_waits_the_interval_plus_level_zeros_delay(clock):
    eng = engine(clock)
    repeat = tocsin.RepeatConfig(max_repeats=2, interval_minutes=20)
    eng.register_policy(policy("p", level(3, user("a@x")), level(4, user("b@x")), repeat=repeat))
    eng.start_escalation(incident(), "p")
    assert pages(eng) == []
    eng.run_until(at(200))
    assert page_times(eng) == [3, 7, 30, 34, 57, 61]


def test_a_policy_without_repeat_runs_once_and_completes(clock):
    eng = engine(clock)
    eng.register_policy(policy("once", level(0, user("a@x")), level(5, user("b@x"))))
    eng.start_escalation(incident(), "once")
    eng.run_until(at(500))
    assert page_times(eng) == [0, 5]
    state = eng.get_escalation_state("inc-1")
    assert state.status is tocsin.EscalationStatus.COMPLETED and state.ended_at == at(5)


def test_acknowledging_stops_levels_with_stop_on_ack_and_all_repeats(eng, clock):
    eng.start_escalation(incident(), "standard")
    eng.run_until(at(7))
    state = eng.acknowledge_escalation("inc-1", "lead@example.com")
    assert state.status is tocsin.EscalationStatus.ACKNOWLEDGED
    assert state.acknowledged_by == "lead@example.com" and state.acknowledged_at == at(7)
    assert state.next_due_at is None
    eng.run_until(at(1000))
    assert pages(eng) == [(0, 0, 0, ONCALL), (5, 0, 1, LEAD)]
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACKNOWLEDGED


def test_levels_with_stop_on_ack_false_still_fire_at_their_times_after_an_ack(clock):
    eng = engine(clock)
    repeat = tocsin.RepeatConfig(max_repeats=3, interval_minutes=5)
    eng.register_policy(
        policy(
            "p",
            level(0, user("a@x")),
            level(5, user("b@x")),
            level(10, user("exec@x"), stop_on_ack=False),
            level(5, user("d@x")),
            repeat=repeat,
        )
    )
    eng.start_escalation(incident(), "p")
    eng.run_until(at(3))
    eng.acknowledge_escalation("inc-1", "a@x")
    assert eng.get_escalation_state("inc-1").next_due_at == at(15)
    eng.run_until(at(500))
    assert pages(eng) == [(0, 0, 0, "a@x"), (15, 0, 2, "exec@x")]  # b and d skipped, no repeats
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACKNOWLEDGED


def test_an_unresolved_acknowledgement_times_out_and_the_acknowledged_level_fires_again(clock):
    eng = engine(clock)
    repeat = tocsin.RepeatConfig(max_repeats=1, interval_minutes=20)
    eng.register_policy(
        policy(
            "p",
            level(0, user("a@x")),
            level(5, user("b@x")),
            level(10, user("c@x")),
            repeat=repeat,
            ack_timeout_minutes=10,
        )
    )
    eng.start_escalation(incident(), "p")
    eng.run_until(at(7))
    eng.acknowledge_escalation("inc-1", "b@x")
    assert eng.get_escalation_state("inc-1").next_due_at == at(17)
    eng.run_until(at(16))
    assert page_times(eng) == [0, 5]
    eng.run_until(at(17))
    state = eng.get_escalation_state("inc-1")
    assert state.status is tocsin.EscalationStatus.ACTIVE
    assert state.round == 1 and state.acknowledged_by is None
    assert "ack_timeout" in kinds(eng)
    eng.run_until(at(500))
    assert pages(eng) == [
        (0, 0, 0, "a@x"),
        (5, 0, 1, "b@x"),
        (17, 0, 1, "b@x"),  # the acknowledged level again
        (27, 0, 2, "c@x"),  # then the schedule continues from there
        (47, 1, 0, "a@x"),
        (52, 1, 1, "b@x"),
        (62, 1, 2, "c@x"),
    ]
    keys = [d.notification.key for d in eng.get_escalation_state("inc-1").deliveries]
    assert len(keys) == len(set(keys))  # the re-fired level has its own idempotency keys


def test_resolving_within_the_ack_timeout_stops_everything(clock):
    eng = engine(clock)
    eng.register_policy(policy("p", level(0, user("a@x")), level(5, user("b@x")), ack_timeout_minutes=10))
    eng.start_escalation(incident(), "p")
    eng.run_until(at(2))
    eng.acknowledge_escalation("inc-1", "a@x")
    eng.run_until(at(9))
    state = eng.resolve_escalation("inc-1")
    assert state.status is tocsin.EscalationStatus.RESOLVED
    eng.run_until(at(500))
    assert pages(eng) == [(0, 0, 0, "a@x")]


def test_escalate_now_fires_the_next_level_and_later_levels_count_from_then(eng, clock):
    eng.start_escalation(incident(), "standard")
    clock.set(at(2))
    state = eng.escalate_now("inc-1", by="oncall@example.com")
    assert state.current_level == 1
    assert state.next_due_at == at(12)
    eng.run_until(at(12))
    assert pages(eng) == [
        (0, 0, 0, ONCALL),
        (2, 0, 1, LEAD),
        (12, 0, 2, "eng1@example.com"),
        (12, 0, 2, "eng2@example.com"),
    ]
    assert events_of(eng, "escalated")[0].by == "oncall@example.com"


def test_resolve_and_cancel_stop_everything(eng, clock):
    eng.start_escalation(incident("a"), "standard")
    eng.start_escalation(incident("b"), "standard")
    clock.set(at(1))
    assert eng.resolve_escalation("a").status is tocsin.EscalationStatus.RESOLVED
    assert eng.cancel_escalation("b").status is tocsin.EscalationStatus.CANCELLED
    eng.run_until(at(500))
    assert pages(eng, "a") == [(0, 0, 0, ONCALL)]
    assert pages(eng, "b") == [(0, 0, 0, ONCALL)]
    assert eng.resolve_escalation("a").status is tocsin.EscalationStatus.RESOLVED  # twice is harmless
    assert eng.active_count() == 0


def test_a_completed_escalation_can_still_be_resolved(clock):
    eng = engine(clock)
    eng.register_policy(policy("once", level(0, user("a@x"))))
    eng.start_escalation(incident(), "once")
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.COMPLETED
    assert eng.resolve_escalation("inc-1").status is tocsin.EscalationStatus.RESOLVED


def test_editing_a_policy_never_changes_escalations_in_flight(eng, clock):
    eng.start_escalation(incident("old"), "standard")
    edited = policy("standard", level(1, user("new@x")), level(1, user("newer@x")))
    eng.register_policy(edited)
    eng.start_escalation(incident("new"), "standard")
    eng.run_until(at(20))
    assert pages(eng, "old") == [
        (0, 0, 0, ONCALL),
        (5, 0, 1, LEAD),
        (15, 0, 2, "eng1@example.com"),
        (15, 0, 2, "eng2@example.com"),
    ]
    assert pages(eng, "new") == [(1, 0, 0, "new@x"), (2, 0, 1, "newer@x")]
    assert eng.get_escalation_state("old").policy == guide_policy()
    assert eng.get_policy("standard") == edited


def test_a_recipient_in_two_targets_of_one_level_is_paged_once(clock):
    eng = engine(clock)
    eng.executor().register_team("ops", ["a@x", "b@x"])
    eng.register_policy(policy("p", level(0, user("a@x"), team("ops"), user("a@x"))))
    eng.start_escalation(incident(), "p")
    assert pages(eng) == [(0, 0, 0, "a@x"), (0, 0, 0, "b@x")]


def test_an_unknown_team_is_recorded_and_everyone_else_is_still_paged(clock):
    eng = engine(clock)
    eng.register_policy(policy("p", level(0, team("ghosts"), user("a@x"))))
    eng.start_escalation(incident(), "p")
    assert pages(eng) == [(0, 0, 0, "a@x")]
    (failure,) = events_of(eng, "target_failed")
    assert "unknown team 'ghosts'" in failure.detail
    assert failure.level == 0 and failure.pass_number == 0


def test_an_idle_tick_fires_nothing(eng):
    eng.start_escalation(incident(), "standard")
    assert eng.tick(at(4)) == 0
    assert eng.tick(at(5)) == 1
    assert eng.tick(at(5)) == 0
    assert page_times(eng) == [0, 5]


def test_the_monitor_sleeps_until_the_next_due_time_bounded_by_the_check_interval(eng, clock):
    eng.with_check_interval(120)
    assert eng.monitor.sleep_seconds() == 120  # nothing scheduled
    eng.start_escalation(incident(), "standard")
    assert eng.monitor.sleep_seconds() == 120  # next due in 5 minutes: capped
    eng.with_check_interval(600)
    assert eng.monitor.sleep_seconds() == 300
    clock.set(at(4.5))
    assert eng.monitor.sleep_seconds() == 30
    assert page_times(eng) == [0]  # sleeping fires nothing
