"""Properties of schedule resolution that must hold for any rotation, zone, start and instant."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support.schedules import built_resolver as resolver
from support.schedules import layer

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata", "UTC"]
TICK = timedelta(microseconds=1)

zones = st.sampled_from(ZONES)
days = st.sampled_from(["Sunday", "mon", "TUE", "wednesday", "Thu", "fri", "SATURDAY"])
daily = st.builds(
    lambda h, m: {"type": "daily", "handoff_hour": h, "handoff_minute": m}, st.integers(0, 23), st.integers(0, 59)
)
weekly = st.builds(
    lambda d, h, m: {"type": "weekly", "handoff_day": d, "handoff_hour": h, "handoff_minute": m},
    days,
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
)
custom = st.builds(lambda h: {"type": "custom", "duration_hours": h}, st.integers(1, 72))
rotations = st.one_of(daily, weekly, custom, st.just({"type": "hourly"}))
local_times = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2031, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
instants = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC))
windows = st.fixed_dictionaries(
    {
        "days_of_week": st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True),
        "start_hour": st.integers(0, 23),
        "end_hour": st.integers(0, 24),
        "start_minute": st.sampled_from([0, 30]),
    }
)


def users(count: int) -> list[str]:
    return [f"user{k}@example.com" for k in range(count)]


@st.composite
def layers(draw, index: int) -> dict:
    extra = {}
    if draw(st.booleans()):
        extra["start"] = draw(local_times).isoformat()
    if draw(st.booleans()):
        extra["restrictions"] = draw(st.lists(windows, min_size=1, max_size=3))
    return layer(f"layer{index}", users(draw(st.integers(1, 4))), draw(rotations), **extra)


@st.composite
def schedules(draw):
    count = draw(st.integers(1, 4))
    drawn = [draw(layers(index)) for index in range(count)]
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(local_times)
        override = {"user": f"cover{len(overrides)}@example.com", "start": start.isoformat()}
        override["end"] = (start + timedelta(minutes=draw(st.integers(1, 5000)))).isoformat()
        if draw(st.booleans()):
            override["layer"] = f"layer{draw(st.integers(0, count - 1))}"
        overrides.append(override)
    options = {"resolution": draw(st.sampled_from(["all", "precedence"])), "overrides": overrides}
    return resolver(*drawn, timezone=draw(zones), **options)


def single_layer(zone: str, rotation: dict, start: datetime, count: int):
    return resolver(layer("L", users(count), rotation, start=start.isoformat()), timezone=zone)


@settings(deadline=None, max_examples=300)
@given(zones, rotations, local_times, st.integers(3, 5), instants, st.floats(0, 1))
def test_the_user_is_constant_within_a_shift_and_changes_exactly_at_its_ends(zone, rotation, start, count, t, where):
    schedule = single_layer(zone, rotation, start, count)
    entries = schedule.oncall_at(t)
    if not entries:
        assert t < schedule.localize(start)  # only before the layer starts is nobody on call
        return
    (entry,) = entries
    assert entry.shift_start <= t < entry.shift_end
    inside = entry.shift_start + (entry.shift_end - entry.shift_start - TICK) * where
    for moment in (entry.shift_start, inside, entry.shift_end - TICK):
        assert schedule.users_at(moment) == [entry.user]
    assert schedule.users_at(entry.shift_end) != [entry.user]
    if entry.shift_start > schedule.localize(start):
        assert schedule.users_at(entry.shift_start - TICK) != [entry.user]


@settings(deadline=None, max_examples=200)
@given(zones, rotations, local_times, st.integers(1, 4), instants, st.integers(1, 60 * 24 * 30))
def test_an_unrestricted_layers_shifts_tile_any_range(zone, rotation, start, count, low, minutes):
    schedule = single_layer(zone, rotation, start, count)
    high = low + timedelta(minutes=minutes)
    shifts = schedule.shifts(low, high)
    begins = max(low, schedule.localize(start))
    if begins >= high:
        assert shifts == []
        return
    assert shifts[0].start == begins
    assert shifts[-1].end == high
    for before, after in itertools.pairwise(shifts):
        assert before.end == after.start
        assert before.user != after.user  # adjacent shifts of one user are merged
    assert all(s.start < s.end for s in shifts)


@settings(deadline=None, max_examples=300)
@given(schedules(), instants, st.integers(1, 60 * 24 * 14), st.floats(0, 1))
def test_oncall_at_an_instant_agrees_with_the_shifts_and_gaps_covering_it(schedule, low, minutes, where):
    high = low + timedelta(minutes=minutes)
    t = low + (high - low - TICK) * where
    entries = schedule.oncall_at(t)
    covering = {(s.user, s.layer) for s in schedule.shifts(low, high) if s.start <= t < s.end}
    assert {(e.user, e.layer) for e in entries} == covering
    assert len(covering) == len(entries)
    assert schedule.users_at(t) == [e.user for e in entries]
    assert all(e.shift_start <= t < e.shift_end for e in entries)
    in_gap = any(g.start <= t < g.end for g in schedule.gaps(low, high))
    assert in_gap == (entries == [])


@settings(deadline=None, max_examples=200)
@given(
    st.sampled_from(["America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC"]),
    st.one_of(daily, weekly).filter(lambda r: r["handoff_hour"] >= 4),  # handoffs that no DST gap swallows
    local_times,
    st.integers(2, 5),
    st.integers(1, 40),
)
def test_each_user_holds_every_nth_shift(zone, rotation, start, count, shifts_wanted):
    schedule = single_layer(zone, rotation, start, count)
    first = schedule.localize(start)
    period = timedelta(days=7 if rotation["type"] == "weekly" else 1)
    shifts = schedule.shifts(first, first + period * shifts_wanted)
    assume(len(shifts) >= 2)
    assert [s.user for s in shifts] == [users(count)[k % count] for k in range(len(shifts))]


@settings(deadline=None, max_examples=100)
@given(st.sampled_from(["Asia/Kolkata", "UTC"]), custom, local_times, st.integers(2, 5), st.integers(2, 30))
def test_each_user_holds_every_nth_custom_shift_of_equal_length(zone, rotation, start, count, shifts_wanted):
    schedule = single_layer(zone, rotation, start, count)
    first = schedule.localize(start)
    length = timedelta(hours=rotation["duration_hours"])
    shifts = schedule.shifts(first, first + length * shifts_wanted)
    assert [s.user for s in shifts] == [users(count)[k % count] for k in range(shifts_wanted)]
    assert all(s.end - s.start == length for s in shifts)
