"""Every store keeps what operators change at run time the same way: overrides made through the API (a swap's
two together), incident notes, heartbeat states under compare-and-set, maintenance windows ended early, and the
incidents they held; each survives a restart and is undone with the atomic block it was written in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from support.store import START, STORE_KINDS, Stores, open_stores

import tocsin
from tocsin.models import MaintenanceMatch, OnEnd
from tocsin.store import (
    HeartbeatState,
    IncidentNote,
    MaintenanceWindow,
    ScheduleOverride,
    Suppression,
    WindowSource,
)

HOUR = timedelta(hours=1)


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path) -> Iterator[Stores]:
    yield from open_stores(request.param, tmp_path, request)


def override(override_id: str, start_hours: int, end_hours: int, **fields) -> ScheduleOverride:
    fields.setdefault("schedule_id", "primary")
    fields.setdefault("user", "eng3@example.com")
    return ScheduleOverride(
        id=override_id,
        start=START + start_hours * HOUR,
        end=START + end_hours * HOUR,
        created_at=START,
        **fields,
    )


def window(window_id: str, start_hours: int, end_hours: int, **fields) -> MaintenanceWindow:
    return MaintenanceWindow(
        id=window_id, start=START + start_hours * HOUR, end=START + end_hours * HOUR, created_at=START, **fields
    )


def test_overrides_come_back_in_the_order_made_within_the_bounds_asked(stores: Stores):
    operations = stores.operations
    first = override("a", 1, 3, layer="Primary", note="cover me", created_by="eng1@example.com")
    operations.add_overrides([first, override("b", 2, 4, swap_id="s1"), override("c", 5, 6, swap_id="s1")])
    operations.add_overrides([override("d", 0, 9, schedule_id="other")])
    assert [o.id for o in operations.overrides("primary")] == ["a", "b", "c"]
    assert operations.overrides("primary")[0] == first
    assert [o.id for o in operations.overrides("primary", ending_after=START + 3 * HOUR)] == ["b", "c"]
    assert [o.id for o in operations.overrides("primary", starting_before=START + 2 * HOUR)] == ["a"]
    within = operations.overrides("primary", ending_after=START + 3 * HOUR, starting_before=START + 5 * HOUR)
    assert [o.id for o in within] == ["b"]
    assert operations.override("d").schedule_id == "other" and operations.override("nope") is None


def test_an_override_id_is_stored_once_and_a_refused_batch_stores_nothing(stores: Stores):
    operations = stores.operations
    operations.add_overrides([override("a", 1, 2)])
    with pytest.raises(tocsin.StaleStateError, match="'a' is already stored"), stores.escalations.atomic():
        operations.add_overrides([override("b", 1, 2), override("a", 3, 4)])
    assert [o.id for o in operations.overrides("primary")] == ["a"]


def test_an_override_is_cut_short_or_deleted(stores: Stores):
    operations = stores.operations
    operations.add_overrides([override("a", 1, 5), override("b", 2, 3)])
    cut = operations.cut_override("a", START + 2 * HOUR)
    assert cut.end == START + 2 * HOUR and operations.override("a") == cut
    assert operations.cut_override("nope", START) is None
    assert operations.delete_override("b") is True
    assert operations.delete_override("b") is False
    assert [o.id for o in operations.overrides("primary")] == ["a"]


def test_notes_are_kept_per_incident_oldest_first(stores: Stores):
    operations = stores.operations
    for minute, text in ((0, "looking"), (5, "rolled back")):
        operations.add_note(
            IncidentNote(id=f"n{minute}", incident_id="inc-1", at=START + timedelta(minutes=minute), text=text)
        )
    operations.add_note(IncidentNote(id="x", incident_id="inc-2", at=START, by="eng2@example.com", text="other"))
    assert [note.text for note in operations.notes("inc-1")] == ["looking", "rolled back"]
    assert operations.notes("inc-2")[0].by == "eng2@example.com"
    assert operations.notes("inc-3") == []


def test_a_heartbeat_state_is_compare_and_set_on_its_version(stores: Stores):
    operations = stores.operations
    armed = HeartbeatState(name="backup", armed_at=START, due_at=START + 25 * HOUR)
    operations.save_heartbeat(armed, expected_version=None)
    with pytest.raises(tocsin.StaleStateError):
        operations.save_heartbeat(armed, expected_version=None)  # another instance armed it first
    missed = HeartbeatState(
        name="backup", armed_at=START, due_at=START + 50 * HOUR, incident_id="hb-1", misses=1, version=2
    )
    operations.save_heartbeat(missed, expected_version=1)
    with pytest.raises(tocsin.StaleStateError):
        operations.save_heartbeat(
            HeartbeatState(name="backup", armed_at=START, due_at=START, version=2), expected_version=1
        )
    assert operations.heartbeat("backup") == missed
    operations.save_heartbeat(HeartbeatState(name="api-ping", armed_at=START, due_at=START), expected_version=None)
    assert [state.name for state in operations.heartbeats()] == ["api-ping", "backup"]
    assert operations.heartbeat("nope") is None


def test_maintenance_windows_are_listed_while_they_hold_incidents_and_end_early_once(stores: Stores):
    operations = stores.operations
    deploy = window(
        "w1",
        0,
        2,
        match=MaintenanceMatch(labels={"env": "staging"}, source="ci", integration="alerts"),
        on_end=OnEnd.DROP,
        reason="deploy",
        created_by="ops",
    )
    operations.add_window(deploy)
    operations.add_window(window("w2", 1, 5, source=WindowSource.CONFIG))
    with pytest.raises(tocsin.StaleStateError):
        operations.add_window(window("w1", 0, 1))
    assert operations.window("w1") == deploy
    assert [w.id for w in operations.windows()] == ["w1", "w2"]
    assert [w.id for w in operations.windows(closing_after=START + 3 * HOUR)] == ["w2"]
    ended = operations.end_window("w2", START + 2 * HOUR, "ops")
    assert (ended.ended_at, ended.ended_by, ended.closes) == (START + 2 * HOUR, "ops", START + 2 * HOUR)
    assert operations.end_window("w2", START + 3 * HOUR, "someone else") == ended  # already closed then
    assert operations.windows(closing_after=START + 2 * HOUR) == []
    assert operations.end_window("nope", START, None) is None


def test_suppressions_say_which_window_held_an_incident(stores: Stores):
    operations = stores.operations
    held = Suppression(incident_id="inc-1", window_id="w1", at=START, until=START + HOUR, on_end=OnEnd.ESCALATE)
    operations.add_suppression(held)
    operations.add_suppression(
        Suppression(incident_id="inc-2", window_id="w1", at=START, until=START, on_end=OnEnd.DROP)
    )
    operations.add_suppression(
        Suppression(incident_id="inc-3", window_id="w2", at=START, until=START, on_end=OnEnd.DROP)
    )
    assert operations.suppression("inc-1") == held and operations.suppression("nope") is None
    assert [s.incident_id for s in operations.suppressions("w1")] == ["inc-1", "inc-2"]


def test_everything_written_survives_a_restart(stores: Stores):
    operations = stores.operations
    operations.add_overrides([override("a", 1, 2)])
    operations.add_note(IncidentNote(id="n", incident_id="inc-1", at=START, text="hello"))
    operations.save_heartbeat(HeartbeatState(name="backup", armed_at=START, due_at=START), expected_version=None)
    operations.add_window(window("w1", 0, 1))
    reopened = stores.reopen().operations
    assert reopened.override("a") == override("a", 1, 2)
    assert [note.text for note in reopened.notes("inc-1")] == ["hello"]
    assert reopened.heartbeat("backup").version == 1
    assert reopened.window("w1").end == START + HOUR


def test_a_block_that_rolls_back_undoes_what_was_written_in_it(stores: Stores):
    operations = stores.operations
    operations.add_overrides([override("kept", 1, 2)])
    operations.save_heartbeat(HeartbeatState(name="backup", armed_at=START, due_at=START), expected_version=None)
    with pytest.raises(RuntimeError), stores.escalations.atomic():
        operations.add_overrides([override("a", 1, 2)])
        operations.cut_override("kept", START + 90 * timedelta(minutes=1))
        operations.add_note(IncidentNote(id="n", incident_id="inc-1", at=START, text="hello"))
        operations.save_heartbeat(
            HeartbeatState(name="backup", armed_at=START, due_at=START, version=2), expected_version=1
        )
        operations.add_window(window("w1", 0, 1))
        operations.add_suppression(
            Suppression(incident_id="inc-1", window_id="w1", at=START, until=START, on_end=OnEnd.DROP)
        )
        raise RuntimeError("the request failed later on")
    assert [o.id for o in operations.overrides("primary")] == ["kept"]
    assert operations.override("kept").end == START + 2 * HOUR
    assert operations.notes("inc-1") == []
    assert operations.heartbeat("backup").version == 1
    assert operations.window("w1") is None and operations.suppression("inc-1") is None
