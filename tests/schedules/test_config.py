"""Schedules in config files: every mistake is reported with its path; good files load in any format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import ClassVar

import attrs
import pytest
from support.schedules import builtin_registry, layer

import tocsin
from tocsin.testing import ConfigBuilder

DAILY_9 = {"type": "daily", "handoff_hour": 9}


@pytest.fixture
def faults(tocsin_plugins):
    """``faults(*layers, **schedule_fields)``: the ``$.path: message`` lines of a one-schedule config (read by
    tocsin's own config builder)."""

    def read(*layers: dict, timezone: str = "America/New_York", **more: object) -> list[str]:
        builder = ConfigBuilder(tocsin_plugins.registry)
        return builder.schedule(id="s", timezone=timezone, layers=list(layers), **more).faults()

    return read


@pytest.mark.parametrize(
    ("rotation", "expected"),
    [
        ({"type": "daily", "handoff_hour": 24}, ".rotation.handoff_hour: must be between 0 and 23, got 24"),
        ({"type": "daily", "handoff_hour": -1}, ".rotation.handoff_hour: must be between 0 and 23, got -1"),
        (
            {"type": "daily", "handoff_hour": 9, "handoff_minute": 60},
            ".rotation.handoff_minute: must be between 0 and 59",
        ),
        (
            {"type": "weekly", "handoff_day": "Funday", "handoff_hour": 9},
            ".rotation.handoff_day: expected a day name such as Monday or mon, got 'Funday'",
        ),
        (
            {"type": "weekly", "handoff_day": "Mon", "handoff_hour": 30},
            ".rotation.handoff_hour: must be between 0 and 23",
        ),
        ({"type": "custom", "duration_hours": 0}, ".rotation.duration_hours: must be greater than 0, got 0"),
        ({"type": "custom", "duration_hours": -12}, ".rotation.duration_hours: must be greater than 0, got -12"),
        (
            {"type": "fortnightly"},
            ".rotation: unknown rotation type 'fortnightly'; known: custom, daily, follow_the_sun, hourly, weekly",
        ),
        ({"type": "daily"}, ".rotation.handoff_hour: required field missing"),
    ],
)
def test_rotation_mistakes_point_at_the_field(faults, rotation, expected):
    (fault,) = faults(layer("L", ["a"], rotation))
    assert fault.startswith("$.schedules[0].layers[0]" + expected)


@pytest.mark.parametrize(
    ("restrictions", "expected"),
    [
        ({"days_of_week": [1], "start_hour": 24, "end_hour": 5}, "start_hour: must be between 0 and 23, got 24"),
        ({"days_of_week": [1], "start_hour": 9, "end_hour": 25}, "end_hour: must be between 0 and 24, got 25"),
        ({"days_of_week": [1], "start_hour": 9, "start_minute": 60}, "start_minute: must be between 0 and 59, got 60"),
        ({"days_of_week": [1], "start_hour": 9, "end_minute": -1}, "end_minute: must be between 0 and 59, got -1"),
        ({"days_of_week": [7]}, "days_of_week: days are 0 (Sunday) to 6 (Saturday), got 7"),
        ({"days_of_week": []}, "days_of_week: must name at least one day"),
    ],
)
def test_restriction_mistakes_point_at_the_window(faults, restrictions, expected):
    (fault,) = faults(layer("L", ["a"], DAILY_9, restrictions=[{"days_of_week": [0]}, restrictions]))
    assert fault.startswith("$.schedules[0].layers[0].restrictions[1]." + expected)


def test_an_empty_user_list_is_an_error_for_a_rotation_that_hands_shifts_to_the_users(faults):
    assert faults(layer("L", [], DAILY_9)) == [
        "$.schedules[0].layers[0].users: needs at least one user: rotation 'daily' hands its shifts to them in turn"
    ]


def test_an_unknown_time_zone_is_an_error_with_a_suggestion(faults):
    assert faults(layer("L", ["a"], DAILY_9), timezone="Mars/Olympus") == [
        "$.schedules[0].timezone: unknown time zone 'Mars/Olympus'"
    ]
    assert faults(layer("L", ["a"], DAILY_9), timezone="Europe/Berln") == [
        "$.schedules[0].timezone: unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)"
    ]


def test_an_override_must_end_after_it_starts(faults):
    override = {"user": "x", "start": "2026-03-02T09:00:00", "end": "2026-03-02T09:00:00"}
    assert faults(layer("L", ["a"], DAILY_9), overrides=[override]) == [
        "$.schedules[0].overrides[0].end: must be after start (2026-03-02T09:00:00)"
    ]


def test_an_override_must_name_a_layer_the_schedule_has(faults):
    override = {"user": "x", "start": "2026-03-02T09:00", "end": "2026-03-03T09:00", "layer": "Secondary"}
    assert faults(layer("Primary", ["a"], DAILY_9), overrides=[override]) == [
        "$.schedules[0].overrides[0].layer: unknown layer 'Secondary'; known: 'Primary'"
    ]


def test_layer_names_must_be_unique_within_a_schedule(faults):
    assert faults(layer("L", ["a"], DAILY_9), layer("L", ["b"], DAILY_9)) == [
        "$.schedules[0].layers[1].name: duplicate layer name 'L' (first used at $.schedules[0].layers[0])"
    ]


def test_a_bad_resolution_lists_the_choices(faults):
    (fault,) = faults(layer("L", ["a"], DAILY_9), resolution="majority")
    assert fault == "$.schedules[0].resolution: expected one of all, precedence; got 'majority'"


def test_every_fault_is_reported_at_once():
    document = {
        "schedules": [
            {"id": "a", "layers": [layer("L", ["x"], {"type": "daily", "handoff_hour": 99})]},
            {"id": "b", "layers": [layer("L", ["x"], {"type": "custom", "duration_hours": 0})]},
        ]
    }
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(document, builtin_registry(), source="oncall.yaml")
    assert str(caught.value).splitlines() == [
        "oncall.yaml: $.schedules[0].layers[0].rotation.handoff_hour: must be between 0 and 23, got 99",
        "oncall.yaml: $.schedules[1].layers[0].rotation.duration_hours: must be greater than 0, got 0",
    ]


YAML = """
schedules:
  - id: primary-oncall
    name: Primary On-Call
    timezone: America/New_York
    resolution: all
    layers:
      - name: Primary
        users: [engineer1@example.com, engineer2@example.com]
        start: "2026-01-05T09:00:00"
        rotation: {type: weekly, handoff_day: Monday, handoff_hour: 9}
        restrictions: {days_of_week: [1, 2, 3, 4, 5], start_hour: 9, end_hour: 17}
      - name: Nights
        users: [night@example.com]
        rotation: {type: custom, duration_hours: 12}
        restrictions:
          - {days_of_week: [1, 2, 3, 4, 5], start_hour: 17, end_hour: 9}
          - {days_of_week: [0, 6]}
    overrides:
      - {user: engineer3@example.com, start: "2026-03-02T09:00:00", end: "2026-03-03T09:00:00"}
      - {user: cover@example.com, start: "2026-03-04T09:00:00-05:00", end: "2026-03-04T12:00:00-05:00", layer: Nights}
"""

TOML = """
[[schedules]]
id = "primary-oncall"
timezone = "Europe/Berlin"

[[schedules.layers]]
name = "Primary"
users = ["a@example.com", "b@example.com"]
start = 2026-01-05T09:00:00
rotation = { type = "daily", handoff_hour = 9 }
restrictions = { days_of_week = [1, 2, 3, 4, 5], start_hour = 9, end_hour = 17 }
"""


def test_the_design_example_loads_checks_and_round_trips(tmp_path):
    path = tmp_path / "tocsin.yaml"
    path.write_text(YAML, encoding="utf-8")
    config = tocsin.load_config(path, builtin_registry())
    schedule = config.schedule("primary-oncall")
    assert [layer.name for layer in schedule.layers] == ["Primary", "Nights"]
    assert len(schedule.layers[1].restrictions) == 2
    again = tocsin.parse_config(
        json.loads(json.dumps(tocsin.dump_config(config, builtin_registry()))), builtin_registry()
    )
    assert again == config


def test_toml_and_json_files_say_the_same(tmp_path):
    toml_path, json_path = tmp_path / "oncall.toml", tmp_path / "oncall.json"
    toml_path.write_text(TOML, encoding="utf-8")
    from_toml = tocsin.load_config(toml_path, builtin_registry())
    json_path.write_text(json.dumps(tocsin.dump_config(from_toml, builtin_registry())), encoding="utf-8")
    from_json = tocsin.load_config(json_path, builtin_registry())
    assert from_json == from_toml
    resolver = tocsin.compile_schedule(from_json.schedules[0], builtin_registry())
    assert resolver.users_at(datetime.fromisoformat("2026-01-06T10:00:00+01:00")) == ["b@example.com"]


@attrs.frozen(kw_only=True)
class Weird:
    type: ClassVar[str] = "weird"
    mode: str = "none"


class WeirdRotations:
    """A plugin whose rotation compiles to nothing, fails, or counts how often it is compiled."""

    def __init__(self) -> None:
        self.compiled = 0

    def compile(self, settings: Weird):
        self.compiled += 1
        if settings.mode == "fail":
            raise ValueError("the moon is in the wrong phase")
        if settings.mode == "good":
            daily = builtin_registry().rotations.get("daily")
            return daily.compile(daily.cls(handoff_hour=9))
        return None

    @tocsin.hookimpl
    def tocsin_register_rotations(self, register: tocsin.RotationRegistrar) -> None:
        register(Weird, compile=self.compile)


def weird_config(mode: str, plugin: WeirdRotations):
    registry = tocsin.load_plugins(autoload=False, extra=[plugin]).registry
    document = {"schedules": [{"id": "s", "layers": [layer("L", ["a", "b"], {"type": "weird", "mode": mode})]}]}
    return tocsin.parse_config(document, registry), registry


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("fail", "the moon is in the wrong phase"),
        (
            "none",
            "rotation 'weird' of plugin 'WeirdRotations-0' compiled to None, which is not a tocsin.rotation.Rotation",
        ),
    ],
)
def test_a_rotation_its_plugin_cannot_compile_is_reported_at_load(mode, message):
    with pytest.raises(tocsin.ConfigError) as caught:
        weird_config(mode, WeirdRotations())
    ((path, text),) = [(issue.path, issue.message) for issue in caught.value.issues]
    assert path == "$.schedules[0].layers[0].rotation"
    assert text.startswith(message)


def test_lookups_never_go_back_to_the_plugin():
    plugin = WeirdRotations()
    config, registry = weird_config("good", plugin)
    resolver = tocsin.compile_schedule(config.schedules[0], registry)
    compiled = plugin.compiled
    for day in range(1, 29):
        resolver.oncall_at(datetime(2026, 2, day, 12, tzinfo=UTC))
    resolver.shifts(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert plugin.compiled == compiled
