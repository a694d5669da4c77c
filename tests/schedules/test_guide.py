"""The guide's schedules, resolution modes, restrictions and overrides, through the public Python API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import attrs
import pytest
from support.schedules import at, builtin_registry, layer, resolver, shift_table, who

import tocsin

WEEKLY_MONDAY_9 = {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9}
DAILY_MIDNIGHT = {"type": "daily", "handoff_hour": 0}
BUSINESS_HOURS = {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 9, "end_hour": 17}


def primary(**more):
    """The guide's Primary layer: three engineers, weekly on Monday 09:00, Mon-Fri 9-17."""
    users = ["engineer1@example.com", "engineer2@example.com", "engineer3@example.com"]
    options = {"start": "2026-01-05T09:00:00", "restrictions": BUSINESS_HOURS, **more}
    return layer("Primary", users, WEEKLY_MONDAY_9, **options)


def after_hours(**more):
    """The guide's After Hours layer: two people, daily at midnight, 24/7."""
    users = ["oncall1@example.com", "oncall2@example.com"]
    return layer("After Hours", users, DAILY_MIDNIGHT, **{"start": "2026-01-05T00:00:00", **more})


# -- the guide's two-layer schedule ------------------------------------------------------------------------


def test_business_hours_layer_and_after_hours_layer_both_answer_in_office_hours():
    schedule = resolver(primary(), after_hours())
    assert who(schedule, "2026-01-06T10:00:00-05:00") == ["engineer1@example.com", "oncall2@example.com"]


def test_only_the_24_7_layer_answers_at_night_and_at_weekends():
    schedule = resolver(primary(), after_hours())
    assert who(schedule, "2026-01-06T18:00:00-05:00") == ["oncall2@example.com"]
    assert who(schedule, "2026-01-10T12:00:00-05:00") == ["oncall2@example.com"]  # Saturday, day 5 of the rotation


def test_the_weekly_rotation_moves_on_on_monday_at_nine():
    schedule = resolver(primary(), after_hours())
    assert who(schedule, "2026-01-12T08:59:59-05:00") == ["oncall2@example.com"]  # Monday, before office hours
    assert who(schedule, "2026-01-12T09:00:00-05:00") == ["engineer2@example.com", "oncall2@example.com"]
    assert who(schedule, "2026-01-19T09:00:00-05:00")[0] == "engineer3@example.com"
    assert who(schedule, "2026-01-26T09:00:00-05:00")[0] == "engineer1@example.com"


def test_each_entry_names_its_layer_and_the_shift_it_is_part_of():
    schedule = resolver(primary(), after_hours())
    entries = schedule.oncall_at(at("2026-01-06T10:00:00-05:00"))
    assert [e.as_dict() for e in entries] == [
        {
            "user": "engineer1@example.com",
            "layer": "Primary",
            "shift_start": "2026-01-06T09:00:00-05:00",  # the rotation shift, limited to today's window
            "shift_end": "2026-01-06T17:00:00-05:00",
        },
        {
            "user": "oncall2@example.com",
            "layer": "After Hours",
            "shift_start": "2026-01-06T00:00:00-05:00",
            "shift_end": "2026-01-07T00:00:00-05:00",
        },
    ]


def test_precedence_lets_the_last_active_layer_win():
    schedule = resolver(after_hours(), primary(), resolution="precedence")
    assert who(schedule, "2026-01-06T10:00:00-05:00") == ["engineer1@example.com"]
    assert who(schedule, "2026-01-06T18:00:00-05:00") == ["oncall2@example.com"]
    assert [e.layer for e in schedule.oncall_at(at("2026-01-06T10:00:00-05:00"))] == ["Primary"]


