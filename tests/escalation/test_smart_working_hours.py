"""Working-hours windows: membership, delays counted inside them (DST weekends included), and their config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from support.escalation import plugins
from support.smart import BERLIN, MICROS, berlin, instant, local, micros, window

import tocsin
from tocsin.testing import ConfigBuilder

MINUTE = 60 * MICROS
BUSINESS = (((1, 2, 3, 4, 5), "09:00", "17:30"),)


def test_a_window_includes_its_start_and_not_its_end():
    business = window(*BUSINESS)
    assert business.contains(micros(berlin("2026-03-24 09:00")))
    assert business.contains(micros(berlin("2026-03-24 17:29")))
    assert not business.contains(micros(berlin("2026-03-24 17:30")))
    assert not business.contains(micros(berlin("2026-03-24 08:59")))
    assert not business.contains(micros(berlin("2026-03-28 12:00")))  # a Saturday


def test_an_overnight_interval_belongs_to_the_day_it_starts():
    nights = window(((5,), "22:00", "06:00"))  # Friday night into Saturday morning
    assert nights.contains(micros(berlin("2026-03-20 23:00")))  # Friday
    assert nights.contains(micros(berlin("2026-03-21 05:59")))  # Saturday morning, still Friday night
    assert not nights.contains(micros(berlin("2026-03-20 05:00")))  # Friday morning: Thursday night is not in it
    assert not nights.contains(micros(berlin("2026-03-21 06:00")))


def test_several_intervals_make_one_window():
    split = window(((1, 2, 3, 4, 5), "09:00", "12:00"), ((1, 2, 3, 4, 5), "13:00", "17:00"), ((6,), "10:00", "12:00"))
    inside = ["2026-03-24 11:59", "2026-03-24 13:00", "2026-03-28 10:30"]
    outside = ["2026-03-24 12:30", "2026-03-24 17:00", "2026-03-29 10:30"]
    assert [split.contains(micros(berlin(t))) for t in inside] == [True, True, True]
    assert [split.contains(micros(berlin(t))) for t in outside] == [False, False, False]
    # 30 minutes from 11:45 on a Tuesday: 15 before lunch, 15 after it.
    assert local(instant(split.add(micros(berlin("2026-03-24 11:45")), 30 * MINUTE))) == "Tue 2026-03-24 13:15 CET"


def test_a_delay_counts_only_while_the_window_is_open():
    business = window(*BUSINESS)
    start = micros(berlin("2026-03-24 17:20"))  # Tuesday: 10 minutes left today
    assert local(instant(business.add(start, 30 * MINUTE))) == "Wed 2026-03-25 09:20 CET"
    inside = micros(berlin("2026-03-24 10:00"))
    assert instant(business.add(inside, 30 * MINUTE)) == berlin("2026-03-24 10:30")  # plain minutes inside


def test_a_delay_that_ends_as_the_window_closes_is_due_at_the_close():
    business = window(*BUSINESS)
    assert local(instant(business.add(micros(berlin("2026-03-24 17:00")), 30 * MINUTE))) == "Tue 2026-03-24 17:30 CET"


def test_a_zero_delay_is_due_at_once_inside_and_at_the_next_opening_outside():
    business = window(*BUSINESS)
    inside = micros(berlin("2026-03-24 10:00"))
    assert business.add(inside, 0) == inside
    assert local(instant(business.add(micros(berlin("2026-03-24 17:30")), 0))) == "Wed 2026-03-25 09:00 CET"
    assert local(instant(business.add(micros(berlin("2026-03-28 12:00")), 0))) == "Mon 2026-03-30 09:00 CEST"


def test_a_p3_at_23_00_on_the_friday_before_spring_forward_is_due_at_09_30_cest_on_monday():
    business = window(*BUSINESS)
    due = instant(business.add(micros(berlin("2026-03-27 23:00")), 30 * MINUTE))
    assert local(due) == "Mon 2026-03-30 09:30 CEST"
    assert due == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)  # not 08:30 UTC: the offset changed meanwhile


def test_a_p3_at_23_00_on_the_friday_before_fall_back_is_due_at_09_30_cet_on_monday():
    business = window(*BUSINESS)
    due = instant(business.add(micros(berlin("2026-10-23 23:00")), 30 * MINUTE))
    assert local(due) == "Mon 2026-10-26 09:30 CET"
    assert due == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)


def test_a_night_window_is_an_hour_shorter_when_the_clocks_go_forward():
    nights = window(((6,), "22:00", "06:00"))  # Saturday night; 2026-03-29 02:00 -> 03:00
    start = micros(berlin("2026-03-28 22:00"))
    assert local(instant(nights.add(start, 7 * 60 * MINUTE))) == "Sun 2026-03-29 06:00 CEST"  # 7 real hours
    # Half an hour more than the night holds: it carries over to next Saturday night.
    assert local(instant(nights.add(start, 450 * MINUTE))) == "Sat 2026-04-04 22:30 CEST"


def test_a_night_window_is_an_hour_longer_when_the_clocks_go_back():
    nights = window(((6,), "22:00", "06:00"))  # Saturday night; 2026-10-25 03:00 -> 02:00
    start = micros(berlin("2026-10-24 22:00"))
    due = instant(nights.add(start, 510 * MINUTE))  # 8h30 of real time
    assert local(due) == "Sun 2026-10-25 05:30 CET"
    assert due - instant(start) == timedelta(hours=8, minutes=30)
    assert nights.contains(micros(due - timedelta(minutes=1)))


def test_a_window_that_opens_inside_the_spring_forward_gap_opens_when_the_clock_jumps():
    early = window(((0,), "02:30", "04:00"))  # 02:30 does not exist on 2026-03-29 in Berlin
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
    assert not early.contains(micros(jump) - MICROS)
    assert early.contains(micros(jump))
    assert instant(early.add(micros(berlin("2026-03-29 00:00")), 0)) == jump


def test_a_window_covering_the_whole_week_counts_plain_minutes():
    always = window(((0, 1, 2, 3, 4, 5, 6), "00:00", "00:00"))
    start = micros(berlin("2026-03-28 22:00"))
    assert always.add(start, 600 * MINUTE) == start + 600 * MINUTE
    assert always.contains(start)


def test_describe_shows_the_local_time_and_zone():
    assert window(*BUSINESS).describe(micros(berlin("2026-03-30 09:30"))) == "Mon 2026-03-30 09:30 Europe/Berlin"


def _inside_by_zoneinfo(moment: datetime) -> bool:
    """The oracle for BUSINESS and NIGHTS: read the Berlin wall clock with zoneinfo."""
    wall = moment.astimezone(BERLIN)
    day = (wall.weekday() + 1) % 7  # 0=Sunday
    minute = wall.hour * 60 + wall.minute
    business = day in (1, 2, 3, 4, 5) and 9 * 60 <= minute < 17 * 60 + 30
    yesterday = (day - 1) % 7
    night = (day == 6 and minute >= 22 * 60) or (yesterday == 6 and minute < 6 * 60)
    return business or night


@settings(deadline=None, max_examples=60)
@given(
    start=st.integers(min_value=0, max_value=60 * 24 * 60),  # minutes into a two-month span with both DST changes
    offset=st.sampled_from([0, 30 * 24 * 60 * 7]),
    duration=st.integers(min_value=0, max_value=2000),
)
def test_add_is_the_instant_after_the_last_counted_window_minute(start, offset, duration):
    business_and_nights = window(*BUSINESS, ((6,), "22:00", "06:00"))
    origin = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=offset)
    begin = origin + timedelta(minutes=start)
    due = instant(business_and_nights.add(micros(begin), duration * MINUTE))
    counted, moment = 0, begin
    while True:
        inside = _inside_by_zoneinfo(moment)
        if inside and counted == duration:
            expected = moment  # a zero delay (or the remainder) starts at an open minute
            break
        if inside:
            counted += 1
            if counted == duration:
                expected = moment + timedelta(minutes=1)
                break
        moment += timedelta(minutes=1)
    assert due == expected


# --- config ---------------------------------------------------------------------------------------------


@pytest.fixture
def faults(tocsin_plugins):
    """The lines ``tocsin check smart.yaml`` prints for a document (tocsin's own config builder reads it)."""
    return lambda document: ConfigBuilder(tocsin_plugins.registry).merge(document).faults(source="smart.yaml")


def interval(**fields: object) -> dict:
    return {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:30", **fields}


def test_the_issue_example_loads_into_working_hours():
    document = yaml.safe_load(
        """
        working_hours:
          business: {timezone: Europe/Berlin, intervals: [{days: [1,2,3,4,5], start: "09:00", end: "17:30"}]}
        """
    )
    config = tocsin.parse_config(document, plugins().registry)
    assert config.working_hours == {
        "business": tocsin.WorkingHours(
            timezone="Europe/Berlin",
            intervals=(tocsin.WorkingInterval(days=(1, 2, 3, 4, 5), start="09:00", end="17:30"),),
        )
    }
    assert tocsin.parse_config(tocsin.dump_config(config, plugins().registry), plugins().registry) == config


def test_an_empty_window_is_a_config_error(faults):
    assert faults({"working_hours": {"business": {"intervals": []}}}) == [
        "smart.yaml: $.working_hours['business'].intervals: a working-hours window needs at least one interval"
    ]
    assert faults({"working_hours": {"business": {"timezone": "UTC"}}}) == [
        "smart.yaml: $.working_hours['business'].intervals: required field missing"
    ]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ([1, 7], "unknown day 7: days are 0 (Sunday) to 6 (Saturday)"),
        ([-1], "unknown day -1: days are 0 (Sunday) to 6 (Saturday)"),
        ([], "must name at least one day (0=Sunday … 6=Saturday)"),
    ],
)
def test_a_day_outside_0_to_6_is_a_config_error(faults, days, message):
    assert faults({"working_hours": {"w": {"intervals": [interval(days=days)]}}}) == [
        f"smart.yaml: $.working_hours['w'].intervals[0].days: {message}"
    ]


