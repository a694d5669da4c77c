"""Every level fired and nobody answered: the escalation is exhausted (status ``completed``), stays open, and can
still be acknowledged, snoozed, escalated, resolved and cancelled; ``on_exhausted`` says whether it pages again."""

from __future__ import annotations

import pytest
from support.escalation import START, at, engine, incident, level, page_times, pages, plugins, policy, user

import tocsin

COMPLETED = tocsin.EscalationStatus.COMPLETED


@pytest.fixture
def clock() -> tocsin.ManualClock:
    return tocsin.ManualClock(START)


def two_levels(**fields: object) -> tocsin.EscalationPolicy:
    return policy("p", level(0, user("oncall@x")), level(5, user("lead@x")), **fields)


def exhausted_engine(clock: tocsin.ManualClock, **fields: object) -> tocsin.EscalationEngine:
    eng = engine(clock)
    eng.register_policy(two_levels(**fields))
    eng.start_escalation(incident(), "p")
    eng.run_until(at(5))
    state = eng.get_escalation_state("inc-1")
    assert (state.status, state.exhausted, state.open) == (COMPLETED, True, True)
    return eng


def test_whoever_the_last_level_paged_can_still_acknowledge(clock):
    eng = exhausted_engine(clock)
    eng.run_until(at(30))
    state = eng.acknowledge_escalation("inc-1", "lead@x")
    assert (state.status, state.acknowledged_by, state.exhausted) == (
        tocsin.EscalationStatus.ACKNOWLEDGED,
        "lead@x",
        False,
    )
    assert state.ended_at is None
    (completed,) = [e for e in state.events if e.kind == "completed"]
    assert completed.detail.startswith("exhausted: every level fired and nobody acknowledged")
    (acked,) = [e for e in state.events if e.kind == "acknowledged"]
    assert "after every level fired (exhausted)" in acked.detail
    eng.run_until(at(600))
    assert page_times(eng) == [0, 5]  # acknowledging pages nobody


def test_an_exhausted_escalation_blocks_a_second_one_and_resolves_and_cancels(clock):
    eng = exhausted_engine(clock)
    with pytest.raises(tocsin.EscalationActiveError, match="exhausted"):
        eng.start_escalation(incident(), "p")
    assert eng.resolve_escalation("inc-1", by="lead@x").status is tocsin.EscalationStatus.RESOLVED
    other = exhausted_engine(tocsin.ManualClock(START))
    state = other.cancel_escalation("inc-1")
    assert (state.status, state.open, state.exhausted) == (tocsin.EscalationStatus.CANCELLED, False, False)


def test_stay_pages_nobody_more_and_escalate_starts_over(clock):
    eng = exhausted_engine(clock)
    eng.run_until(at(60))
    assert page_times(eng) == [0, 5]
    state = eng.escalate_now("inc-1", by="lead@x")
    assert (state.status, state.pass_number) == (tocsin.EscalationStatus.ACTIVE, 1)
    eng.run_until(at(600))
    assert [(minute, level) for minute, _, level, _ in pages(eng)] == [(0, 0), (5, 1), (60, 0), (65, 1)]
    assert eng.get_escalation_state("inc-1").exhausted


def test_repeat_last_pages_the_last_level_until_someone_answers(clock):
    eng = exhausted_engine(clock, on_exhausted=tocsin.OnExhausted(action="repeat_last", interval_minutes=15))
    eng.run_until(at(36))
    assert [(minute, level, who) for minute, _, level, who in pages(eng)] == [
        (0, 0, "oncall@x"),
        (5, 1, "lead@x"),
        (20, 1, "lead@x"),
        (35, 1, "lead@x"),
    ]
    state = eng.get_escalation_state("inc-1")
    assert state.status is COMPLETED and state.next_due_at == at(50) and state.next_level == 1
    assert len({d.notification.key for d in state.deliveries}) == 4  # each repeat has its own key
    assert [e.kind for e in state.events].count("exhausted_page") == 2
    eng.acknowledge_escalation("inc-1", "lead@x")
    eng.run_until(at(600))
    assert page_times(eng) == [0, 5, 20, 35]


def test_repeat_last_takes_the_policy_repeat_interval_when_it_has_one(clock):
    eng = engine(clock)
    eng.register_policy(
        two_levels(
            repeat=tocsin.RepeatConfig(max_repeats=1, interval_minutes=10),
            on_exhausted=tocsin.OnExhausted(action="repeat_last"),
        )
    )
    eng.start_escalation(incident(), "p")
    eng.run_until(at(40))
    assert page_times(eng) == [0, 5, 15, 20, 30, 40]