def test_resolution_all_lists_a_person_once_under_the_first_layer_that_has_them():
    both = layer("Backup", ["engineer1@example.com"], DAILY_MIDNIGHT, start="2026-01-05T00:00:00")
    schedule = resolver(primary(), both)
    entries = schedule.oncall_at(at("2026-01-06T10:00:00-05:00"))
    assert [(e.user, e.layer) for e in entries] == [("engineer1@example.com", "Primary")]
    assert [(e.user, e.layer) for e in schedule.oncall_at(at("2026-01-06T18:00:00-05:00"))] == [
        ("engineer1@example.com", "Backup")
    ]


def test_the_final_shifts_of_a_day_combine_both_layers():
    schedule = resolver(primary(), after_hours())
    shifts = schedule.shifts(at("2026-01-06T00:00:00-05:00"), at("2026-01-07T00:00:00-05:00"))
    assert shift_table(shifts) == [
        ("oncall2@example.com", "After Hours", "2026-01-06T00:00:00-05:00", "2026-01-07T00:00:00-05:00"),
        ("engineer1@example.com", "Primary", "2026-01-06T09:00:00-05:00", "2026-01-06T17:00:00-05:00"),
    ]


def test_next_handoff_is_the_next_change_of_who_is_on_call():
    schedule = resolver(primary(), after_hours())
    assert schedule.next_handoff(at("2026-01-06T10:00:00-05:00")) == at("2026-01-06T17:00:00-05:00")
    assert schedule.next_handoff(at("2026-01-06T17:00:00-05:00")) == at("2026-01-07T00:00:00-05:00")


def test_next_handoff_is_none_when_nothing_ever_changes():
    schedule = resolver(layer("Solo", ["solo@example.com"], DAILY_MIDNIGHT))
    assert schedule.next_handoff(at("2026-01-06T10:00:00-05:00")) is None


# -- restrictions ------------------------------------------------------------------------------------------


def test_mon_to_fri_nine_to_five_in_new_york():
    schedule = resolver(primary())
    assert who(schedule, "2026-01-09T16:59:59-05:00") == ["engineer1@example.com"]  # Friday
    assert who(schedule, "2026-01-09T17:00:00-05:00") == []
    assert who(schedule, "2026-01-10T12:00:00-05:00") == []  # Saturday
    assert who(schedule, "2026-01-12T08:59:59-05:00") == []
    assert who(schedule, "2026-01-12T14:00:00Z") == ["engineer2@example.com"]  # 09:00 in New York


def test_gaps_are_the_nights_and_the_weekend_of_a_business_hours_schedule():
    schedule = resolver(primary())
    gaps = schedule.gaps(at("2026-01-08T00:00:00-05:00"), at("2026-01-13T00:00:00-05:00"))
    assert [(g.start.isoformat(), g.end.isoformat()) for g in gaps] == [
        ("2026-01-08T00:00:00-05:00", "2026-01-08T09:00:00-05:00"),
        ("2026-01-08T17:00:00-05:00", "2026-01-09T09:00:00-05:00"),
        ("2026-01-09T17:00:00-05:00", "2026-01-12T09:00:00-05:00"),
        ("2026-01-12T17:00:00-05:00", "2026-01-13T00:00:00-05:00"),
    ]


def test_weekend_days_zero_and_six_cover_saturday_and_sunday_whole():
    weekend = layer("Weekend", ["w@example.com"], DAILY_MIDNIGHT, restrictions={"days_of_week": [0, 6]})
    schedule = resolver(weekend)
    assert who(schedule, "2026-01-09T23:59:59-05:00") == []  # Friday
    assert who(schedule, "2026-01-10T00:00:00-05:00") == ["w@example.com"]
    assert who(schedule, "2026-01-11T23:59:59-05:00") == ["w@example.com"]
    assert who(schedule, "2026-01-12T00:00:00-05:00") == []
    shifts = schedule.shifts(at("2026-01-05T00:00:00-05:00"), at("2026-01-19T00:00:00-05:00"))
    assert shift_table(shifts) == [  # Saturday and Sunday merge into one shift of the same person
        ("w@example.com", "Weekend", "2026-01-10T00:00:00-05:00", "2026-01-12T00:00:00-05:00"),
        ("w@example.com", "Weekend", "2026-01-17T00:00:00-05:00", "2026-01-19T00:00:00-05:00"),
    ]


