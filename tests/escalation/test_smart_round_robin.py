"""Round robin within a level: one recipient at a time, moving on after N minutes without an acknowledgement,
starting where the previous escalation of that policy level left off. Every test compares all pages; those that
need no more than a config and a clock run on tocsin's own pager fixture, the others on the engine itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.escalation import plugins
from support.smart import berlin, engine, events_of, incident, journal, level, paged, policy, team, user

import tocsin

START = berlin("2026-03-24 14:00")
A, B, C, LEAD = "a@example.com", "b@example.com", "c@example.com", "lead@example.com"


def rotating(policy_id: str = "dba", *, rotate: int = 5, lead_after: int = 30, **fields) -> tocsin.EscalationPolicy:
    return policy(
        policy_id,
        level(0, team("dba"), round_robin=tocsin.RoundRobin(rotate_after_minutes=rotate)),
        level(lead_after, user(LEAD)),
        **fields,
    )


@pytest.fixture
def eng() -> tocsin.EscalationEngine:
    built, _ = engine(START)
    built.executor().register_team("dba", [A, B, C])
    built.register_policy(rotating())
    return built


CONFIG = f"""
teams: {{dba: [{A}, {B}, {C}]}}
policies:
  - id: dba
    levels:
      - {{targets: [{{type: team, team_id: dba}}], round_robin: {{rotate_after_minutes: 5}}}}
      - {{delay_minutes: 30, targets: [{{type: user, email: {LEAD}}}]}}
  - id: short
    levels:
      - {{targets: [{{type: team, team_id: dba}}], round_robin: {{rotate_after_minutes: 10}}}}
      - {{delay_minutes: 15, targets: [{{type: user, email: {LEAD}}}]}}
"""


@pytest.fixture
def pager(tocsin_config, tocsin_pager, tocsin_clock):
    """The policies above, paging into tocsin's recording sender, on a manual clock at ``START``."""
    tocsin_clock.set(START)
    return tocsin_pager(tocsin_config.yaml(CONFIG).build())


def test_the_level_pages_one_person_at_a_time_then_the_next_level_takes_over(pager):
    pager.start("dba")
    pager.advance(hours=2)
    assert pager.sender.take() == [(0, 0, A, "log"), (5, 0, B, "log"), (10, 0, C, "log"), (30, 1, LEAD, "log")]
    pager.sender.assert_no_more()
    assert [e.detail for e in events_of(pager.engine, "inc-1", "rotated")] == [
        f"1 recipient(s); round robin step 1: {B}",
        f"1 recipient(s); round robin step 2: {C}",
    ]


def test_an_acknowledgement_stops_the_rotation(pager):
    pager.start("dba")
    pager.advance(minutes=7)
    assert pager.acknowledge(by=B).acknowledged_by == B
    pager.advance(hours=2)
    assert pager.sender.take() == [(0, 0, A, "log"), (5, 0, B, "log")]
    pager.sender.assert_no_more()


def test_successive_incidents_start_with_successive_people(pager):
    for number in range(4):
        pager.start("dba", id=f"inc-{number}")
    assert [page.recipient for page in pager.sender.take()] == [A, B, C, A]
    pager.advance(minutes=12)
    assert [page.recipient for page in pager.pages(["inc-1"])] == [B, C, A]


def test_the_rotation_ends_when_the_next_level_is_due(pager):
    pager.start("short")
    pager.advance(hours=2)
    assert pager.sender.take() == [(0, 0, A, "log"), (10, 0, B, "log"), (15, 1, LEAD, "log")]
    pager.sender.assert_no_more()


def test_each_policy_level_keeps_its_own_cursor(eng):
    eng.register_policy(rotating("other"))
    eng.start_escalation(incident("inc-1", START), "dba")
    eng.start_escalation(incident("inc-2", START), "other")
    eng.start_escalation(incident("inc-3", START), "dba")
    assert [paged(eng, f"inc-{n}", START)[0][3] for n in (1, 2, 3)] == [A, A, B]
    assert [eng.store.next_round_robin("dba", 0, 3), eng.store.next_round_robin("dba", 1, 3)] == [2, 0]


def test_a_rotating_last_level_completes_after_its_last_step():
    eng, _ = engine(START)
    eng.executor().register_team("dba", [A, B, C])
    eng.register_policy(policy("last", level(0, team("dba"), round_robin=tocsin.RoundRobin(rotate_after_minutes=5))))
    eng.start_escalation(incident("inc-1", START), "last")
    eng.run_until(START + timedelta(minutes=9))
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACTIVE
    assert eng.get_escalation_state("inc-1").next_level == 0
    eng.run_until(START + timedelta(hours=1))
    assert paged(eng, "inc-1", START) == [(0, 0, 0, A), (5, 0, 0, B), (10, 0, 0, C)]
    assert journal(eng, "inc-1", START)[-1] == (10, "completed", None)


