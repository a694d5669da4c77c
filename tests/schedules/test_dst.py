"""Daylight saving time: handoffs stay at their wall-clock times in America/New_York and Europe/Berlin.

2026 changes: New York springs forward on Sunday March 8 (02:00 EST -> 03:00 EDT, 07:00 UTC) and falls
back on Sunday November 1 (02:00 EDT -> 01:00 EST, 06:00 UTC). Berlin springs forward on Sunday March 29
(02:00 CET -> 03:00 CEST, 01:00 UTC) and falls back on Sunday October 25 (03:00 CEST -> 02:00 CET, 01:00 UTC).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.schedules import at, layer, resolver, shift_table, who

USERS = ["a", "b", "c"]
DAILY_9 = {"type": "daily", "handoff_hour": 9}
WEEKLY_MONDAY_9 = {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9}
CUSTOM_12 = {"type": "custom", "duration_hours": 12}
DAILY_0230 = {"type": "daily", "handoff_hour": 2, "handoff_minute": 30}


def entry_at(schedule, instant):
    (entry,) = schedule.oncall_at(at(instant))
    return entry.user, entry.shift_start.isoformat(), entry.shift_end.isoformat()


def hours(schedule, instant):
    (entry,) = schedule.oncall_at(at(instant))
    return (entry.shift_end - entry.shift_start) / timedelta(hours=1)


# -- daily 09:00 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "before", "after", "shift"),
    [
        (
            "America/New_York",
            "2026-03-06T09:00:00",
            "2026-03-08T12:59:59Z",  # 08:59:59 EDT
            "2026-03-08T13:00:00Z",  # 09:00 EDT
            ("b", "2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00"),
        ),
        (
            "Europe/Berlin",
            "2026-03-27T09:00:00",
            "2026-03-29T06:59:59Z",
            "2026-03-29T07:00:00Z",  # 09:00 CEST
            ("b", "2026-03-28T09:00:00+01:00", "2026-03-29T09:00:00+02:00"),
        ),
    ],
)
def test_daily_nine_oclock_handoff_stays_at_nine_when_clocks_spring_forward(zone, start, before, after, shift):
    schedule = resolver(layer("L", USERS, DAILY_9, start=start), timezone=zone)
    assert who(schedule, before) == ["b"]
    assert who(schedule, after) == ["c"]
    assert entry_at(schedule, before) == shift
    assert hours(schedule, before) == 23


@pytest.mark.parametrize(
    ("zone", "start", "during"),
    [
        ("America/New_York", "2026-10-30T09:00:00", "2026-11-01T05:30:00Z"),
        ("Europe/Berlin", "2026-10-23T09:00:00", "2026-10-25T00:30:00Z"),
    ],
)
def test_daily_nine_oclock_shift_across_fall_back_lasts_twenty_five_hours(zone, start, during):
    schedule = resolver(layer("L", USERS, DAILY_9, start=start), timezone=zone)
    assert hours(schedule, during) == 25
    user, begins, ends = entry_at(schedule, during)
    assert (user, begins[11:19], ends[11:19]) == ("b", "09:00:00", "09:00:00")


# -- weekly Monday 09:00 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "during", "shift", "length"),
    [
        ("America/New_York", "2026-03-08T12:00:00Z", ("2026-03-02T09:00:00-05:00", "2026-03-09T09:00:00-04:00"), 167),
        ("Europe/Berlin", "2026-03-29T12:00:00Z", ("2026-03-23T09:00:00+01:00", "2026-03-30T09:00:00+02:00"), 167),
        ("America/New_York", "2026-11-01T12:00:00Z", ("2026-10-26T09:00:00-04:00", "2026-11-02T09:00:00-05:00"), 169),
        ("Europe/Berlin", "2026-10-25T12:00:00Z", ("2026-10-19T09:00:00+02:00", "2026-10-26T09:00:00+01:00"), 169),
    ],
)
def test_weekly_monday_nine_oclock_handoff_keeps_its_wall_clock_time(zone, during, shift, length):
    schedule = resolver(layer("L", USERS, WEEKLY_MONDAY_9, start="2026-01-05T09:00:00"), timezone=zone)
    assert entry_at(schedule, during)[1:] == shift
    assert hours(schedule, during) == length


def test_weekly_handoff_happens_at_nine_local_on_the_monday_after_the_change():
    schedule = resolver(layer("L", USERS, WEEKLY_MONDAY_9, start="2026-01-05T09:00:00"))
    before, after = who(schedule, "2026-03-09T12:59:59Z"), who(schedule, "2026-03-09T13:00:00Z")  # 09:00 EDT
    assert before != after


# -- custom 12 hours ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "night", "day"),
    [
        (
            "America/New_York",
            "2026-03-07T21:00:00",
            ("a", "2026-03-07T21:00:00-05:00", "2026-03-08T09:00:00-04:00"),
            ("b", "2026-03-08T09:00:00-04:00", "2026-03-08T21:00:00-04:00"),
        ),
        (
            "Europe/Berlin",
            "2026-03-28T21:00:00",
            ("a", "2026-03-28T21:00:00+01:00", "2026-03-29T09:00:00+02:00"),
            ("b", "2026-03-29T09:00:00+02:00", "2026-03-29T21:00:00+02:00"),
        ),
    ],
)
def test_custom_twelve_hour_shifts_step_in_wall_clock_hours(zone, start, night, day):
    schedule = resolver(layer("L", USERS, CUSTOM_12, start=start), timezone=zone)
    low, high = at(night[1]), at(day[2])
    assert shift_table(schedule.shifts(low, high)) == [(night[0], "L", *night[1:]), (day[0], "L", *day[1:])]
    assert hours(schedule, night[1]) == 11  # the night the clock jumps is an hour shorter


def test_custom_twelve_hours_with_a_handoff_inside_the_gap_hands_off_when_the_clock_jumps():
    schedule = resolver(layer("L", USERS, CUSTOM_12, start="2026-03-07T14:30:00"))
    shifts = schedule.shifts(at("2026-03-07T14:30:00-05:00"), at("2026-03-09T02:30:00-04:00"))
    assert shift_table(shifts) == [
        ("a", "L", "2026-03-07T14:30:00-05:00", "2026-03-08T03:00:00-04:00"),  # 02:30 does not exist
        ("b", "L", "2026-03-08T03:00:00-04:00", "2026-03-08T14:30:00-04:00"),
        ("c", "L", "2026-03-08T14:30:00-04:00", "2026-03-09T02:30:00-04:00"),
    ]


# -- a 02:30 handoff on the spring-forward day -------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "jump", "next_day"),
    [
        ("America/New_York", "2026-03-07T02:30:00", "2026-03-08T07:00:00Z", "2026-03-09T02:30:00-04:00"),
        ("Europe/Berlin", "2026-03-28T02:30:00", "2026-03-29T01:00:00Z", "2026-03-30T02:30:00+02:00"),
    ],
)
def test_a_handoff_inside_the_spring_forward_gap_happens_when_the_clock_jumps(zone, start, jump, next_day):
    schedule = resolver(layer("L", USERS, DAILY_0230, start=start), timezone=zone)
    jumped = at(jump)
    assert schedule.users_at(jumped - timedelta(seconds=1)) == ["a"]
    assert schedule.users_at(jumped) == ["b"]
    (entry,) = schedule.oncall_at(jumped)
    assert (entry.shift_start, entry.shift_end) == (jumped, at(next_day))
    assert entry.shift_start.strftime("%H:%M") == "03:00"  # local: the first minute after the jump
    assert schedule.next_handoff(jumped - timedelta(hours=3)) == jumped


def test_a_shift_squeezed_to_nothing_by_the_gap_still_counts():
    # Hourly from midnight: the 02:00 shift (c's) does not exist on March 8, so c is skipped that once
    # and the rotation stays on its wall-clock pattern (03:00 is shift 3: a).
    schedule = resolver(layer("L", USERS, {"type": "hourly"}, start="2026-03-08T00:00:00"))
    shifts = schedule.shifts(at("2026-03-08T00:00:00-05:00"), at("2026-03-08T06:00:00-04:00"))
    assert shift_table(shifts) == [
        ("a", "L", "2026-03-08T00:00:00-05:00", "2026-03-08T01:00:00-05:00"),
        ("b", "L", "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"),
        ("a", "L", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"),
        ("b", "L", "2026-03-08T04:00:00-04:00", "2026-03-08T05:00:00-04:00"),
        ("c", "L", "2026-03-08T05:00:00-04:00", "2026-03-08T06:00:00-04:00"),
    ]


# -- the repeated hour -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "rotation", "start", "first", "second"),
    [
        ("America/New_York", {"type": "daily", "handoff_hour": 1, "handoff_minute": 30}, "2026-10-31T01:30:00",
         "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"),
        ("Europe/Berlin", DAILY_0230, "2026-10-24T02:30:00", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
    ],
)  # fmt: skip
def test_an_ambiguous_handoff_time_means_its_first_occurrence(zone, rotation, start, first, second):
    schedule = resolver(layer("L", USERS, rotation, start=start), timezone=zone)
    assert schedule.users_at(at(first) - timedelta(seconds=1)) == ["a"]
    assert schedule.users_at(at(first)) == ["b"]
    assert schedule.users_at(at(second)) == ["b"]  # the clock shows the handoff time again: no second handoff
    assert hours(schedule, first) == 25


def test_an_hourly_shift_in_the_repeated_hour_lasts_two_real_hours():
    schedule = resolver(layer("L", USERS, {"type": "hourly"}, start="2026-11-01T00:00:00"))
    shifts = schedule.shifts(at("2026-11-01T00:00:00-04:00"), at("2026-11-01T03:00:00-05:00"))
    assert shift_table(shifts) == [
        ("a", "L", "2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00"),
        ("b", "L", "2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00"),
        ("c", "L", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"),
    ]


# -- restrictions and overrides on the wall clock ----------------------------------------------------------


def test_a_night_window_across_the_jump_is_an_hour_shorter():
    nights = {"days_of_week": [6], "start_hour": 22, "end_hour": 6}
    schedule = resolver(layer("L", ["n"], WEEKLY_MONDAY_9, restrictions=nights))
    shifts = schedule.shifts(at("2026-03-07T12:00:00-05:00"), at("2026-03-08T12:00:00-04:00"))
    assert shift_table(shifts) == [("n", "L", "2026-03-07T22:00:00-05:00", "2026-03-08T06:00:00-04:00")]
    assert (shifts[0].end - shifts[0].start) == timedelta(hours=7)


def test_a_local_override_starting_inside_the_gap_starts_when_the_clock_jumps():
    cover = {"user": "cover", "start": "2026-03-08T02:30:00", "end": "2026-03-08T05:00:00"}
    schedule = resolver(layer("L", USERS, DAILY_9, start="2026-03-06T09:00:00"), overrides=[cover])
    assert who(schedule, "2026-03-08T06:59:59Z") == ["b"]
    assert entry_at(schedule, "2026-03-08T07:00:00Z") == (
        "cover",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T05:00:00-04:00",
    )


def test_local_times_given_without_offset_follow_the_same_rules():
    schedule = resolver(layer("L", USERS, DAILY_9, start="2026-03-06T09:00:00"))
    from datetime import datetime

    assert schedule.localize(datetime(2026, 3, 8, 2, 30)).isoformat() == "2026-03-08T03:00:00-04:00"
    assert schedule.localize(datetime(2026, 11, 1, 1, 30)).isoformat() == "2026-11-01T01:30:00-04:00"
