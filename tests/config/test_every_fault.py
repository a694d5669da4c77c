"""Every fault of a config in one pass: structural, validator, reference and plugin faults together, one line
each, at the element's own index; and nothing said twice, or about a part that could not be read."""

from __future__ import annotations

import pytest

WEEKLY = {"type": "weekly", "handoff_day": "Monday", "handoff_hour": 9}


def layer(**fields):
    return {"name": "L", "users": ["ana@example.com"], "rotation": WEEKLY, **fields}


def test_an_unknown_key_does_not_hide_the_validators_of_its_class(tocsin_config):
    tocsin_config.policy(id="p", levels=[{"delay_minutes": -1, "stop_on_ack": True, "dealy": 5, "targets": []}])
    assert tocsin_config.faults() == [
        "$.policies[0].levels[0].delay_minutes: must be 0 or more, got -1",
        "$.policies[0].levels[0].targets: must not be empty",
        "$.policies[0].levels[0]: unknown field(s): dealy",
    ]


def test_every_failing_validator_of_a_class_is_reported_not_only_the_first(tocsin_config):
    rotation = {"type": "weekly", "handoff_day": "Funday", "handoff_hour": 25, "handoff_minute": 61}
    tocsin_config.schedule(id="s", layers=[layer(rotation=rotation)])
    assert tocsin_config.faults() == [
        "$.schedules[0].layers[0].rotation.handoff_day: expected a day name such as Monday or mon, got 'Funday'",
        "$.schedules[0].layers[0].rotation.handoff_hour: must be between 0 and 23, got 25",
        "$.schedules[0].layers[0].rotation.handoff_minute: must be between 0 and 59, got 61",
    ]


def test_a_type_error_in_a_list_points_at_the_element(tocsin_config):
    tocsin_config.team("sre", ["ana@example.com", 42, "ben@example.com", None])
    assert tocsin_config.faults() == [
        "$.teams['sre'][1]: expected a string, got 42",
        "$.teams['sre'][3]: expected a string, got None",
    ]


def test_an_unknown_operator_and_a_bad_time_zone_are_reported_beside_structural_faults(tocsin_config):
    tocsin_config.schedule(id="s", timezone="Mars/Olympus", bogus=1, layers=[layer()])
    tocsin_config.rule(
        name="r", conditions=[{"field": "severity", "operator": "equalz", "value": "P1"}], actions=[{"type": "nope"}]
    )
    assert tocsin_config.faults() == [
        "$.schedules[0]: unknown field(s): bogus",
        "$.rules[0].actions[0]: unknown action type 'nope'; known: add_labels, apply_playbook, assign, notify, "
        "set_severity, suppress, use_policy",
        "$.schedules[0].timezone: unknown time zone 'Mars/Olympus'",
        "$.rules[0].conditions[0].operator: unknown condition operator 'equalz'; known: contains, ends_with, equals, "
        "exists, greater_or_equal, greater_than, in, less_or_equal, less_than, matches, not_contains, not_equals, "
        "not_exists, not_in, starts_with (did you mean 'equals'?)",
    ]


def test_a_reference_after_an_item_that_could_not_be_read_keeps_its_own_index(tocsin_config):
    targets = [
        {"type": "carrier_pigeon"},
        {"type": "user", "email": "ana@example.com"},
        {"type": "team", "team_id": "x"},
    ]
    tocsin_config.policy(id="p", levels=[{"targets": targets}])
    assert tocsin_config.faults() == [
        "$.policies[0].levels[0].targets[0]: unknown target type 'carrier_pigeon'; known: schedule, team, user, "
        "webhook",
        "$.policies[0].levels[0].targets[2]: unknown team 'x'; known: (none)",
    ]


def test_nothing_is_said_about_a_part_that_already_has_a_fault(tocsin_config):
    # The rotation has a fault of its own: compiling it for the schedules' check would only repeat it.
    tocsin_config.schedule(id="s", layers=[layer(rotation={"type": "daily", "handoff_hour": 24})])
    tocsin_config.policy(id="p", levels=[{"targets": [{"type": "schedule", "schedule_id": "s"}]}])
    assert tocsin_config.faults() == [
        "$.schedules[0].layers[0].rotation.handoff_hour: must be between 0 and 23, got 24"
    ]


@pytest.mark.parametrize(
    ("section", "value", "fault"),
    [
        ("teams", ["a"], "$.teams: expected a mapping (a JSON object), got a list"),
        ("policies", {"id": "p"}, "$.policies: expected a list, got {'id': 'p'}"),
        ("plugins", ["acme"], "$.plugins: expected a mapping of plugin name to settings"),
    ],
)
def test_a_section_of_the_wrong_shape_is_one_fault_and_the_others_are_still_read(tocsin_config, section, value, fault):
    tocsin_config.section(section, value).schedule(id="s", timezone="Nowhere/City", layers=[layer()])
    assert tocsin_config.faults() == [fault, "$.schedules[0].timezone: unknown time zone 'Nowhere/City'"]


def test_five_faults_of_five_kinds_get_five_lines(tocsin_config):
    tocsin_config.yaml(
        """
teams:
  sre: [ana@example.com, 42]
schedules:
  - {id: primary, timezone: Europe/Londn, layers: [{name: L, users: [ana@example.com], rotation: {type: hourly}}]}
policies:
  - id: p
    levels:
      - targets: [{type: schedule, schedule_id: primray}]
      - {delay_minutes: -5, targets: [{type: user, email: ana@example.com}], hue: red}
"""
    )
    assert tocsin_config.faults() == [
        "$.teams['sre'][1]: expected a string, got 42",
        "$.policies[0].levels[1].delay_minutes: must be 0 or more, got -5",
        "$.policies[0].levels[1]: unknown field(s): hue",
        "$.policies[0].levels[0].targets[0]: unknown schedule 'primray'; known: primary",
        "$.schedules[0].timezone: unknown time zone 'Europe/Londn' (did you mean 'Europe/London'?)",
    ]


def test_every_retry_setting_of_the_delivery_section_that_is_wrong_is_reported(tocsin_config):
    tocsin_config.section("delivery", {"max_attempts": 0, "base_seconds": -1, "cap_seconds": 0})
    assert tocsin_config.faults() == [
        "$.delivery.max_attempts: must be 1 or more, got 0",
        "$.delivery.base_seconds: must be greater than 0, got -1.0",
        "$.delivery.cap_seconds: must be greater than 0, got 0.0",
    ]


def test_a_short_token_is_reported_beside_a_fault_of_its_scopes(tocsin_config):
    tocsin_config.section("server", {"tokens": [{"name": "ops", "token": "short", "scopes": ["superuser"]}]})
    assert tocsin_config.faults() == [
        "$.server.tokens[0].scopes[0]: expected one of read, respond, admin; got 'superuser'",
        "$.server.tokens[0].token: must be at least 16 characters long",
    ]
