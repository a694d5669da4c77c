"""Errors, policy choice, schedules with nobody on call, downtime catch-up and restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.escalation import (
    START,
    at,
    engine,
    events_of,
    guide_policy,
    incident,
    level,
    page_times,
    pages,
    plugins,
    policy,
    schedule,
    team,
    user,
)

import tocsin


@pytest.fixture
def clock() -> tocsin.ManualClock:
    return tocsin.ManualClock(START)


# --- errors -------------------------------------------------------------------------------------------


def test_actions_on_an_unknown_incident_raise_unknown_incident(clock):
    eng = engine(clock)
    assert eng.get_escalation_state("nope") is None
    for action in (
        lambda: eng.acknowledge_escalation("nope", "a@x"),
        lambda: eng.resolve_escalation("nope"),
        lambda: eng.cancel_escalation("nope"),
        lambda: eng.escalate_now("nope"),
    ):
        with pytest.raises(tocsin.UnknownIncidentError, match="no escalation for incident 'nope'"):
            action()


def test_starting_with_an_unknown_or_disabled_policy_is_refused(clock):
    eng = engine(clock)
    eng.register_policy(guide_policy("off", enabled=False))
    with pytest.raises(tocsin.UnknownPolicyError, match="unknown policy 'ghost'; known: off"):
        eng.start_escalation(incident(), "ghost")
    with pytest.raises(tocsin.PolicyDisabledError, match="policy 'off' is disabled"):
        eng.start_escalation(incident(), "off")
    assert eng.get_escalation_state("inc-1") is None


def test_a_second_escalation_for_an_open_one_is_refused_but_a_new_one_may_follow_an_ended_one(clock):
    eng = engine(clock)
    eng.register_policy(policy("p", level(0, user("a@x")), level(5, user("b@x"))))
    first = eng.start_escalation(incident(), "p")
    with pytest.raises(tocsin.EscalationActiveError, match="already has an active escalation"):
        eng.start_escalation(incident(), "p")
    eng.cancel_escalation("inc-1")
    second = eng.start_escalation(incident(), "p")
    assert second.escalation_id != first.escalation_id
    assert pages(eng) == [(0, 0, 0, "a@x")]  # the new escalation's own pages, under new keys


def test_acknowledging_what_is_not_active_is_refused_with_the_reason(clock):
    eng = engine(clock)
    eng.register_policy(policy("p", level(0, user("a@x")), level(5, user("b@x"))))
    eng.start_escalation(incident(), "p")
    eng.acknowledge_escalation("inc-1", "a@x")
    with pytest.raises(tocsin.EscalationNotActiveError, match="already acknowledged by 'a@x'"):
        eng.acknowledge_escalation("inc-1", "b@x")
    eng.resolve_escalation("inc-1")
    with pytest.raises(tocsin.EscalationNotActiveError, match="the escalation is resolved; it cannot be acknowledged"):
        eng.acknowledge_escalation("inc-1", "b@x")
    with pytest.raises(tocsin.EscalationNotActiveError, match="resolved; it cannot be cancelled"):
        eng.cancel_escalation("inc-1")
    eng.run_until(at(60))
    assert pages(eng) == [(0, 0, 0, "a@x")]


def test_escalating_an_exhausted_escalation_starts_over_at_level_0(clock):
    eng = engine(clock)
    eng.register_policy(policy("p", level(0, user("a@x")), level(5, user("b@x"))))
    eng.start_escalation(incident(), "p")
    eng.escalate_now("inc-1")
    assert eng.get_escalation_state("inc-1").exhausted
    clock.advance(minutes=2)
    state = eng.escalate_now("inc-1", by="lead@x")  # on_exhausted stay: start over
    assert (state.status, state.pass_number, state.current_level) == (tocsin.EscalationStatus.ACTIVE, 1, 0)
    eng.run_until(clock.now() + timedelta(hours=2))
    assert page_times(eng) == [0, 0, 2, 7]
    assert eng.get_escalation_state("inc-1").exhausted


def test_a_policy_with_an_unregistered_target_type_is_refused_with_its_place(clock):
    eng = engine(clock)

    import attrs

    @attrs.frozen
    class Pigeon:
        type = "carrier_pigeon"

    bad = tocsin.EscalationPolicy(id="bad", levels=(level(0, user("a@x")), level(1, Pigeon())))
    with pytest.raises(tocsin.PolicyError, match=r"policy 'bad': levels\[1\]: unknown target 'carrier_pigeon'"):
        eng.register_policy(bad)
    assert eng.get_policy("bad") is None


# --- choosing a policy --------------------------------------------------------------------------------


def test_find_policy_prefers_use_policy_then_priority_then_definition_order(clock):
    eng = engine(clock)
    eng.register_policy(guide_policy("catch-all", priority=0))
    eng.register_policy(guide_policy("p1-a", severity_filter=(tocsin.Severity.P1,), priority=5))
    eng.register_policy(guide_policy("p1-b", severity_filter=(tocsin.Severity.P1,), priority=5))
    eng.register_policy(guide_policy("p1-off", severity_filter=(tocsin.Severity.P1,), priority=99, enabled=False))
    assert eng.find_policy_for_incident(incident(severity="P1")).id == "p1-a"
    assert eng.find_policy_for_incident(incident(severity="P3")).id == "catch-all"
    assert eng.find_policy_for_incident(incident(severity="P1"), "catch-all").id == "catch-all"
    eng.register_policy(guide_policy("p1-a", severity_filter=(tocsin.Severity.P1,), priority=1))
    assert eng.find_policy_for_incident(incident(severity="P1")).id == "p1-b"


# --- schedules ------------------------------------------------------------------------------------------


def _night_schedule(fallback=None) -> tocsin.OnCallSchedule:
    from tocsin.plugins.rotation_daily import DailyRotation

    return tocsin.OnCallSchedule(
        id="primary",
        timezone="UTC",
        layers=(
            tocsin.ScheduleLayer(
                name="Day",
                users=("day1@x", "day2@x"),
                rotation=DailyRotation(handoff_hour=9),
                start=datetime(2026, 1, 5, 9, 0),
                restrictions=(tocsin.TimeRestrictions(start_hour=9, end_hour=17),),
            ),
        ),
        fallback=fallback,
    )


def test_a_schedule_target_pages_whoever_is_on_call_when_the_level_fires(clock):
    eng = engine(tocsin.ManualClock(datetime(2026, 3, 2, 16, 50, tzinfo=UTC)))
    eng.executor().register_schedule(_night_schedule())
    eng.register_policy(policy("p", level(0, schedule("primary")), level(15, schedule("primary"))))
    eng.start_escalation(incident(), "p")
    eng.run_until(datetime(2026, 3, 2, 18, 0, tzinfo=UTC))
    state = eng.get_escalation_state("inc-1")
    assert [d.notification.recipient.address for d in state.deliveries] == ["day1@x"]  # 17:05: nobody
    (unresolved,) = events_of(eng, "unresolved")
    assert unresolved.level == 1
    assert "nobody on call for schedule 'primary'" in unresolved.detail and "no fallback" in unresolved.detail


def test_nobody_on_call_pages_the_schedules_fallback_and_records_it(clock):
    eng = engine(clock)  # 03:00 UTC: outside the Day layer's window
    eng.executor().register_team("night-crew", ["n1@x", "n2@x"])
    eng.executor().register_schedule(_night_schedule(fallback=team("night-crew")))
    eng.register_policy(policy("p", level(0, schedule("primary"))))
    eng.start_escalation(incident(), "p")
    assert pages(eng) == [(0, 0, 0, "n1@x"), (0, 0, 0, "n2@x")]
    (unresolved,) = events_of(eng, "unresolved")
    assert "paged the fallback team target (n1@x, n2@x)" in unresolved.detail


def test_an_unknown_schedule_is_a_recorded_failure(clock):
    eng = engine(clock)
    eng.register_policy(policy("p", level(0, schedule("nope"), user("a@x"))))
    eng.start_escalation(incident(), "p")
    assert pages(eng) == [(0, 0, 0, "a@x")]
    assert "unknown schedule 'nope'" in events_of(eng, "target_failed")[0].detail


# --- downtime and restarts -----------------------------------------------------------------------------


def _guide_engine(clock, store):
    eng = engine(clock, store=store)
    eng.executor().register_team("platform", ["eng1@example.com", "eng2@example.com"])
    eng.register_policy(guide_policy())
    return eng


def test_after_downtime_each_missed_level_fires_once_in_order_marked_late(clock):
    store = tocsin.InMemoryStore()
    first = _guide_engine(clock, store)
    first.start_escalation(incident(), "standard")
    clock.set(at(22))  # down from 0m to 22m: levels 1 (5m) and 2 (15m) were missed
    second = _guide_engine(clock, store)
    assert second.active_count() == 1
    assert second.tick() == 2
    state = second.get_escalation_state("inc-1")
    fired = [(d.notification.level, d.notification.late, d.notification.due_at) for d in state.deliveries]
    assert fired == [(0, False, at(0)), (1, True, at(5)), (2, True, at(15)), (2, True, at(15))]
    assert state.next_due_at == at(35)  # the schedule keeps its anchor: no drift from the downtime
    second.run_until(at(40))
    assert page_times(second)[4:] == [35, 40]


def test_downtime_over_several_passes_fires_each_level_once_at_its_latest_occurrence(clock):
    store = tocsin.InMemoryStore()
    first = _guide_engine(clock, store)
    first.start_escalation(incident(), "standard")
    clock.set(at(60))  # missed: p0 L1 (5), p0 L2 (15), p1 L0 (35), p1 L1 (40), p1 L2 (50)
    second = _guide_engine(clock, store)
    assert second.tick() == 3
    assert pages(second)[1:] == [
        (60, 1, 0, "oncall@example.com"),
        (60, 1, 1, "lead@example.com"),
        (60, 1, 2, "eng1@example.com"),
        (60, 1, 2, "eng2@example.com"),
    ]
    missed = [(event.pass_number, event.level) for event in events_of(second, "missed")]
    assert missed == [(0, 1), (0, 2)]
    assert second.get_escalation_state("inc-1").next_due_at == at(70)


def test_a_restart_delivers_what_was_written_but_never_sent_exactly_once(clock):
    store = tocsin.InMemoryStore()
    first = _guide_engine(clock, store)
    first.start_escalation(incident(), "standard")  # level 0 written to the outbox, never delivered
    sink = tocsin.MemorySink()
    channels = tocsin.ChannelSet(plugins().registry, every_channel=sink)
    second = engine(clock, store=store, channels=channels)
    third = engine(clock, store=store, channels=channels)  # a second instance on the same store

    import asyncio

    async def deliver() -> None:
        await second.outbox.flush()
        await third.outbox.flush()
        await second.outbox.flush()

    asyncio.run(deliver())
    assert [n.recipient.address for n in sink.notifications] == ["oncall@example.com"]
    (delivery,) = second.get_escalation_state("inc-1").deliveries
    assert delivery.status is tocsin.DeliveryStatus.SENT


def test_two_instances_never_both_apply_a_transition(clock):
    store = tocsin.InMemoryStore()
    first = _guide_engine(clock, store)
    first.start_escalation(incident(), "standard")
    second = _guide_engine(clock, store)
    clock.set(at(5))
    assert first.tick() == 1
    assert second.tick() == 0  # its copy was stale: it reloads instead of paging again
    assert second.get_escalation_state("inc-1").version == first.get_escalation_state("inc-1").version
    assert page_times(first) == [0, 5]
    with pytest.raises(tocsin.StaleStateError):
        store.commit(
            store.load("inc-1"),
            expected_version=1,
        )


def test_every_instant_comes_from_the_injected_clock():
    clock = tocsin.ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    eng = engine(clock)
    eng.register_policy(policy("p", level(2, user("a@x"))))
    state = eng.start_escalation(incident(), "p")
    assert state.started_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert state.next_due_at == datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=2)