def test_an_overnight_window_belongs_to_the_day_it_starts():
    friday_night = {"days_of_week": [5], "start_hour": 22, "end_hour": 6}
    schedule = resolver(layer("Nights", ["n@example.com"], DAILY_MIDNIGHT, restrictions=friday_night))
    assert who(schedule, "2026-01-08T23:00:00-05:00") == []  # Thursday night
    assert who(schedule, "2026-01-09T22:00:00-05:00") == ["n@example.com"]  # Friday 22:00
    assert who(schedule, "2026-01-10T05:59:00-05:00") == ["n@example.com"]  # Saturday morning
    assert who(schedule, "2026-01-10T06:00:00-05:00") == []
    assert who(schedule, "2026-01-10T23:00:00-05:00") == []  # Saturday night is not listed


def test_saturday_night_runs_into_sunday_across_the_end_of_the_week():
    saturday_night = {"days_of_week": [6], "start_hour": 22, "start_minute": 30, "end_hour": 6}
    midweek = {"type": "weekly", "handoff_day": "wed", "handoff_hour": 12}
    schedule = resolver(layer("Nights", ["n@example.com"], midweek, restrictions=saturday_night))
    entry = schedule.oncall_at(at("2026-01-11T01:00:00-05:00"))[0]
    assert (entry.shift_start.isoformat(), entry.shift_end.isoformat()) == (
        "2026-01-10T22:30:00-05:00",
        "2026-01-11T06:00:00-05:00",
    )
    assert who(schedule, "2026-01-10T22:29:00-05:00") == []


def test_equal_start_and_end_mean_the_whole_day_from_that_time():
    monday = {"days_of_week": [1], "start_hour": 9, "end_hour": 9}
    schedule = resolver(layer("Day", ["d@example.com"], DAILY_MIDNIGHT, restrictions=monday))
    assert who(schedule, "2026-01-12T08:59:00-05:00") == []
    assert who(schedule, "2026-01-13T08:59:00-05:00") == ["d@example.com"]
    assert who(schedule, "2026-01-13T09:00:00-05:00") == []


def test_several_windows_with_minutes():
    windows = [
        {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 8, "start_minute": 30, "end_hour": 12},
        {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 13, "end_hour": 17, "end_minute": 45},
    ]
    schedule = resolver(layer("Split", ["s@example.com"], DAILY_MIDNIGHT, restrictions=windows))
    assert who(schedule, "2026-01-06T08:29:00-05:00") == []
    assert who(schedule, "2026-01-06T08:30:00-05:00") == ["s@example.com"]
    assert who(schedule, "2026-01-06T12:30:00-05:00") == []
    assert who(schedule, "2026-01-06T17:44:59-05:00") == ["s@example.com"]
    assert who(schedule, "2026-01-06T17:45:00-05:00") == []


# -- layer start -------------------------------------------------------------------------------------------


def test_without_start_a_daily_layer_begins_at_its_first_handoff_in_2020():
    schedule = resolver(layer("L", ["a", "b", "c"], {"type": "daily", "handoff_hour": 9}))
    assert who(schedule, "2020-01-01T08:59:59-05:00") == []
    assert who(schedule, "2020-01-01T09:00:00-05:00") == ["a"]
    assert who(schedule, "2020-01-02T09:00:00-05:00") == ["b"]
    assert who(schedule, "2020-01-04T09:00:00-05:00") == ["a"]