def test_a_day_name_is_not_a_day_number(faults):
    assert faults({"working_hours": {"w": {"intervals": [interval(days=["Monday"])]}}}) == [
        "smart.yaml: $.working_hours['w'].intervals[0].days[0]: expected an integer, got 'Monday'"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("start", "9am", "expected a time of day HH:MM from 00:00 to 23:59, got '9am'"),
        ("start", "24:00", "expected a time of day HH:MM from 00:00 to 23:59, got '24:00'"),
        ("end", "24:30", "expected a time of day HH:MM from 00:00 to 24:00, got '24:30'"),
        ("end", "17:60", "expected a time of day HH:MM from 00:00 to 24:00, got '17:60'"),
        ("end", "5:30", "expected a time of day HH:MM from 00:00 to 24:00, got '5:30'"),
    ],
)
def test_a_bad_time_of_day_is_a_config_error(faults, field, value, message):
    assert faults({"working_hours": {"w": {"intervals": [interval(**{field: value})]}}}) == [
        f"smart.yaml: $.working_hours['w'].intervals[0].{field}: {message}"
    ]


def test_an_unquoted_yaml_time_is_explained(faults):
    document = yaml.safe_load("working_hours: {w: {intervals: [{days: [1], start: '09:00', end: 17:30}]}}")
    assert faults(document) == [
        "smart.yaml: $.working_hours['w'].intervals[0].end: write times of day in quotes, such as \"09:00\"; "
        "got the number 1050 (YAML reads 17:30 without quotes as a number)"
    ]


