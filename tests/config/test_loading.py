"""Config loading: every fault reported at once with its path; YAML, TOML and JSON; round trips."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml
from support.kernel_plugins import BeeperSettings, CrewTarget, EveryDay, PersonTarget, kernel_registry

import tocsin

GOOD = {
    "teams": {"platform": ["eng1@example.com", "eng2@example.com"]},
    "users": {"eng1@example.com": {"contacts": [{"type": "beeper", "number": "555-0100"}]}},
    "schedules": [
        {
            "id": "primary",
            "name": "Primary On-Call",
            "timezone": "America/New_York",
            "layers": [
                {
                    "name": "Primary",
                    "users": ["engineer1@example.com", "engineer2@example.com"],
                    "start": "2026-01-05T09:00:00",
                    "rotation": {"type": "every_day", "handoff_hour": 9},
                    "restrictions": {"days_of_week": [1, 2, 3, 4, 5], "start_hour": 9, "end_hour": 17},
                }
            ],
            "overrides": [{"user": "eng3@example.com", "start": "2026-03-02T09:00:00", "end": "2026-03-03T09:00:00"}],
        }
    ],
    "policies": [
        {
            "id": "standard-p1",
            "name": "Standard P1 Escalation",
            "severity_filter": ["P0", "P1"],
            "priority": 10,
            "levels": [
                {"delay_minutes": 0, "targets": [{"type": "person", "email": "lead@example.com"}]},
                {"delay_minutes": 5, "targets": [{"type": "crew", "team_id": "platform"}]},
            ],
            "repeat": {"max_repeats": 3, "interval_minutes": 20},
        }
    ],
    "rules": [
        {
            "name": "Route Security Incidents",
            "priority": 100,
            "conditions": [{"field": "kind", "operator": "is", "value": "Security"}],
            "actions": [{"type": "tag", "labels": {"team": "security"}}],
        }
    ],
    "channels": {"beeper": {"gateway": "http://127.0.0.1:9"}},
}


@pytest.fixture(scope="module")
def registry():
    return kernel_registry()


def write(tmp_path, name, document):
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(document))
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def faults(registry, document, name="tocsin.yaml"):
    with pytest.raises(tocsin.ConfigError) as info:
        tocsin.parse_config(document, registry, source=name)
    return [str(issue) for issue in info.value.issues]


def test_a_good_config_loads_into_models(registry, tmp_path):
    config = tocsin.load_config(write(tmp_path, "tocsin.yaml", GOOD), registry)
    schedule = config.schedule("primary")
    assert schedule.layers[0].rotation == EveryDay(handoff_hour=9)
    assert schedule.layers[0].start == datetime(2026, 1, 5, 9, 0)
    assert schedule.layers[0].restrictions[0].days_of_week == (1, 2, 3, 4, 5)
    policy = config.policy("standard-p1")
    assert policy.severity_filter == (tocsin.Severity.P0, tocsin.Severity.P1)
    assert policy.levels[1].targets == (CrewTarget(team_id="platform"),)
    assert policy.levels[0].targets == (PersonTarget(email="lead@example.com"),)
    assert config.channels == {"beeper": BeeperSettings(gateway="http://127.0.0.1:9")}
    assert config.teams == {"platform": ("eng1@example.com", "eng2@example.com")}


def test_yaml_toml_and_json_of_the_same_shape_load_the_same(registry, tmp_path):
    from_yaml = tocsin.load_config(write(tmp_path, "c.yaml", GOOD), registry)
    from_json = tocsin.load_config(write(tmp_path, "c.json", GOOD), registry)
    toml_text = """
[teams]
platform = ["eng1@example.com", "eng2@example.com"]

[users."eng1@example.com"]
contacts = [{type = "beeper", number = "555-0100"}]

[[schedules]]
id = "primary"
name = "Primary On-Call"
timezone = "America/New_York"
overrides = [{user = "eng3@example.com", start = "2026-03-02T09:00:00", end = "2026-03-03T09:00:00"}]