def test_without_start_a_weekly_layer_begins_on_the_first_handoff_day_in_2020():
    schedule = resolver(layer("L", ["a", "b"], WEEKLY_MONDAY_9))
    assert who(schedule, "2020-01-06T08:59:59-05:00") == []  # 2020-01-01 was a Wednesday
    assert who(schedule, "2020-01-06T09:00:00-05:00") == ["a"]
    assert who(schedule, "2020-01-13T09:00:00-05:00") == ["b"]


def test_a_start_between_handoffs_makes_a_short_first_shift():
    schedule = resolver(layer("L", ["a", "b"], {"type": "daily", "handoff_hour": 9}, start="2026-01-05T15:00:00"))
    assert who(schedule, "2026-01-05T14:59:59-05:00") == []
    first = schedule.oncall_at(at("2026-01-05T15:00:00-05:00"))[0]
    assert (first.user, first.shift_start.isoformat(), first.shift_end.isoformat()) == (
        "a",
        "2026-01-05T15:00:00-05:00",
        "2026-01-06T09:00:00-05:00",
    )
    assert who(schedule, "2026-01-06T09:00:00-05:00") == ["b"]


def test_weekly_handoff_day_accepts_short_names_in_any_case():
    for day in ("Monday", "mon", "MON", "monday"):
        schedule = resolver(layer("L", ["a", "b"], {"type": "weekly", "handoff_day": day, "handoff_hour": 9}))
        assert who(schedule, "2026-01-12T09:00:00-05:00") != who(schedule, "2026-01-12T08:59:00-05:00")


# -- overrides ---------------------------------------------------------------------------------------------


def test_an_override_replaces_everyone_for_its_window():
    cover = {"user": "cover@example.com", "start": "2026-01-06T12:00:00", "end": "2026-01-06T20:00:00"}
    schedule = resolver(primary(), after_hours(), overrides=[cover])
    assert who(schedule, "2026-01-06T11:59:59-05:00") == ["engineer1@example.com", "oncall2@example.com"]
    entries = schedule.oncall_at(at("2026-01-06T12:00:00-05:00"))
    assert [e.as_dict() for e in entries] == [
        {
            "user": "cover@example.com",
            "layer": "override",
            "shift_start": "2026-01-06T12:00:00-05:00",
            "shift_end": "2026-01-06T20:00:00-05:00",
        }
    ]
    assert who(schedule, "2026-01-06T20:00:00-05:00") == ["oncall2@example.com"]


def test_a_layer_override_replaces_only_that_layers_user_while_the_layer_is_active():
    cover = {
        "user": "cover@example.com",
        "start": "2026-01-06T12:00:00",
        "end": "2026-01-07T12:00:00",
        "layer": "Primary",
    }
    schedule = resolver(primary(), after_hours(), overrides=[cover])
    entries = schedule.oncall_at(at("2026-01-06T13:00:00-05:00"))
    assert [(e.user, e.layer, e.shift_start.isoformat(), e.shift_end.isoformat()) for e in entries] == [
        ("cover@example.com", "Primary", "2026-01-06T12:00:00-05:00", "2026-01-06T17:00:00-05:00"),
        ("oncall2@example.com", "After Hours", "2026-01-06T00:00:00-05:00", "2026-01-07T00:00:00-05:00"),
    ]
    assert who(schedule, "2026-01-06T18:00:00-05:00") == ["oncall2@example.com"]  # Primary is not active
    assert who(schedule, "2026-01-07T10:00:00-05:00")[0] == "cover@example.com"


def test_a_coming_override_ends_the_current_holders_shift_early():
    cover = {
        "user": "cover@example.com",
        "start": "2026-01-06T14:00:00",
        "end": "2026-01-06T15:00:00",
        "layer": "Primary",
    }
    schedule = resolver(primary(), overrides=[cover])
    (entry,) = schedule.oncall_at(at("2026-01-06T10:00:00-05:00"))
    assert (entry.user, entry.shift_end.isoformat()) == ("engineer1@example.com", "2026-01-06T14:00:00-05:00")
    (entry,) = schedule.oncall_at(at("2026-01-06T16:00:00-05:00"))
    assert (entry.user, entry.shift_start.isoformat()) == ("engineer1@example.com", "2026-01-06T15:00:00-05:00")