def test_24_00_ends_a_day_and_equal_times_mean_the_whole_day():
    config = tocsin.parse_config(
        {
            "working_hours": {
                "w": {"intervals": [interval(end="24:00"), interval(days=[6], start="00:00", end="00:00")]}
            }
        },
        plugins().registry,
    )
    compiled = tocsin.compile_working_hours("w", config.working_hours["w"])  # in UTC, the default zone
    assert compiled.contains(micros(datetime(2026, 3, 24, 23, 59, tzinfo=UTC)))  # Tuesday until midnight
    assert not compiled.contains(micros(datetime(2026, 3, 25, 0, 0, tzinfo=UTC)))
    assert compiled.contains(micros(datetime(2026, 3, 28, 0, 0, tzinfo=UTC)))  # all of Saturday
    assert compiled.contains(micros(datetime(2026, 3, 28, 23, 59, tzinfo=UTC)))
    assert not compiled.contains(micros(datetime(2026, 3, 29, 0, 0, tzinfo=UTC)))


def test_an_unknown_time_zone_is_a_config_error_with_a_suggestion(faults):
    assert faults({"working_hours": {"w": {"timezone": "Europe/Berln", "intervals": [interval()]}}}) == [
        "smart.yaml: $.working_hours['w'].timezone: unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)"
    ]
    with pytest.raises(tocsin.PolicyError, match="working hours 'w': unknown time zone 'Mars/Olympus'"):
        tocsin.EscalationEngine(plugins()).register_working_hours(
            "w", tocsin.WorkingHours(timezone="Mars/Olympus", intervals=(tocsin.WorkingInterval(**interval()),))
        )
