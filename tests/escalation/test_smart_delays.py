"""Delays that count only inside a working-hours window (``delay_counts_during``), on the engine's manual clock,
across DST weekends (Europe/Berlin: 2026-03-29 and 2026-10-25). Every test compares the complete list of pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.escalation import plugins
from support.smart import BUSINESS, berlin, engine, incident, level, local, paged, policy, user, when

import tocsin

ONCALL, LEAD = "oncall@example.com", "lead@example.com"


def p3_policy() -> tocsin.EscalationPolicy:
    """The issue's P3 policy: page only in business hours, the 30-minute delay counting in business hours."""
    return policy("p3", level(30, user(ONCALL), delay_counts_during="business"))


def fired_at(eng: tocsin.EscalationEngine, incident_id: str) -> list[str]:
    state = eng.get_escalation_state(incident_id)
    return [local(d.notification.fired_at) for d in state.deliveries]


def test_a_p3_raised_at_23_00_before_spring_forward_pages_at_09_30_local_on_monday():
    began = berlin("2026-03-27 23:00")  # Friday, CET; the clocks go forward on Sunday
    eng, clock = engine(began)
    eng.register_policy(p3_policy())
    state = eng.start_escalation(incident("inc-1", began, severity="P3"), "p3")
    assert state.next_due_at == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)  # 09:30 CEST
    eng.run_until(began + timedelta(days=2, hours=8))
    assert paged(eng, "inc-1", began) == []  # nobody woken over the weekend
    eng.run_until(began + timedelta(days=4))
    assert fired_at(eng, "inc-1") == ["Mon 2026-03-30 09:30 CEST"]
    assert paged(eng, "inc-1", began) == [(3450, 0, 0, ONCALL)]
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.COMPLETED
    assert clock.now() == began + timedelta(days=4)


def test_a_p3_raised_at_23_00_before_fall_back_pages_at_09_30_local_on_monday():
    began = berlin("2026-10-23 23:00")  # Friday, CEST; the clocks go back on Sunday
    eng, _ = engine(began)
    eng.register_policy(p3_policy())
    eng.start_escalation(incident("inc-1", began, severity="P3"), "p3")
    eng.run_until(began + timedelta(days=4))
    assert fired_at(eng, "inc-1") == ["Mon 2026-10-26 09:30 CET"]
    assert paged(eng, "inc-1", began) == [(3570, 0, 0, ONCALL)]  # the weekend had 25 hours on Sunday


def test_a_delay_started_late_in_the_day_finishes_the_next_morning():
    began = berlin("2026-03-24 17:20")  # Tuesday: 10 minutes of business hours left
    eng, _ = engine(began)
    eng.register_policy(p3_policy())
    eng.start_escalation(incident("inc-1", began, severity="P3"), "p3")
    eng.run_until(began + timedelta(days=1))
    assert fired_at(eng, "inc-1") == ["Wed 2026-03-25 09:20 CET"]
    assert len(paged(eng, "inc-1", began)) == 1


def test_inside_business_hours_the_delay_is_plain_minutes():
    began = berlin("2026-03-24 10:00")
    eng, _ = engine(began)
    eng.register_policy(p3_policy())
    eng.start_escalation(incident("inc-1", began, severity="P3"), "p3")
    eng.run_until(began + timedelta(days=1))
    assert paged(eng, "inc-1", began) == [(30, 0, 0, ONCALL)]


def test_a_zero_delay_counting_in_a_window_waits_for_it_to_open():
    began = berlin("2026-03-28 12:00")  # Saturday
    eng, _ = engine(began)
    eng.register_policy(policy("p", level(0, user(ONCALL), delay_counts_during="business")))
    eng.start_escalation(incident("inc-1", began, severity="P3"), "p")
    eng.run_until(began + timedelta(days=3))
    assert fired_at(eng, "inc-1") == ["Mon 2026-03-30 09:00 CEST"]


def test_a_later_level_counts_its_delay_in_the_window_from_the_previous_levels_due_time():
    began = berlin("2026-03-24 17:00")
    eng, _ = engine(began)
    eng.register_policy(policy("p", level(0, user(ONCALL)), level(60, user(LEAD), delay_counts_during="business")))
    eng.start_escalation(incident("inc-1", began), "p")
    eng.run_until(began + timedelta(days=1))
    assert fired_at(eng, "inc-1") == ["Tue 2026-03-24 17:00 CET", "Wed 2026-03-25 09:30 CET"]


def test_a_repeat_counts_level_zeros_delay_in_its_window_after_the_interval():
    began = berlin("2026-03-24 16:00")
    eng, _ = engine(began)
    eng.register_policy(
        policy(
            "p",
            level(10, user(ONCALL), delay_counts_during="business"),
            repeat=tocsin.RepeatConfig(max_repeats=1, interval_minutes=90),
        )
    )
    eng.start_escalation(incident("inc-1", began, severity="P3"), "p")
    eng.run_until(began + timedelta(days=1))
    # Pass 0 at 16:10; pass 1: 90 plain minutes later is 17:40 (closed), then 10 business minutes: 09:10.
    assert fired_at(eng, "inc-1") == ["Tue 2026-03-24 16:10 CET", "Wed 2026-03-25 09:10 CET"]
    assert [p for _, p, _, _ in paged(eng, "inc-1", began)] == [0, 1]


def test_after_an_acknowledgement_a_level_that_does_not_stop_still_counts_in_its_window():
    began = berlin("2026-03-24 17:00")
    eng, clock = engine(began)
    eng.register_policy(
        policy(
            "p",
            level(0, user(ONCALL)),
            level(20, user("manager@example.com")),
            level(45, user(LEAD), delay_counts_during="business", stop_on_ack=False),  # a follow-up
        )
    )
    eng.start_escalation(incident("inc-1", began), "p")
    clock.advance(minutes=5)
    eng.acknowledge_escalation("inc-1", ONCALL)
    eng.run_until(began + timedelta(days=1))
    # 17:20 plus 45 business minutes: 10 today, 35 tomorrow -> 09:35; the manager's level stopped at the ack.
    assert fired_at(eng, "inc-1") == ["Tue 2026-03-24 17:00 CET", "Wed 2026-03-25 09:35 CET"]


def test_a_counted_delay_and_a_during_condition_agree_on_the_pages_time():
    began = berlin("2026-03-27 23:00")
    eng, _ = engine(began)
    eng.register_policy(
        policy("p", level(30, user(ONCALL), delay_counts_during="business", when=when(during="business")))
    )
    eng.start_escalation(incident("inc-1", began, severity="P3"), "p")
    eng.run_until(began + timedelta(days=4))
    assert fired_at(eng, "inc-1") == ["Mon 2026-03-30 09:30 CEST"]


def test_a_restarted_engine_keeps_the_counted_due_time():
    began = berlin("2026-03-27 23:00")
    eng, clock = engine(began)
    eng.register_policy(p3_policy())
    eng.start_escalation(incident("inc-1", began, severity="P3"), "p3")
    clock.advance(hours=30)
    config = tocsin.Config(working_hours={"business": BUSINESS}, policies=(p3_policy(),))
    again = tocsin.EscalationEngine(plugins(), eng.store, clock=tocsin.ManualClock(clock.now()), config=config)
    assert again.next_due_at() == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    again.run_until(began + timedelta(days=4))
    assert fired_at(again, "inc-1") == ["Mon 2026-03-30 09:30 CEST"]
