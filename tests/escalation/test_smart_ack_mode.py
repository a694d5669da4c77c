"""``ack_mode: all``: the escalation is acknowledged only when everyone paged at the current level has
acknowledged; until then it keeps escalating. Every test compares the complete list of pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.escalation import plugins
from support.smart import berlin, engine, events_of, incident, level, paged, policy, schedule, team, user, when

import tocsin

START = berlin("2026-03-24 14:00")
SEC1, SEC2, SEC3, LEAD = "sec1@example.com", "sec2@example.com", "sec3@example.com", "lead@example.com"


@pytest.fixture
def eng() -> tocsin.EscalationEngine:
    built, _ = engine(START)
    built.executor().register_team("security", [SEC1, SEC2, SEC3])
    built.register_policy(
        policy("all-hands", level(0, team("security"), ack_mode="all"), level(10, user(LEAD)), level(10, user("cto@x")))
    )
    return built


def at(minutes: float):
    return START + timedelta(minutes=minutes)


def test_one_acknowledgement_of_three_is_not_enough_and_the_escalation_goes_on(eng):
    eng.start_escalation(incident("inc-1", START), "all-hands")
    eng.clock.set(at(2))
    state = eng.acknowledge_escalation("inc-1", SEC1)
    assert state.status is tocsin.EscalationStatus.ACTIVE
    assert (state.acks, state.awaiting_acks) == ((SEC1,), (SEC2, SEC3))
    eng.run_until(at(15))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, SEC1), (0, 0, 0, SEC2), (0, 0, 0, SEC3), (10, 0, 1, LEAD)]
    (received,) = events_of(eng, "inc-1", "ack_received")
    assert (received.by, received.level, received.detail) == (
        SEC1,
        0,
        f"1 of 3 acknowledged; waiting for {SEC2}, {SEC3}",
    )


def test_the_last_acknowledgement_acknowledges_the_escalation(eng):
    eng.start_escalation(incident("inc-1", START), "all-hands")
    for minute, person in ((1, SEC2), (2, SEC1), (3, SEC3)):
        eng.clock.set(at(minute))
        state = eng.acknowledge_escalation("inc-1", person)
    assert state.status is tocsin.EscalationStatus.ACKNOWLEDGED
    assert (state.acknowledged_by, state.acknowledged_at, state.awaiting_acks) == (SEC3, at(3), ())
    assert events_of(eng, "inc-1", "acknowledged")[0].detail == "all 3 paged at level 0 acknowledged"
    eng.run_until(at(120))
    assert [address for _, _, _, address in paged(eng, "inc-1", START)] == [SEC1, SEC2, SEC3]


def test_someone_who_was_not_paged_does_not_count(eng):
    eng.start_escalation(incident("inc-1", START), "all-hands")
    eng.clock.set(at(1))
    state = eng.acknowledge_escalation("inc-1", "intern@example.com")
    assert state.status is tocsin.EscalationStatus.ACTIVE
    assert state.acks == ()
    (received,) = events_of(eng, "inc-1", "ack_received")
    assert received.detail == (
        f"intern@example.com was not paged at level 0; 0 of 3 acknowledged; waiting for {SEC1}, {SEC2}, {SEC3}"
    )


def test_acknowledging_twice_counts_once(eng):
    eng.start_escalation(incident("inc-1", START), "all-hands")
    eng.acknowledge_escalation("inc-1", SEC1)
    state = eng.acknowledge_escalation("inc-1", SEC1)
    assert (state.status, state.acks) == (tocsin.EscalationStatus.ACTIVE, (SEC1,))


def test_the_next_level_decides_from_then_on(eng):
    eng.start_escalation(incident("inc-1", START), "all-hands")
    eng.acknowledge_escalation("inc-1", SEC1)
    eng.run_until(at(11))  # the lead's level (ack_mode first) fired at 10m
    state = eng.acknowledge_escalation("inc-1", LEAD)
    assert state.status is tocsin.EscalationStatus.ACKNOWLEDGED
    assert state.acks == ()
    eng.run_until(at(120))
    assert [(m, lv) for m, _, lv, _ in paged(eng, "inc-1", START)] == [(0, 0), (0, 0), (0, 0), (10, 1)]


def test_a_skipped_level_leaves_the_wait_for_the_level_that_paged():
    eng, _ = engine(START)
    eng.executor().register_team("security", [SEC1, SEC2])
    eng.register_policy(
        policy(
            "p",
            level(0, team("security"), ack_mode="all"),
            level(5, user(LEAD), when=when(outside="business")),  # 14:05: skipped
            level(30, user("cto@x")),
        )
    )
    eng.start_escalation(incident("inc-1", START), "p")
    eng.run_until(at(6))
    eng.acknowledge_escalation("inc-1", SEC1)
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACTIVE
    state = eng.acknowledge_escalation("inc-1", SEC2)
    assert state.status is tocsin.EscalationStatus.ACKNOWLEDGED
    eng.run_until(at(120))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, SEC1), (0, 0, 0, SEC2)]


def test_a_repeat_pages_everyone_again_and_waits_for_everyone_again():
    eng, _ = engine(START)
    eng.executor().register_team("security", [SEC1, SEC2])
    eng.register_policy(
        policy(
            "p",
            level(0, team("security"), ack_mode="all"),
            repeat=tocsin.RepeatConfig(max_repeats=2, interval_minutes=10),
        )
    )
    eng.start_escalation(incident("inc-1", START), "p")
    eng.acknowledge_escalation("inc-1", SEC1)
    eng.run_until(at(11))
    state = eng.acknowledge_escalation("inc-1", SEC2)
    assert (state.status, state.acks, state.awaiting_acks) == (tocsin.EscalationStatus.ACTIVE, (SEC2,), (SEC1,))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, SEC1), (0, 0, 0, SEC2), (10, 1, 0, SEC1), (10, 1, 0, SEC2)]


def test_only_people_can_acknowledge_so_a_webhook_is_not_waited_for():
    eng, _ = engine(START)
    webhook = plugins().registry.targets.get("webhook").cls
    eng.register_policy(
        policy(
            "p",
            level(0, user(SEC1), webhook(url="https://hooks.example.com/soc"), ack_mode="all"),
            level(9, user(LEAD)),
        )
    )
    state = eng.start_escalation(incident("inc-1", START), "p")
    assert state.awaiting_acks == (SEC1,)
    assert eng.acknowledge_escalation("inc-1", SEC1).status is tocsin.EscalationStatus.ACKNOWLEDGED
    assert [d.notification.recipient.address for d in state.deliveries] == [SEC1, "https://hooks.example.com/soc"]


def test_when_the_level_reached_nobody_the_first_acknowledgement_counts():
    eng, _ = engine(START)
    eng.executor().register_schedule(
        tocsin.OnCallSchedule(
            id="nights",
            layers=(
                tocsin.ScheduleLayer(
                    name="n",
                    users=(SEC1,),
                    rotation=plugins().registry.rotations.get("daily").cls(handoff_hour=0),
                    restrictions=(tocsin.TimeRestrictions(start_hour=22, end_hour=6),),
                ),
            ),
        )
    )
    eng.register_policy(policy("p", level(0, schedule("nights"), ack_mode="all"), level(30, user(LEAD))))
    state = eng.start_escalation(incident("inc-1", START), "p")  # 13:00 UTC: nobody on call
    assert state.awaiting_acks == ()
    assert eng.acknowledge_escalation("inc-1", LEAD).status is tocsin.EscalationStatus.ACKNOWLEDGED
    assert paged(eng, "inc-1", START) == []


def test_a_restarted_engine_remembers_who_acknowledged(eng):
    eng.start_escalation(incident("inc-1", START), "all-hands")
    eng.acknowledge_escalation("inc-1", SEC1)
    config = tocsin.Config(
        teams={"security": (SEC1, SEC2, SEC3)},
        policies=(eng.get_policy("all-hands"),),
    )
    again = tocsin.EscalationEngine(plugins(), eng.store, clock=tocsin.ManualClock(at(1)), config=config)
    assert again.get_escalation_state("inc-1").acks == (SEC1,)
    again.acknowledge_escalation("inc-1", SEC2)
    assert again.acknowledge_escalation("inc-1", SEC3).status is tocsin.EscalationStatus.ACKNOWLEDGED