[[schedules.layers]]
name = "Primary"
users = ["engineer1@example.com", "engineer2@example.com"]
start = "2026-01-05T09:00:00"
rotation = {type = "every_day", handoff_hour = 9}
restrictions = {days_of_week = [1, 2, 3, 4, 5], start_hour = 9, end_hour = 17}

[[policies]]
id = "standard-p1"
name = "Standard P1 Escalation"
severity_filter = ["P0", "P1"]
priority = 10
repeat = {max_repeats = 3, interval_minutes = 20}
levels = [
  {delay_minutes = 0, targets = [{type = "person", email = "lead@example.com"}]},
  {delay_minutes = 5, targets = [{type = "crew", team_id = "platform"}]},
]

[[rules]]
name = "Route Security Incidents"
priority = 100
conditions = [{field = "kind", operator = "is", value = "Security"}]
actions = [{type = "tag", labels = {team = "security"}}]

[channels.beeper]
gateway = "http://127.0.0.1:9"
"""
    toml_path = tmp_path / "c.toml"
    toml_path.write_text(toml_text)
    from_toml = tocsin.load_config(toml_path, registry)
    assert from_yaml == from_json == from_toml


def without_defaults(document, config_document):
    """``document`` with the keys the dump left out (they hold default values) removed, recursively."""
    if isinstance(document, dict):
        return {k: without_defaults(v, config_document[k]) for k, v in document.items() if k in config_document}
    if isinstance(document, list):
        return [without_defaults(a, b) for a, b in zip(document, config_document, strict=True)]
    return document


def test_a_loaded_config_dumps_back_to_the_same_document(registry):
    config = tocsin.parse_config(GOOD, registry)
    document = tocsin.dump_config(config, registry)
    # Only values equal to their defaults (delay_minutes: 0 here) are left out of the dump.
    assert document == without_defaults(GOOD, document)
    assert document["policies"][0]["levels"][0] == {"targets": [{"type": "person", "email": "lead@example.com"}]}
    assert tocsin.parse_config(document, registry) == config
    assert tocsin.dump_config(tocsin.parse_config(document, registry), registry) == document


def test_every_fault_is_reported_at_once_with_its_path(registry):
    broken = yaml.safe_load(yaml.safe_dump(GOOD))
    broken["teams"]["ops"] = "eng1@example.com"
    broken["schedules"][0]["layers"][0]["rotation"]["handoff_hour"] = 25
    broken["schedules"][0]["layers"][0]["restrictions"]["days_of_week"] = [1, 9]
    broken["policies"][0]["levels"][0]["targets"][0] = {"type": "carrier_pigeon", "loft": "roof"}
    broken["policies"][0]["levels"][1]["delay_minutes"] = "5"
    broken["policies"][0]["severity_filter"] = ["P0", "P9"]
    broken["rules"][0]["priority"] = True
    broken["surprise"] = 1
    assert faults(registry, broken) == [
        "tocsin.yaml: $.teams['ops']: expected a list of strings, got 'eng1@example.com'",
        "tocsin.yaml: $.schedules[0].layers[0].rotation.handoff_hour: must be between 0 and 23, got 25",
        "tocsin.yaml: $.schedules[0].layers[0].restrictions[0].days_of_week: "
        "days are 0 (Sunday) to 6 (Saturday), got 9",
        "tocsin.yaml: $.policies[0].severity_filter[1]: expected one of P0, P1, P2, P3, P4; got 'P9'",
        "tocsin.yaml: $.policies[0].levels[0].targets[0]: unknown target type 'carrier_pigeon'; known: crew, person",
        "tocsin.yaml: $.policies[0].levels[1].delay_minutes: expected an integer, got '5'",
        "tocsin.yaml: $.rules[0].priority: expected an integer, got True",
        "tocsin.yaml: $: unknown field(s): surprise",
    ]


def test_cross_references_and_duplicates_are_checked(registry):
    broken = yaml.safe_load(yaml.safe_dump(GOOD))
    broken["policies"].append(dict(broken["policies"][0]))
    broken["policies"][0]["levels"][1]["targets"][0]["team_id"] = "platfrom"
    assert faults(registry, broken) == [
        "tocsin.yaml: $.policies[1].id: duplicate id 'standard-p1' (first used at $.policies[0])",
        "tocsin.yaml: $.policies[0].levels[1].targets[0]: unknown team 'platfrom'; known: platform",
        "tocsin.yaml: $.policies[1].levels[1].targets[0]: unknown team 'platfrom'; known: platform",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["policies"][0]["levels"][1].update(level=3), "$.policies[0].levels: level numbers must run 0..1"),
        (lambda d: d["policies"][0].update(levels=[]), "$.policies[0].levels: a policy needs at least one level"),
        (lambda d: d["policies"][0]["levels"][0].update(delay_minutes=-1), "delay_minutes: must be 0 or more"),
        (lambda d: d["schedules"][0]["layers"][0].update(users=[]), "layers[0].users: needs at least one user"),
        (lambda d: d["schedules"][0]["layers"][0]["rotation"].pop("type"), "rotation: missing 'type'"),
        (lambda d: d["schedules"][0]["layers"][0].update(start="next monday"), "expected an ISO 8601 date-time"),
        (lambda d: d["schedules"][0]["overrides"][0].update(end="2026-03-01T00:00:00"), "overrides[0].end: must be"),
        (lambda d: d["users"]["eng1@example.com"]["contacts"][0].update(type="fax"), "unknown channel type 'fax'"),
        (lambda d: d["channels"].update(telegraph={}), "$.channels.telegraph: unknown channel 'telegraph'"),
        (lambda d: d["channels"]["beeper"].update(retries="3"), "$.channels.beeper.retries: expected an integer"),
        (lambda d: d["policies"][0]["levels"][0].update(targets="lead@example.com"), "targets"),
    ],
)
def test_single_faults_name_their_path(registry, change, expected):
    broken = yaml.safe_load(yaml.safe_dump(GOOD))
    change(broken)
    reported = faults(registry, broken)
    assert len(reported) == 1, reported
    assert expected in reported[0]


def test_syntax_errors_name_the_file_and_line(registry, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("teams:\n  platform: [a@example.com\npolicies: []\n")
    with pytest.raises(tocsin.ConfigError) as info:
        tocsin.load_config(path, registry)
    (issue,) = info.value.issues
    assert issue.file == str(path) and issue.path == "$"
    assert "invalid YAML: line 3" in issue.message


def test_a_missing_file_is_a_config_error(registry, tmp_path):
    with pytest.raises(tocsin.ConfigError, match="cannot read file"):
        tocsin.load_config(tmp_path / "absent.yaml", registry)


def test_an_empty_file_is_an_empty_config(registry, tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert tocsin.load_config(path, registry) == tocsin.Config()


def test_a_postgresql_store_is_named_by_one_dsn_without_a_password_or_an_environment_variable(registry, monkeypatch):
    def storage(**fields):
        return faults(registry, {"storage": fields})

    assert storage(backend="postgresql") == [
        "tocsin.yaml: $.storage.dsn: the postgresql backend needs exactly one of dsn and dsn_env"
    ]
    assert storage(backend="postgresql", dsn="postgresql://a@h/db", dsn_env="DB_URL") == [
        "tocsin.yaml: $.storage.dsn: the postgresql backend needs exactly one of dsn and dsn_env"
    ]
    for secret in ("postgresql://tocsin:hunter2@db/tocsin", "host=db user=tocsin password=hunter2"):
        (fault,) = storage(backend="postgresql", dsn=secret)
        assert fault.startswith("tocsin.yaml: $.storage.dsn: holds a password") and "hunter2" not in fault
    assert storage(dsn_env="DB_URL") == [
        "tocsin.yaml: $.storage.dsn: dsn and dsn_env are for the postgresql backend, not sqlite"
    ]
    settings = tocsin.parse_config({"storage": {"backend": "postgresql", "dsn_env": "DB_URL"}}, registry).storage
    monkeypatch.setenv("DB_URL", "postgresql://tocsin:secret@db/tocsin")
    assert settings.database_url() == "postgresql://tocsin:secret@db/tocsin"
    monkeypatch.delenv("DB_URL")
    with pytest.raises(LookupError, match="the environment variable DB_URL \\(dsn_env\\) is not set"):
        settings.database_url()
