"""RoutingRuleEvaluator: order, AND, stop, disabled rules, registration errors, explain, compile-once."""

from __future__ import annotations

from unittest.mock import patch

import pluggy
import pytest
from structlog.testing import capture_logs
from support.kernel_plugins import make_plugin
from support.routing import builtin_registry, evaluator, incident, names, rules_from

import tocsin
from tocsin import RoutingRule, RuleCondition
from tocsin.plugins.action_assign import Assign
from tocsin.plugins.action_notify import Notify

SECURITY = {
    "name": "Route Security Incidents",
    "priority": 100,
    "conditions": [
        {"field": "incident_type", "operator": "equals", "value": "Security"},
        {"field": "severity", "operator": "in", "value": ["P0", "P1"]},
    ],
    "actions": [
        {"type": "notify", "channels": ["#security-incidents"]},
        {"type": "assign", "assignees": ["security-oncall@example.com"]},
        {"type": "add_labels", "labels": {"team": "security", "automated": "true"}},
    ],
}


def on_source(name, priority=0, **more):
    return {
        "name": name,
        "priority": priority,
        "conditions": [{"field": "source", "operator": "equals", "value": "monitoring"}],
        "actions": [{"type": "notify", "channels": [f"#{name}"]}],
        **more,
    }


def test_the_guides_security_rule_routes_a_security_incident():
    routing = evaluator(SECURITY)
    breach = incident(incident_type="Security", severity="P1", title="Possible breach")
    matched = routing.evaluate_incident(breach)
    assert names(matched) == ["Route Security Incidents"]
    result = routing.apply_actions(breach, matched)
    assert result.notify_channels == ("#security-incidents",)
    assert result.incident.assignees == ("security-oncall@example.com",)
    assert result.incident.labels == {"team": "security", "automated": "true"}


def test_conditions_are_anded():
    routing = evaluator(SECURITY)
    assert routing.evaluate_incident(incident(incident_type="Security", severity="P3")) == []
    assert routing.evaluate_incident(incident(incident_type="Data", severity="P0")) == []


def test_rules_run_by_priority_descending_with_ties_in_definition_order():
    routing = evaluator(on_source("b", 5), on_source("a", 10), on_source("c", 5), on_source("d", -1))
    assert names(routing.evaluate_incident(incident())) == ["a", "b", "c", "d"]


def test_stop_ends_evaluation_after_a_matching_rule():
    never = {
        **on_source("never-matches", 50, stop=True),
        "conditions": [{"field": "source", "operator": "equals", "value": "x"}],
    }
    routing = evaluator(on_source("low", 1), on_source("stopper", 10, stop=True), never, on_source("top", 99))
    assert names(routing.evaluate_incident(incident())) == ["top", "stopper"]
    assert names(routing.route(incident()).matched) == ["top", "stopper"]


def test_disabled_rules_never_match():
    routing = evaluator(on_source("off", 10, enabled=False), on_source("on"))
    assert names(routing.evaluate_incident(incident())) == ["on"]


def test_route_is_evaluate_then_apply():
    routing = evaluator(on_source("a", 2), on_source("b", 1))
    probe = incident()
    assert routing.route(probe) == routing.apply_actions(probe, routing.evaluate_incident(probe))


def test_apply_actions_follows_the_order_given():
    routing = evaluator(
        {**on_source("p0"), "actions": [{"type": "set_severity", "severity": "P0"}]},
        {**on_source("p4"), "actions": [{"type": "set_severity", "severity": "P4"}]},
    )
    p0, p4 = routing.rules
    assert routing.apply_actions(incident(), [p4, p0]).incident.severity is tocsin.Severity.P4


def test_apply_actions_accepts_a_rule_that_was_never_registered():
    routing = evaluator(on_source("registered"))
    extra = rules_from(on_source("extra"))[0]
    assert routing.apply_actions(incident(), [extra]).notify_channels == ("#extra",)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            RoutingRule(name="empty", actions=(Notify(channels=["#a"]),)),
            "rule 'empty': conditions: a rule needs at least one condition",
        ),
        (
            RoutingRule(name="idle", conditions=(RuleCondition(field="title", operator="exists"),)),
            "rule 'idle': actions: a rule needs at least one action",
        ),
        (
            RoutingRule(
                name="typo",
                conditions=(RuleCondition(field="titel", operator="exists"),),
                actions=(Notify(channels=["#a"]),),
            ),
            "rule 'typo': conditions[0].field: unknown field 'titel'",
        ),
        (
            RoutingRule(
                name="bad",
                conditions=(RuleCondition(field="severity", operator="in", value="P0"),),
                actions=(Notify(channels=["#a"]),),
            ),
            "rule 'bad': conditions[0].value: 'in' needs a list, got 'P0'",
        ),
    ],
)
def test_register_rule_rejects_unusable_rules_with_a_clear_error(rule, message):
    routing = tocsin.RoutingRuleEvaluator(builtin_registry())
    with pytest.raises(tocsin.RuleError) as caught:
        routing.register_rule(rule)
    assert message in str(caught.value)
    assert routing.rules == ()


def test_register_rule_refuses_a_second_rule_with_the_same_name():
    routing = evaluator(on_source("same"))
    with pytest.raises(tocsin.RuleError, match="rule 'same': a rule with this name is already registered"):
        routing.register_rule(rules_from(on_source("same"))[0])


def test_rules_registered_later_join_the_evaluation():
    routing = evaluator(on_source("first", 1))
    assert names(routing.evaluate_incident(incident())) == ["first"]
    routing.register_rule(rules_from(on_source("second", 2))[0])
    assert names(routing.evaluate_incident(incident())) == ["second", "first"]


