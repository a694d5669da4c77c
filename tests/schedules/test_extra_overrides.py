"""A schedule handed extra overrides (those made at run time) counts them after its own: where they overlap a
configured override the extra one wins, a layer override replaces only that layer, and the schedule without
them answers as before."""

from __future__ import annotations

import pytest
from support.schedules import at, layer, resolver, shift_table, who

import tocsin

WEEKLY = {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9}


@pytest.fixture
def schedule() -> tocsin.ScheduleResolver:
    return resolver(
        layer("Day", ["a@x", "b@x"], WEEKLY, start="2026-03-02T09:00:00"),
        layer("Night", ["n@x"], WEEKLY, start="2026-03-02T09:00:00"),
        overrides=[{"user": "c@x", "start": "2026-03-03T09:00:00", "end": "2026-03-03T12:00:00"}],
    )


def test_an_extra_override_wins_over_a_configured_one_where_they_overlap(schedule):
    extra = tocsin.Override(user="d@x", start=at("2026-03-03T10:00:00-05:00"), end=at("2026-03-03T11:00:00-05:00"))
    merged = schedule.with_overrides([extra])
    assert who(merged, "2026-03-03T09:30:00-05:00") == ["c@x"]
    assert who(merged, "2026-03-03T10:30:00-05:00") == ["d@x"]
    assert who(merged, "2026-03-03T11:30:00-05:00") == ["c@x"]
    assert who(schedule, "2026-03-03T10:30:00-05:00") == ["c@x"]  # the schedule itself is unchanged
    assert shift_table(merged.shifts(at("2026-03-03T09:00:00-05:00"), at("2026-03-03T13:00:00-05:00"))) == [
        ("c@x", "override", "2026-03-03T09:00:00-05:00", "2026-03-03T10:00:00-05:00"),
        ("d@x", "override", "2026-03-03T10:00:00-05:00", "2026-03-03T11:00:00-05:00"),
        ("c@x", "override", "2026-03-03T11:00:00-05:00", "2026-03-03T12:00:00-05:00"),
        ("a@x", "Day", "2026-03-03T12:00:00-05:00", "2026-03-03T13:00:00-05:00"),
        ("n@x", "Night", "2026-03-03T12:00:00-05:00", "2026-03-03T13:00:00-05:00"),
    ]


def test_an_extra_layer_override_replaces_that_layer_only(schedule):
    extra = tocsin.Override(
        user="d@x", start=at("2026-03-04T09:00:00-05:00"), end=at("2026-03-05T09:00:00-05:00"), layer="Night"
    )
    assert who(schedule.with_overrides([extra]), "2026-03-04T12:00:00-05:00") == ["a@x", "d@x"]


def test_no_extra_overrides_is_the_schedule_itself_and_an_unknown_layer_is_named(schedule):
    assert schedule.with_overrides([]) is schedule
    wrong = tocsin.Override(
        user="d@x", start=at("2026-03-04T09:00:00-05:00"), end=at("2026-03-05T09:00:00-05:00"), layer="Evening"
    )
    with pytest.raises(tocsin.ScheduleError, match="schedule 's': override for 'd@x' names unknown layer 'Evening'"):
        schedule.with_overrides([wrong])
    assert schedule.layer_names() == ["Day", "Night"]
