"""The rule index: rules looked up by field value give exactly the answers of a plain scan."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.kernel_plugins import make_plugin
from support.routing import builtin_registry, evaluator, incident, names

import tocsin
from tocsin import RoutingRule, RuleCondition
from tocsin.plugins.action_notify import Notify

# Small pools of deliberately confusable values (1, 1.0, True, "1") so that rules and incidents collide often.
SOURCES = ["monitoring", "grafana", "1"]
SCALARS = st.sampled_from(["monitoring", "grafana", "db", "1", "P1", "Security", 0, 1, 1.0, 2.5, True, False])
FIELDS = ["source", "severity", "incident_type", "priority_score", "labels.team", "jmespath:payload.n"]


@st.composite
def conditions(draw):
    field = draw(st.sampled_from(FIELDS))
    operator = draw(st.sampled_from(["equals", "equals", "in", "in", "not_equals", "not_in", "exists", "greater_than"]))
    if operator == "exists":
        return RuleCondition(field=field, operator=operator)
    if operator in ("in", "not_in"):
        return RuleCondition(field=field, operator=operator, value=draw(st.lists(SCALARS, max_size=4)))
    if operator == "greater_than":
        return RuleCondition(field=field, operator=operator, value=draw(st.sampled_from([0, 1, 2.5])))
    return RuleCondition(field=field, operator=operator, value=draw(SCALARS))


@st.composite
def rule_sets(draw):
    count = draw(st.integers(min_value=0, max_value=15))
    rules = []
    for number in range(count):
        rules.append(
            RoutingRule(
                name=f"r{number}",
                priority=draw(st.integers(min_value=-2, max_value=3)),
                enabled=draw(st.booleans()) or draw(st.booleans()),
                stop=draw(st.integers(min_value=0, max_value=9)) == 0,
                conditions=tuple(draw(st.lists(conditions(), min_size=1, max_size=3))),
                actions=(Notify(channels=[f"#{number}"]),),
            )
        )
    return rules


@st.composite
def incidents(draw):
    labels = {"team": draw(st.sampled_from(["db", "1", "monitoring"]))} if draw(st.booleans()) else {}
    payload = {"n": draw(st.one_of(st.none(), SCALARS, st.lists(SCALARS, max_size=2)))} if draw(st.booleans()) else None
    return incident(
        source=draw(st.sampled_from(SOURCES)),
        severity=draw(st.sampled_from(["P0", "P1", "P2"])),
        incident_type=draw(st.sampled_from(["Security", "Data"])),
        priority_score=draw(st.integers(min_value=0, max_value=2)),
        labels=labels,
        payload=payload,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets(), probes=st.lists(incidents(), min_size=1, max_size=8))
def test_indexed_evaluation_matches_a_plain_scan(rules, probes):
    registry = builtin_registry()
    indexed = tocsin.RoutingRuleEvaluator(registry, rules)
    scanned = tocsin.RoutingRuleEvaluator(registry, rules, indexed=False)
    assert scanned.plan.index_fields == []
    for probe in probes:
        expected = names(scanned.evaluate_incident(probe))
        assert names(indexed.evaluate_incident(probe)) == expected
        assert names(r for r in indexed.explain(probe).result.matched) == expected


def equals(field, value, name, **more):
    return {
        "name": name,
        "conditions": [{"field": field, "operator": "equals", "value": value}],
        "actions": [{"type": "notify", "channels": ["#x"]}],
        **more,
    }


def test_rules_are_filed_under_the_most_selective_field():
    rules = [
        {
            **equals("source", f"svc-{n}", f"r{n}"),
            "conditions": [
                {"field": "severity", "operator": "in", "value": ["P0", "P1"]},
                {"field": "source", "operator": "equals", "value": f"svc-{n}"},
            ],
        }
        for n in range(20)
    ]
    routing = evaluator(*rules)
    assert routing.plan.index_fields == ["source"]
    assert routing.plan.indexed_rules == 20
    assert names(routing.evaluate_incident(incident(source="svc-7", severity="P1"))) == ["r7"]
    assert routing.evaluate_incident(incident(source="svc-7", severity="P2")) == []


def test_index_keeps_json_equality_numbers_match_numbers_and_booleans_stay_apart():
    routing = evaluator(
        equals("jmespath:payload.n", 1, "one"),
        equals("jmespath:payload.n", True, "true"),
        equals("jmespath:payload.n", "1", "text"),
    )
    assert routing.plan.index_fields == ["jmespath:payload.n"]
    assert names(routing.evaluate_incident(incident(payload={"n": 1.0}))) == ["one"]
    assert names(routing.evaluate_incident(incident(payload={"n": True}))) == ["true"]
    assert names(routing.evaluate_incident(incident(payload={"n": "1"}))) == ["text"]
    assert routing.evaluate_incident(incident(payload={"n": [1]})) == []


def test_rules_without_a_keyed_condition_are_still_scanned_in_order():
    others = [equals("source", f"svc-{n}", f"other-{n}", priority=5) for n in range(8)]
    routing = evaluator(
        equals("source", "monitoring", "keyed", priority=1),
        {
            **equals("title", "x", "scanned", priority=2),
            "conditions": [{"field": "title", "operator": "contains", "value": "Disk"}],
        },
        equals("source", "monitoring", "keyed-low", priority=0),
        *others,
    )
    assert routing.plan.index_fields == ["source"]
    assert routing.plan.indexed_rules == 10
    assert names(routing.evaluate_incident(incident())) == ["scanned", "keyed", "keyed-low"]
    assert names(routing.evaluate_incident(incident(source="svc-3"))) == ["other-3", "scanned"]


def test_a_few_weakly_keyed_rules_are_cheaper_to_scan():
    routing = evaluator(equals("severity", "P2", "a"), equals("severity", "P2", "b"))
    assert routing.plan.index_fields == []
    assert names(routing.evaluate_incident(incident())) == ["a", "b"]


def test_an_operator_without_index_keys_is_never_looked_up():
    def tocsin_register_operators(register):
        register("same", lambda expected: lambda actual: actual == expected)

    registry = tocsin.load_plugins(
        autoload=False, extra=[make_plugin("same", tocsin_register_operators=tocsin_register_operators)]
    ).registry
    rule = RoutingRule(
        name="s",
        conditions=(RuleCondition(field="source", operator="same", value="monitoring"),),
        actions=(Notify(channels=["#x"]),),
    )
    routing = tocsin.RoutingRuleEvaluator(registry, [rule])
    assert routing.plan.index_fields == []
    assert names(routing.evaluate_incident(incident())) == ["s"]


def test_builtin_registry_indexes_equals_and_in():
    registry = builtin_registry()
    assert registry.operators.get("equals").keys is not None
    assert registry.operators.get("in").keys is not None