def test_explain_gives_each_condition_and_why_each_rule_did_or_did_not_match():
    routing = evaluator(
        SECURITY,
        on_source("stopper", 50, stop=True),
        on_source("after-stop", 10),
        on_source("off", 60, enabled=False),
    )
    explained = routing.explain(incident(incident_type="Security", severity="P2"))
    document = explained.to_json()
    assert [(entry["rule"], entry["matched"]) for entry in document] == [
        ("Route Security Incidents", False),
        ("off", False),
        ("stopper", True),
        ("after-stop", False),
    ]
    security, off, stopper, after = document
    assert security["conditions"] == [
        {
            "field": "incident_type",
            "operator": "equals",
            "expected": "Security",
            "value": "Security",
            "missing": False,
            "result": True,
            "error": None,
        },
        {
            "field": "severity",
            "operator": "in",
            "expected": ["P0", "P1"],
            "value": "P2",
            "missing": False,
            "result": False,
            "error": None,
        },
    ]
    assert security["reason"] == "false: severity in"
    assert off["reason"] == "disabled"
    assert stopper["reason"] == "all conditions hold; stop: true ends evaluation"
    assert stopper["actions"] == [
        {"rule": "stopper", "action": "notify", "status": "applied", "detail": "notify #stopper"}
    ]
    assert after["reason"] == "not evaluated: rule 'stopper' matched and has stop: true"
    assert after["conditions"][0]["result"] is True  # its conditions are still shown
    assert names(explained.result.matched) == names(
        routing.evaluate_incident(incident(incident_type="Security", severity="P2"))
    )


def test_explain_shows_a_missing_field_as_missing():
    routing = evaluator(
        {**on_source("labelled"), "conditions": [{"field": "labels.team", "operator": "equals", "value": "db"}]}
    )
    [condition] = routing.explain(incident()).to_json()[0]["conditions"]
    assert (condition["value"], condition["missing"], condition["result"]) == (None, True, False)


class Counting:
    """A plugin whose operator and extractor count how often they are compiled and called."""

    def __init__(self):
        self.compiled = 0
        self.read = 0

    @tocsin.hookimpl
    def tocsin_register_operators(self, register):
        def compile_same(expected):
            self.compiled += 1
            return lambda actual: actual == expected

        register("same_as", compile_same)

    @tocsin.hookimpl
    def tocsin_register_extractors(self, register):
        def compile_shout(field):
            self.compiled += 1

            def get(current):
                self.read += 1
                return current.title.upper()

            return get

        register("shout", compile_shout)


def test_rules_compile_once_and_evaluation_never_calls_pluggy():
    counting = Counting()
    registry = tocsin.load_plugins(autoload=False, extra=[counting]).registry
    rule = RoutingRule(
        name="loud",
        conditions=(RuleCondition(field="shout", operator="same_as", value="DISK FULL ON DB-1"),),
        actions=(Assign(assignees=["ana@example.com"]),),
    )
    routing = tocsin.RoutingRuleEvaluator(registry, [rule])
    routing.evaluate_incident(incident())  # builds the plan

    def no_pluggy(*args, **kwargs):
        raise AssertionError("pluggy was called while routing")

    # Patched only around the loop: pytest itself runs on pluggy.
    with (
        patch.object(pluggy.HookCaller, "__call__", no_pluggy),
        patch.object(pluggy.HookCaller, "call_historic", no_pluggy),
    ):
        for _ in range(50):
            assert names(routing.route(incident()).matched) == ["loud"]
    assert counting.compiled == 2  # one operator compile and one extractor compile, ever
    assert counting.read == 51


def test_a_failing_condition_counts_as_no_match_and_is_logged_once():
    def tocsin_register_operators(register):
        def compile_fragile(expected):
            def test(actual):
                raise ZeroDivisionError("bad plugin")

            return test

        register("fragile", compile_fragile)

    registry = tocsin.load_plugins(
        autoload=False, extra=[make_plugin("fragile", tocsin_register_operators=tocsin_register_operators)]
    ).registry
    notify = Notify(channels=["#a"])
    routing = tocsin.RoutingRuleEvaluator(
        registry,
        [
            RoutingRule(
                name="fragile",
                priority=1,
                conditions=(RuleCondition(field="title", operator="fragile", value=1),),
                actions=(notify,),
            ),
            RoutingRule(name="fine", conditions=(RuleCondition(field="title", operator="exists"),), actions=(notify,)),
        ],
    )
    with capture_logs() as logs:
        for _ in range(3):
            assert names(routing.evaluate_incident(incident())) == ["fine"]
    failures = [(entry["rule"], entry["error"]) for entry in logs if entry["event"] == "routing.condition_failed"]
    assert failures == [("fragile", "ZeroDivisionError: bad plugin")]
    [condition] = routing.explain(incident()).rules[0].conditions
    assert condition.error == "the test failed: ZeroDivisionError: bad plugin"


def test_compile_conditions_is_reusable_on_its_own():
    conditions = tocsin.compile_conditions(
        [
            RuleCondition(field="severity", operator="in", value=["P0", "P1"]),
            RuleCondition(field="labels.team", operator="equals", value="db"),
        ],
        builtin_registry(),
    )
    assert len(conditions) == 2
    assert conditions(incident(severity="P0", labels={"team": "db"})) is True
    assert conditions(incident(severity="P0")) is False
    assert [r.result for r in conditions.explain(incident(severity="P3", labels={"team": "db"}))] == [False, True]
    assert tocsin.compile_conditions([], builtin_registry())(incident()) is True
