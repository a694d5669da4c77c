"""Rotations that choose who: the follow_the_sun built-in (regions with their own users and handoff times) and a
rotation written by a plugin that keeps its own user list. Written with tocsin's own pytest fixtures."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tocsin
from tocsin.rotation import PeriodicRotation
from tocsin.wallclock import HOUR

REGIONS = [
    {"name": "apac", "handoff_hour": 22, "users": ["kenji@example.com", "mei@example.com"]},
    {"name": "emea", "handoff_hour": 6, "users": ["ana@example.com", "ben@example.com"]},
    {"name": "amer", "handoff_hour": 14, "users": ["cal@example.com"]},
]
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def sun_layer(regions=REGIONS, **rotation) -> dict:
    return {
        "name": "sun",
        "start": "2026-03-02T00:00:00",
        "rotation": {"type": "follow_the_sun", "regions": regions, **rotation},
    }


def resolver(config: tocsin.Config, registry: tocsin.Registry) -> tocsin.ScheduleResolver:
    return tocsin.compile_schedule(config.schedules[0], registry)


def shifts(resolver: tocsin.ScheduleResolver, start: datetime, hours: int) -> list[tuple[str, str]]:
    return [
        (shift.start.strftime("%a %H:%M"), shift.user)
        for shift in resolver.shifts(start, start + timedelta(hours=hours))
    ]


def test_each_region_holds_the_pager_from_its_handoff_until_the_next_regions(tocsin_config, tocsin_plugins):
    config = tocsin_config.schedule(id="global", timezone="UTC", layers=[sun_layer()]).build()
    assert shifts(resolver(config, tocsin_plugins.registry), MONDAY, 31) == [
        ("Mon 00:00", "kenji@example.com"),  # shift 0: apac's window that began on Sunday 22:00
        ("Mon 06:00", "ana@example.com"),
        ("Mon 14:00", "cal@example.com"),
        ("Mon 22:00", "kenji@example.com"),
        ("Tue 06:00", "ana@example.com"),
    ]


def test_within_a_region_the_users_take_turns_every_rotate_days_of_its_windows(tocsin_config, tocsin_plugins):
    config = tocsin_config.schedule(id="global", timezone="UTC", layers=[sun_layer(rotate_days=7)]).build()
    week_two = shifts(resolver(config, tocsin_plugins.registry), MONDAY + timedelta(days=6), 48)
    assert week_two == [
        ("Sun 00:00", "kenji@example.com"),
        ("Sun 06:00", "ana@example.com"),  # emea's 7th window since the start: still ana's
        ("Sun 14:00", "cal@example.com"),  # amer has one user: always cal
        ("Sun 22:00", "kenji@example.com"),  # apac's 7th window since the start
        ("Mon 06:00", "ben@example.com"),  # emea's 8th window: ben's turn
        ("Mon 14:00", "cal@example.com"),
        ("Mon 22:00", "mei@example.com"),
    ]


def test_handoffs_stay_at_their_local_times_across_a_dst_change(tocsin_config, tocsin_plugins):
    regions = [
        {"name": "day", "handoff_hour": 8, "users": ["ana@example.com"]},
        {"name": "night", "handoff_hour": 20, "users": ["ben@example.com"]},
    ]
    config = tocsin_config.schedule(id="eu", timezone="Europe/Berlin", layers=[sun_layer(regions)]).build()
    # Berlin springs forward on Sunday 2026-03-29: 08:00 local is 07:00 UTC before and 06:00 UTC after.
    found = resolver(config, tocsin_plugins.registry).shifts(
        datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 30, 12, tzinfo=UTC)
    )
    assert [(shift.start.isoformat(), shift.user) for shift in found] == [
        ("2026-03-28T13:00:00+01:00", "ana@example.com"),
        ("2026-03-28T20:00:00+01:00", "ben@example.com"),
        ("2026-03-29T08:00:00+02:00", "ana@example.com"),
        ("2026-03-29T20:00:00+02:00", "ben@example.com"),
        ("2026-03-30T08:00:00+02:00", "ana@example.com"),
    ]


@settings(max_examples=60, deadline=None)
@given(instant=st.datetimes(datetime(2026, 3, 2), datetime(2046, 3, 2), timezones=st.just(UTC)))
def test_who_is_on_call_years_on_is_the_region_whose_window_holds_the_time(instant):
    plugins = tocsin.load_plugins(autoload=False)
    document = {"schedules": [{"id": "g", "timezone": "UTC", "layers": [sun_layer(rotate_days=3)]}]}
    found = tocsin.compile_schedule(tocsin.parse_config(document, plugins.registry).schedules[0], plugins.registry)
    hour = instant.hour
    region = REGIONS[1] if 6 <= hour < 14 else REGIONS[2] if 14 <= hour < 22 else REGIONS[0]
    window_day = (instant - timedelta(hours=22)).date() if region is REGIONS[0] else instant.date()
    first_day = {"apac": datetime(2026, 3, 2).date(), "emea": datetime(2026, 3, 2).date()}.get(region["name"])
    turns = max((window_day - first_day).days, 0) // 3 if first_day else 0
    users = region["users"]
    (entry,) = found.oncall_at(instant)
    assert entry.user == users[turns % len(users)]
    assert entry.shift_start <= instant < entry.shift_end


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (
            {"users": ["ana@example.com"]},
            "$.schedules[0].layers[0].users: rotation 'follow_the_sun' chooses who holds each shift: "
            "leave out the layer's users",
        ),
        (
            {"rotation": {"type": "follow_the_sun", "regions": [REGIONS[0], {**REGIONS[1], "handoff_hour": 22}]}},
            "$.schedules[0].layers[0].rotation.regions[1].handoff_hour: 'apac' hands over at the same time",
        ),
        (
            {"rotation": {"type": "follow_the_sun", "regions": []}},
            "$.schedules[0].layers[0].rotation.regions: must not be empty",
        ),
        (
            {"rotation": {"type": "follow_the_sun", "regions": [{**REGIONS[0], "users": []}]}},
            "$.schedules[0].layers[0].rotation.regions[0].users: must not be empty",
        ),
    ],
)
def test_a_follow_the_sun_mistake_is_reported_at_its_path(tocsin_config, change, fault):
    assert tocsin_config.schedule(id="g", layers=[{**sun_layer(), **change}]).faults() == [fault]


def test_a_policy_paging_the_schedule_pages_the_region_on_call(tocsin_config, tocsin_pager, tocsin_clock):
    tocsin_config.schedule(id="global", timezone="UTC", layers=[sun_layer()])
    tocsin_config.policy(id="p", levels=[{"targets": [{"type": "schedule", "schedule_id": "global"}]}])
    tocsin_clock.set(datetime(2026, 3, 9, 15, 0, tzinfo=UTC))  # amer's window
    pager = tocsin_pager()
    pager.start("p")
    assert pager.sender.take() == [(0, 0, "cal@example.com", "log")]
    pager.advance(hours=12)
    pager.sender.assert_no_more()


# --- a rotation of a plugin's own, that keeps its own users ----------------------------------------------


@attrs.frozen(kw_only=True)
class WeightedRotation:
    """Daily shifts; each user holds as many days in a row as their weight."""

    type: ClassVar[str] = "weighted"
    weights: dict[str, int]


@attrs.frozen
class WeightedShifts:
    periodic: tocsin.rotation.Handoffs
    turns: tuple[str, ...]

    def index(self, wall: int) -> int:
        return self.periodic.index(wall)

    def handoff(self, index: int) -> int:
        return self.periodic.handoff(index)

    def holder(self, index: int) -> str:
        return self.turns[index % len(self.turns)]


DAILY_AT_9 = PeriodicRotation(24 * HOUR, 9 * HOUR)


@attrs.frozen
class Weighted:
    turns: tuple[str, ...]
    daily: PeriodicRotation = DAILY_AT_9

    def first_handoff(self, at_or_after: int) -> int:
        return self.daily.first_handoff(at_or_after)

    def anchor(self, start: int) -> WeightedShifts:
        return WeightedShifts(self.daily.anchor(start), self.turns)


def compile_weighted(settings: WeightedRotation) -> Weighted:
    return Weighted(tuple(user for user, weight in settings.weights.items() for _ in range(weight)))


weighted = types.ModuleType("tocsin_weighted")
weighted.tocsin_register_rotations = tocsin.hookimpl(
    lambda register: register(WeightedRotation, compile=compile_weighted)
)
sys.modules.setdefault("tocsin_weighted", weighted)


@pytest.mark.tocsin_plugins(weighted, autoload=False)
def test_a_plugin_rotation_chooses_who_from_its_own_list(tocsin_config, tocsin_plugins):
    layer = {
        "name": "w",
        "start": "2026-03-02T09:00:00",
        "rotation": {"type": "weighted", "weights": {"ana@example.com": 2, "ben@example.com": 1}},
    }
    config = tocsin_config.schedule(id="w", timezone="UTC", layers=[layer]).build()
    found = resolver(config, tocsin_plugins.registry).shifts(MONDAY + timedelta(hours=9), MONDAY + timedelta(days=4))
    assert [(shift.start.strftime("%a"), shift.user) for shift in found] == [
        ("Mon", "ana@example.com"),  # two days in a row: merged into one shift
        ("Wed", "ben@example.com"),
        ("Thu", "ana@example.com"),
    ]


@pytest.mark.tocsin_plugins(weighted, autoload=False)
@pytest.mark.parametrize(
    ("weights", "fault"),
    [
        ({"": 1}, "rotation 'weighted' says shift 0 is held by '', not a user"),
        (
            {"ana@example.com": 0},
            "plugin 'tocsin_weighted': rotation 'weighted' raised ZeroDivisionError: integer modulo by zero",
        ),
    ],
)
def test_a_rotation_that_cannot_say_who_is_reported_when_the_config_loads(tocsin_config, weights, fault):
    layer = {"name": "w", "rotation": {"type": "weighted", "weights": weights}}
    assert tocsin_config.schedule(id="w", layers=[layer]).faults() == [f"$.schedules[0].layers[0].rotation: {fault}"]


@given(
    seconds=st.lists(st.integers(0, 24 * 3600 - 1), min_size=1, max_size=5, unique=True).map(sorted),
    wall=st.integers(-(10**9), 10**10),
)
def test_times_of_day_put_every_wall_clock_time_in_the_window_that_holds_it(seconds, wall):
    times = tocsin.rotation.TimesOfDay(tuple(seconds))
    window = times.window(wall)
    assert times.begins(window) <= wall < times.begins(window + 1)
    assert times.first_handoff(wall) in (times.begins(window), times.begins(window + 1))
    assert times.first_handoff(wall) >= wall