def test_where_overrides_overlap_the_later_one_wins():
    overrides = [
        {"user": "first@example.com", "start": "2026-01-06T08:00:00", "end": "2026-01-06T18:00:00"},
        {"user": "second@example.com", "start": "2026-01-06T12:00:00-05:00", "end": "2026-01-06T14:00:00-05:00"},
    ]
    schedule = resolver(after_hours(), overrides=overrides)
    shifts = schedule.shifts(at("2026-01-06T07:00:00-05:00"), at("2026-01-06T19:00:00-05:00"))
    assert shift_table(shifts) == [
        ("oncall2@example.com", "After Hours", "2026-01-06T07:00:00-05:00", "2026-01-06T08:00:00-05:00"),
        ("first@example.com", "override", "2026-01-06T08:00:00-05:00", "2026-01-06T12:00:00-05:00"),
        ("second@example.com", "override", "2026-01-06T12:00:00-05:00", "2026-01-06T14:00:00-05:00"),
        ("first@example.com", "override", "2026-01-06T14:00:00-05:00", "2026-01-06T18:00:00-05:00"),
        ("oncall2@example.com", "After Hours", "2026-01-06T18:00:00-05:00", "2026-01-06T19:00:00-05:00"),
    ]


# -- nobody on call, fallback, inputs ----------------------------------------------------------------------


@attrs.frozen
class PageTheLead:
    type: ClassVar[str] = "lead"


def test_nobody_on_call_is_an_empty_answer():
    schedule = resolver(primary())
    assert schedule.oncall_at(at("2026-01-10T12:00:00-05:00")) == []
    assert schedule.users_at(at("2026-01-10T12:00:00-05:00")) == []
    assert schedule.fallback is None


def test_the_schedules_fallback_target_is_what_an_escalation_uses_then():
    built = resolver(primary()).schedule
    schedule = tocsin.compile_schedule(attrs.evolve(built, fallback=PageTheLead()), builtin_registry())
    assert schedule.users_at(at("2026-01-10T12:00:00-05:00")) == []
    assert schedule.fallback == PageTheLead()


def test_instants_must_be_aware():
    schedule = resolver(primary())
    with pytest.raises(ValueError, match="aware datetime"):
        schedule.users_at(datetime(2026, 1, 6, 10))


def test_answers_do_not_depend_on_the_zone_the_instant_is_given_in():
    schedule = resolver(primary(), after_hours())
    instant = at("2026-01-06T10:00:00-05:00")
    assert schedule.oncall_at(instant) == schedule.oncall_at(instant.astimezone(UTC))
    assert schedule.oncall_at(instant)[0].shift_start.utcoffset() == timedelta(hours=-5)  # schedule-local output


def test_a_schedule_built_in_python_answers_like_one_from_a_file():
    daily = builtin_registry().rotations.get("daily").cls
    built = tocsin.OnCallSchedule(
        id="py",
        timezone="America/New_York",
        layers=(
            tocsin.ScheduleLayer(
                name="After Hours",
                users=("oncall1@example.com", "oncall2@example.com"),
                rotation=daily(handoff_hour=0),
                start=datetime(2026, 1, 5),
            ),
        ),
    )
    schedule = tocsin.compile_schedule(built, builtin_registry())
    assert who(schedule, "2026-01-06T10:00:00-05:00") == who(resolver(after_hours()), "2026-01-06T10:00:00-05:00")


def test_compiling_a_schedule_with_an_unknown_time_zone_is_a_schedule_error():
    built = attrs.evolve(resolver(primary()).schedule, timezone="Mars/Olympus")
    with pytest.raises(tocsin.ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        tocsin.compile_schedule(built, builtin_registry())
