"""Field extractors: the incident's own fields, labels.<key>, jmespath:<expr>, and unknown-field errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support.routing import builtin_registry, holds, incident

import tocsin
from tocsin import RuleCondition

CREATED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
INCIDENT = incident(
    id="inc-42",
    source="prometheus",
    title="Latency high",
    description="p99 above 2s",
    severity="P3",
    state="Investigating",
    incident_type="Performance",
    priority_score=7,
    assignees=["ana@example.com"],
    labels={"team": "web", "region.name": "eu-west"},
    payload={"service": {"name": "checkout", "replicas": 3}, "tags": ["a", "b"]},
    created_at=CREATED,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "inc-42"),
        ("source", "prometheus"),
        ("title", "Latency high"),
        ("description", "p99 above 2s"),
        ("severity", "P3"),
        ("state", "Investigating"),
        ("incident_type", "Performance"),
        ("priority_score", 7),
        ("assignees", ["ana@example.com"]),
        ("created_at", "2026-03-02T09:30:00+00:00"),
        ("labels.team", "web"),
        ("labels.region.name", "eu-west"),  # the key is everything after 'labels.'
        ("jmespath:payload.service.name", "checkout"),
        ("jmespath:payload.service.replicas", 3),
        ("jmespath:payload.tags[-1]", "b"),
        ("jmespath:severity", "P3"),  # the whole incident is the document
        ("jmespath:labels.team", "web"),
        ("jmespath:length(assignees)", 1),
    ],
)
def test_each_field_reads_its_value(field, value):
    assert holds(field, "equals", value, on=INCIDENT)
    explained = tocsin.RoutingRuleEvaluator(builtin_registry(), [_rule(field)]).explain(INCIDENT)
    [condition] = explained.to_json()[0]["conditions"]
    assert (condition["value"], condition["missing"]) == (value, False)


def test_a_jmespath_function_error_counts_as_missing():
    assert holds("jmespath:length(payload.service.replicas)", "not_exists", on=INCIDENT)


def test_jmespath_reads_the_payload_of_each_incident_not_a_stale_one():
    condition = [RuleCondition(field="jmespath:payload.service.name", operator="equals", value="checkout")]
    conditions = tocsin.compile_conditions(condition, builtin_registry())
    other = incident(payload={"service": {"name": "search"}})
    assert [conditions(INCIDENT), conditions(other), conditions(INCIDENT)] == [True, False, True]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("titel", "did you mean 'title'?"),
        ("severty", "did you mean 'severity'?"),
        ("label.team", "did you mean 'labels.team'?"),
        ("jmespath.payload.host", "did you mean 'jmespath:payload.host'?"),
        ("labels.", "needs a label key"),
        ("jmespath:", "needs an expression"),
        ("jmespath:payload.[", "invalid JMESPath expression 'payload.['"),
    ],
)
def test_unknown_or_malformed_fields_are_load_errors(field, message):
    with pytest.raises(tocsin.RuleError) as caught:
        tocsin.compile_conditions([RuleCondition(field=field, operator="exists")], builtin_registry())
    [(path, text)] = caught.value.issues
    assert path == "conditions[0].field"
    assert message in text


def test_an_unknown_field_lists_the_known_fields():
    with pytest.raises(tocsin.RuleError, match=r"unknown field 'owner'; known: assignees, created_at, description"):
        tocsin.compile_conditions([RuleCondition(field="owner", operator="exists")], builtin_registry())


def test_every_fault_of_a_condition_list_is_reported_at_once():
    conditions = [
        RuleCondition(field="titel", operator="equals", value="x"),
        RuleCondition(field="severity", operator="in", value="P0"),
    ]
    with pytest.raises(tocsin.RuleError) as caught:
        tocsin.compile_conditions(conditions, builtin_registry())
    assert [path for path, _ in caught.value.issues] == ["conditions[0].field", "conditions[1].value"]


def _rule(field: str) -> tocsin.RoutingRule:
    notify = builtin_registry().actions.get("notify").cls
    condition = RuleCondition(field=field, operator="exists")
    return tocsin.RoutingRule(name=field, conditions=(condition,), actions=(notify(channels=["#x"]),))