def test_each_repeat_starts_a_new_rotation(eng):
    eng.register_policy(
        rotating("again", rotate=5, lead_after=20, repeat=tocsin.RepeatConfig(max_repeats=1, interval_minutes=10))
    )
    eng.start_escalation(incident("inc-1", START), "again")
    eng.run_until(START + timedelta(hours=2))
    assert paged(eng, "inc-1", START) == [
        (0, 0, 0, A),
        (5, 0, 0, B),
        (10, 0, 0, C),
        (20, 0, 1, LEAD),
        (30, 1, 0, B),  # the cursor moved on: pass 1 starts with the next person
        (35, 1, 0, C),
        (40, 1, 0, A),
        (50, 1, 1, LEAD),
    ]


def test_a_person_with_several_contacts_is_one_step_of_the_rotation(eng):
    log_contact = plugins().registry.channels.get("log").cls
    webhook_contact = plugins().registry.channels.get("webhook").cls
    eng.executor().register_user(A, contacts=[log_contact(), webhook_contact(url="https://hooks.example.com/a")])
    eng.start_escalation(incident("inc-1", START), "dba")
    eng.run_until(START + timedelta(minutes=6))
    state = eng.get_escalation_state("inc-1")
    assert [(d.notification.recipient.address, d.notification.recipient.channel) for d in state.deliveries] == [
        (A, "log"),
        (A, "webhook"),
        (B, "log"),
    ]


def test_a_restarted_engine_goes_on_with_the_rotation(eng):
    eng.start_escalation(incident("inc-1", START), "dba")
    eng.run_until(START + timedelta(minutes=6))
    config = tocsin.Config(teams={"dba": (A, B, C)}, policies=(rotating(),))
    again = tocsin.EscalationEngine(
        plugins(), eng.store, clock=tocsin.ManualClock(START + timedelta(minutes=6)), config=config
    )
    again.run_until(START + timedelta(hours=1))
    assert paged(again, "inc-1", START) == [(0, 0, 0, A), (5, 0, 0, B), (10, 0, 0, C), (30, 0, 1, LEAD)]


def test_after_downtime_only_the_latest_missed_step_pages(eng):
    eng.start_escalation(incident("inc-1", START), "dba")
    eng.tick(START + timedelta(minutes=20))  # nothing ticked at 5m and 10m
    assert paged(eng, "inc-1", START) == [(0, 0, 0, A), (20, 0, 0, C)]
    (missed,) = events_of(eng, "inc-1", "missed")
    assert (missed.level, missed.late) == (0, True)
    eng.run_until(START + timedelta(hours=1))
    assert paged(eng, "inc-1", START)[2:] == [(30, 0, 1, LEAD)]


def test_a_step_due_before_an_action_happens_before_it(eng):
    eng.start_escalation(incident("inc-1", START), "dba")
    eng.clock.set(START + timedelta(minutes=11))  # no tick since the start
    eng.acknowledge_escalation("inc-1", C)
    eng.run_until(START + timedelta(hours=1))
    # Both steps were due before the acknowledgement, so both page first (B's late: it was due at 5m).
    assert [address for _, _, _, address in paged(eng, "inc-1", START)] == [A, B, C]
    assert [d.notification.late for d in eng.get_escalation_state("inc-1").deliveries] == [False, True, False]
    assert eng.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACKNOWLEDGED


def test_the_memory_store_cursor_counts_per_policy_level():
    store = tocsin.InMemoryStore()
    assert [store.next_round_robin("p", 0, 3) for _ in range(4)] == [0, 1, 2, 0]
    assert store.next_round_robin("p", 0, 2) == 0  # the team shrank: the 5th rotation starts at 4 % 2
    assert store.next_round_robin("p", 1, 3) == 0
    with pytest.raises(ValueError, match="at least one recipient"):
        store.next_round_robin("p", 0, 0)


def test_round_robin_over_nobody_pages_nobody_and_does_not_touch_the_cursor():
    eng, _ = engine(START)
    eng.executor().register_team("empty", [])
    eng.register_policy(
        policy(
            "p", level(0, team("empty"), round_robin=tocsin.RoundRobin(rotate_after_minutes=5)), level(5, user(LEAD))
        )
    )
    eng.start_escalation(incident("inc-1", START), "p")
    eng.run_until(START + timedelta(hours=1))
    assert paged(eng, "inc-1", START) == [(5, 0, 1, LEAD)]
    assert eng.store.next_round_robin("p", 0, 3) == 0
