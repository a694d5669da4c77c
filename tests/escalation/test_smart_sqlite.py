"""Smart escalation state survives a restart on the SQLite store: a rotation in progress, the acknowledgements
an ``ack_mode: all`` level has so far, a snooze, and the round-robin cursor. Every test compares all pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.escalation import plugins
from support.smart import BUSINESS, berlin, incident, level, paged, policy, team, user, when

import tocsin

START = berlin("2026-03-24 14:00")
A, B, C, LEAD = "a@example.com", "b@example.com", "c@example.com", "lead@example.com"


def config() -> tocsin.Config:
    return tocsin.Config(
        teams={"team": (A, B, C)},
        working_hours={"business": BUSINESS},
        policies=(
            policy(
                "rotate",
                level(0, team("team"), round_robin=tocsin.RoundRobin(rotate_after_minutes=5)),
                level(30, user(LEAD), when=when(during="business")),
            ),
            policy("everyone", level(0, team("team"), ack_mode="all"), level(30, user(LEAD))),
            policy("plain", level(0, user(A)), level(5, user(LEAD))),
        ),
    )


def open_engine(path: Path, minutes: float) -> tuple[tocsin.EscalationEngine, tocsin.SQLiteStore]:
    clock = tocsin.ManualClock(START + timedelta(minutes=minutes))
    store = tocsin.SQLiteStore(path, plugins().registry, clock=clock)
    return tocsin.EscalationEngine(plugins(), store, clock=clock, config=config()), store


def test_a_rotation_and_its_cursor_carry_on_after_a_restart(tmp_path):
    path = tmp_path / "tocsin.db"
    eng, store = open_engine(path, 0)
    eng.start_escalation(incident("inc-1", START), "rotate")
    eng.run_until(START + timedelta(minutes=6))
    store.close()
    again, store = open_engine(path, 6)
    again.run_until(START + timedelta(hours=1))
    assert paged(again, "inc-1", START) == [(0, 0, 0, A), (5, 0, 0, B), (10, 0, 0, C), (30, 0, 1, LEAD)]
    again.start_escalation(incident("inc-2", START + timedelta(hours=1)), "rotate")
    assert paged(again, "inc-2", START)[0][3] == B  # the cursor was stored: the next rotation starts with B
    store.close()


def test_acknowledgements_so_far_and_a_snooze_carry_on_after_a_restart(tmp_path):
    path = tmp_path / "tocsin.db"
    eng, store = open_engine(path, 0)
    eng.start_escalation(incident("inc-1", START), "everyone")
    eng.acknowledge_escalation("inc-1", A)
    eng.start_escalation(incident("inc-2", START), "plain")
    eng.acknowledge_escalation("inc-2", A)
    eng.snooze("inc-2", 20, by=A)
    store.close()
    again, store = open_engine(path, 1)
    state = again.get_escalation_state("inc-1")
    assert (state.acks, state.awaiting_acks) == ((A,), (B, C))
    assert again.get_escalation_state("inc-2").snoozed_until == START + timedelta(minutes=20)
    again.acknowledge_escalation("inc-1", B)
    assert again.acknowledge_escalation("inc-1", C).status is tocsin.EscalationStatus.ACKNOWLEDGED
    again.run_until(START + timedelta(hours=1))
    assert paged(again, "inc-1", START) == [(0, 0, 0, A), (0, 0, 0, B), (0, 0, 0, C)]
    assert paged(again, "inc-2", START) == [(0, 0, 0, A), (20, 0, 0, A), (25, 0, 1, LEAD)]
    store.close()
