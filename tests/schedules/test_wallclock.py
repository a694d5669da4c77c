"""tocsin.wallclock: wall-clock seconds, weekday names, and the DST rules checked against zoneinfo itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.wallclock import (
    UnknownTimeZoneError,
    load_zone,
    parse_weekday,
    seconds,
    wall_datetime,
    wall_seconds,
    weekday,
)

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # half-hour DST
    "Pacific/Apia",  # skipped a whole day in 2011
    "Africa/Casablanca",  # DST suspended every Ramadan
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
]


def first_occurrence_or_jump(zone_name: str, local: datetime) -> datetime:
    """The rule, computed the slow way with zoneinfo: an existing time's first occurrence; a time in a gap
    happens at the first instant whose local time is later."""
    zone = load_zone(zone_name).tzinfo
    candidate = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == local:
        return candidate
    low, high = candidate - timedelta(days=2), candidate + timedelta(days=2)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return high


local_times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)


@settings(deadline=None, max_examples=500)
@given(st.sampled_from(ZONES), local_times)
def test_a_wall_clock_time_becomes_its_first_occurrence_or_the_jump(zone_name, local):
    zone = load_zone(zone_name)
    expected = first_occurrence_or_jump(zone_name, local)
    assert zone.instant(wall_seconds(local)) == seconds(expected)
    assert zone.localize(local) == expected


@settings(deadline=None, max_examples=500)
@given(st.sampled_from(ZONES), local_times, st.integers(-3 * 3600, 3 * 3600))
def test_an_instant_is_past_a_wall_clock_time_exactly_when_its_reading_is(zone_name, local, offset):
    zone = load_zone(zone_name)
    wall = wall_seconds(local)
    instant = zone.instant(wall) + offset
    assert (instant >= zone.instant(wall)) == (zone.wall(instant) >= wall)


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(ZONES), st.datetimes(min_value=datetime(1990, 1, 1), timezones=st.just(UTC)))
def test_outside_the_repeated_hour_the_reading_is_the_local_clock(zone_name, moment):
    zone = load_zone(zone_name)
    local = moment.astimezone(zone.tzinfo)
    if local.fold == 0:
        assert wall_datetime(zone.wall(seconds(moment))) == local.replace(tzinfo=None, microsecond=0)
    assert zone.datetime(seconds(moment)) == moment.replace(microsecond=0)
    assert zone.datetime(seconds(moment)).utcoffset() == local.utcoffset()


def test_in_the_repeated_hour_the_reading_stays_just_below_its_end():
    zone = load_zone("America/New_York")
    second_one_fifteen = seconds(datetime(2026, 11, 1, 6, 15, tzinfo=UTC))  # 01:15 EST, after 01:15 EDT
    assert wall_datetime(zone.wall(second_one_fifteen)) == datetime(2026, 11, 1, 1, 59, 59)


def test_seconds_round_down_exactly():
    assert seconds(datetime(2026, 1, 1, 8, 59, 59, 999999, tzinfo=UTC)) == seconds(
        datetime(2026, 1, 1, 8, 59, 59, tzinfo=UTC)
    )
    assert seconds(datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)) == -1


@pytest.mark.parametrize(("name", "day"), [("Sunday", 0), ("mon", 1), ("TUE", 2), ("Wednesday", 3), ("sat", 6)])
def test_weekday_names(name, day):
    assert parse_weekday(name) == day


def test_an_unknown_weekday_name_says_what_would_do():
    with pytest.raises(ValueError, match="expected a day name such as Monday or mon, got 'Funday'"):
        parse_weekday("Funday")


def test_weekday_numbers_start_on_sunday():
    assert weekday(wall_seconds(datetime(2026, 1, 4))) == 0  # a Sunday
    assert weekday(wall_seconds(datetime(2026, 1, 10, 23, 59))) == 6


@pytest.mark.parametrize("name", ["Mars/Olympus", "America/NewYork", "", "../etc/passwd", "America"])
def test_unknown_time_zones_are_named_in_the_error(name):
    with pytest.raises(UnknownTimeZoneError, match="unknown time zone"):
        load_zone(name)


def test_a_near_miss_gets_a_suggestion():
    with pytest.raises(UnknownTimeZoneError, match="did you mean 'America/New_York'"):
        load_zone("America/NewYork")