def test_repeat_last_without_an_interval_is_refused():
    with pytest.raises(tocsin.FieldError, match="repeat_last needs interval_minutes"):
        two_levels(on_exhausted=tocsin.OnExhausted(action="repeat_last"))


def test_page_pages_its_targets_once_after_the_last_level_and_again_on_escalate(clock):
    rule = tocsin.OnExhausted(action="page", page=(user("director@x"),), after_minutes=10)
    eng = exhausted_engine(clock, on_exhausted=rule)
    eng.run_until(at(120))
    assert [(minute, level, who) for minute, _, level, who in pages(eng)] == [
        (0, 0, "oncall@x"),
        (5, 1, "lead@x"),
        (15, 2, "director@x"),
    ]
    clock.advance(minutes=1)
    eng.escalate_now("inc-1", by="oncall@x")
    assert [who for _, _, _, who in pages(eng)][-1] == "director@x"
    assert len(pages(eng)) == 4
    assert eng.get_escalation_state("inc-1").status is COMPLETED


def test_snoozing_an_exhausted_escalation_acknowledges_it_and_it_pages_the_last_level_when_the_snooze_ends(clock):
    eng = exhausted_engine(clock)
    clock.set(at(10))
    state = eng.snooze("inc-1", 30, by="lead@x")
    assert (state.status, state.acknowledged_by, state.snoozed_until) == (
        tocsin.EscalationStatus.ACKNOWLEDGED,
        "lead@x",
        at(40),
    )
    eng.run_until(at(300))
    assert page_times(eng) == [0, 5, 40]
    assert eng.get_escalation_state("inc-1").exhausted
    assert [e.kind for e in eng.get_escalation_state("inc-1").events][-1] == "completed"


def test_an_exhausted_escalation_on_sqlite_is_picked_up_after_a_restart_and_keeps_repeating(tmp_path, clock):
    path = tmp_path / "tocsin.db"
    rule = tocsin.OnExhausted(action="repeat_last", interval_minutes=15)
    with tocsin.SQLiteStore(path, plugins().registry) as store:
        first = tocsin.EscalationEngine(plugins(), store, clock=clock)
        first.register_policy(two_levels(on_exhausted=rule))
        first.start_escalation(incident(), "p")
        first.run_until(at(21))
    with tocsin.SQLiteStore(path, plugins().registry) as store:
        second = tocsin.EscalationEngine(plugins(), store, clock=clock)
        second.register_policy(two_levels(on_exhausted=rule))
        assert second.active_count() == 1
        second.run_until(at(36))
        assert page_times(second) == [0, 5, 20, 35]
        second.acknowledge_escalation("inc-1", "lead@x")
        assert second.get_escalation_state("inc-1").status is tocsin.EscalationStatus.ACKNOWLEDGED


def test_on_exhausted_reads_its_short_forms_from_a_config():
    registry = plugins().registry
    config = tocsin.parse_config(
        {
            "policies": [
                {"id": "a", "levels": [{"targets": [{"type": "user", "email": "a@x"}]}], "on_exhausted": "stay"},
                {
                    "id": "b",
                    "levels": [{"targets": [{"type": "user", "email": "a@x"}]}],
                    "on_exhausted": {"action": "repeat_last", "interval_minutes": 30},
                },
                {
                    "id": "c",
                    "levels": [{"targets": [{"type": "user", "email": "a@x"}]}],
                    "on_exhausted": {"page": {"type": "user", "email": "boss@x"}, "after_minutes": 5},
                },
            ]
        },
        registry,
        source="t.yaml",
    )
    a, b, c = (policy.on_exhausted for policy in config.policies)
    assert a.action is tocsin.ExhaustedAction.STAY
    assert (b.action, b.interval_minutes) == (tocsin.ExhaustedAction.REPEAT_LAST, 30)
    assert (c.action, c.after_minutes, [t.email for t in c.page]) == (tocsin.ExhaustedAction.PAGE, 5, ["boss@x"])
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(
            {
                "policies": [
                    {
                        "id": "d",
                        "levels": [{"targets": [{"type": "user", "email": "a@x"}]}],
                        "on_exhausted": "repeat_last",
                    },
                    {"id": "e", "levels": [{"targets": [{"type": "user", "email": "a@x"}]}], "on_exhausted": "shout"},
                ]
            },
            registry,
            source="t.yaml",
        )
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(
        "t.yaml: $.policies[0].on_exhausted.interval_minutes: repeat_last needs interval_minutes"
    )
    assert lines[1].startswith("t.yaml: $.policies[1].on_exhausted.action: expected one of stay, repeat_last, page")
    assert len(lines) == 2
