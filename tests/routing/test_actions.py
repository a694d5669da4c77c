"""Routing actions change the incident for real, record effects, and the first rule in evaluation order wins."""

from __future__ import annotations

from typing import ClassVar

import attrs
from support.kernel_plugins import make_plugin
from support.routing import builtin_registry, evaluator, incident, rules_from

import tocsin
from tocsin.plugins.action_notify import Notify
from tocsin.plugins.action_playbook import ApplyPlaybook
from tocsin.plugins.action_suppress import Suppress
from tocsin.plugins.action_use_policy import UsePolicy
from tocsin.plugins.playbook_webhook import WebhookPlaybook


def rule(name, *actions, priority=0, when=None, **more):
    condition = when or {"field": "source", "operator": "equals", "value": "monitoring"}
    return {"name": name, "priority": priority, "conditions": [condition], "actions": list(actions), **more}


def effects(result):
    return [(e.rule, e.action, e.status) for e in result.effects]


def test_notify_collects_each_channel_once_in_evaluation_order():
    routing = evaluator(
        rule("low", {"type": "notify", "channels": ["#ops", "#db"]}, priority=1),
        rule("high", {"type": "notify", "channels": ["#db", "#oncall"]}, priority=5),
        rule("again", {"type": "notify", "channels": ["#oncall"]}, priority=0),
    )
    result = routing.route(incident())
    assert result.notify_channels == ("#db", "#oncall", "#ops")
    assert effects(result)[-1] == ("again", "notify", "ignored")


def test_assign_appends_without_duplicates():
    routing = evaluator(
        rule("a", {"type": "assign", "assignees": ["bo@example.com", "cy@example.com", "bo@example.com"]}),
        rule("b", {"type": "assign", "assignees": ["ana@example.com"]}),
    )
    result = routing.route(incident(assignees=["ana@example.com"]))
    assert result.incident.assignees == ("ana@example.com", "bo@example.com", "cy@example.com")
    assert effects(result) == [("a", "assign", "applied"), ("b", "assign", "ignored")]


def test_labels_from_the_first_rule_stand_and_other_keys_are_still_set():
    routing = evaluator(
        rule("later", {"type": "add_labels", "labels": {"team": "db", "tier": "1"}}, priority=1),
        rule("first", {"type": "add_labels", "labels": {"team": "storage"}}, priority=9),
    )
    result = routing.route(incident(labels={"team": "unknown", "env": "prod"}))
    assert result.incident.labels == {"team": "storage", "env": "prod", "tier": "1"}
    later = [e for e in result.effects if e.rule == "later"]
    assert [(e.status, e.detail) for e in later] == [
        ("applied", "set labels tier=1"),
        ("ignored", "kept team=storage (set by rule 'first')"),
    ]


def test_set_severity_conflict_goes_to_the_higher_priority_rule_even_if_defined_later():
    routing = evaluator(
        rule("defined-first", {"type": "set_severity", "severity": "P3"}, priority=1),
        rule("higher", {"type": "set_severity", "severity": "P0"}, priority=50),
    )
    original = incident(severity="P2")
    result = routing.route(original)
    assert result.incident.severity is tocsin.Severity.P0
    assert result.incident.priority_score == original.priority_score
    assert original.severity is tocsin.Severity.P2  # a new version; the input is untouched
    assert effects(result) == [("higher", "set_severity", "applied"), ("defined-first", "set_severity", "ignored")]


def test_equal_priorities_resolve_conflicts_in_definition_order():
    routing = evaluator(
        rule("one", {"type": "set_severity", "severity": "P4"}),
        rule("two", {"type": "set_severity", "severity": "P0"}),
    )
    assert routing.route(incident()).incident.severity is tocsin.Severity.P4


def test_suppress_and_use_policy_are_results_and_the_first_rule_wins():
    when = (tocsin.RuleCondition(field="source", operator="equals", value="monitoring"),)
    routing = tocsin.RoutingRuleEvaluator(
        builtin_registry(),
        [
            tocsin.RoutingRule(
                name="b",
                priority=1,
                conditions=when,
                actions=(Suppress(duration_minutes=5), UsePolicy(policy_id="loud")),
            ),
            tocsin.RoutingRule(
                name="a",
                priority=2,
                conditions=when,
                actions=(Suppress(duration_minutes=30), UsePolicy(policy_id="quiet")),
            ),
        ],
    )
    result = routing.route(incident())
    assert (result.suppress_minutes, result.policy_id) == (30, "quiet")
    assert result.outputs["policy_id"] == "quiet"
    assert [e.detail for e in result.effects if e.rule == "b"] == [
        "already suppressed for 30 minutes by rule 'a'",
        "policy stays 'quiet' (chosen by rule 'a')",
    ]


def test_no_matching_rule_leaves_the_incident_and_results_empty():
    routing = evaluator(
        rule(
            "never",
            {"type": "suppress", "duration_minutes": 5},
            when={"field": "source", "operator": "equals", "value": "x"},
        )
    )
    original = incident()
    result = routing.route(original)
    assert result.incident == original
    assert (result.matched, result.effects, result.policy_id, result.suppress_minutes, result.notify_channels) == (
        (),
        (),
        None,
        None,
        (),
    )


def python_rule(name, *actions, priority=0):
    """A rule built in Python, as an application that registers Python playbooks builds the rules naming them (a
    config file's apply_playbook must name one of its own playbooks)."""
    when = (tocsin.RuleCondition(field="source", operator="equals", value="monitoring"),)
    return tocsin.RoutingRule(name=name, priority=priority, conditions=when, actions=actions)


def test_a_python_playbook_runs_once_with_the_incident_as_earlier_actions_left_it():
    runs = []

    def restart(current):
        runs.append((current.severity.value, current.labels.get("team")))
        return "restarted db-1"

    routing = tocsin.RoutingRuleEvaluator(
        builtin_registry(),
        [
            *rules_from(rule("label", {"type": "add_labels", "labels": {"team": "db"}}, priority=3)),
            python_rule("heal", ApplyPlaybook(playbook_id="restart-db"), priority=2),
            python_rule("heal-again", ApplyPlaybook(playbook_id="restart-db"), priority=1),
        ],
        playbooks={"restart-db": restart},
    )
    result = routing.route(incident())
    assert runs == [("P2", "db")]
    assert [(e.rule, e.status, e.detail) for e in result.effects if e.action == "apply_playbook"] == [
        ("heal", "applied", "ran playbook 'restart-db': restarted db-1"),
        ("heal-again", "ignored", "playbook 'restart-db' already applied by rule 'heal'"),
    ]
    assert result.playbooks == ()  # nothing to queue: it ran in place


def test_an_unknown_or_failing_playbook_is_a_recorded_failure_not_a_crash():
    routing = tocsin.RoutingRuleEvaluator(
        builtin_registry(),
        [
            python_rule("missing", ApplyPlaybook(playbook_id="nope"), Notify(channels=("#a",))),
            python_rule("broken", ApplyPlaybook(playbook_id="boom")),
        ],
        playbook_specs={"restart-db": WebhookPlaybook(url="https://automation.example.com/restart-db")},
    )

    def boom(current):
        raise RuntimeError("disk on fire")

    routing.register_playbook("boom", boom)
    result = routing.route(incident())
    assert result.notify_channels == ("#a",)  # the other actions still ran
    failures = [(e.rule, e.detail) for e in result.effects if e.status == "failed"]
    assert failures == [
        ("missing", "unknown playbook 'nope'; known: boom, restart-db"),
        ("broken", "playbook 'boom' raised RuntimeError: disk on fire"),
    ]


def test_a_config_playbook_is_queued_once_never_run_by_routing_and_explain_only_says_it_would():
    config = tocsin.parse_config(
        {
            "playbooks": {"restart-db": {"type": "webhook", "url": "https://automation.example.com/restart-db"}},
            "rules": [
                rule("heal", {"type": "apply_playbook", "playbook_id": "restart-db"}, priority=2),
                rule("heal-again", {"type": "apply_playbook", "playbook_id": "restart-db"}, priority=1),
            ],
        },
        builtin_registry(),
    )
    assert config.playbooks == {"restart-db": WebhookPlaybook(url="https://automation.example.com/restart-db")}
    routing = tocsin.RoutingRuleEvaluator(builtin_registry(), config.rules, playbook_specs=config.playbooks)
    result = routing.route(incident())
    assert result.playbooks == ("restart-db",)
    assert [(e.rule, e.status, e.detail) for e in result.effects] == [
        (
            "heal",
            "queued",
            "playbook 'restart-db' (webhook) queued: it runs through the outbox once the incident is saved",
        ),
        ("heal-again", "ignored", "playbook 'restart-db' already applied by rule 'heal'"),
    ]
    explained = routing.explain(incident())
    assert explained.result.playbooks == ()
    assert explained.rules[0].effects[0].to_json() == {
        "rule": "heal",
        "action": "apply_playbook",
        "status": "applied",
        "detail": "would queue playbook 'restart-db' (webhook) (dry run)",
    }


def test_no_playbook_starts_for_an_incident_that_is_already_resolved():
    runs = []
    routing = tocsin.RoutingRuleEvaluator(
        builtin_registry(), [python_rule("heal", ApplyPlaybook(playbook_id="p"))], playbooks={"p": runs.append}
    )
    result = routing.route(incident(state="Resolved"))
    assert runs == [] and result.playbooks == ()
    assert [(e.status, e.detail) for e in result.effects] == [
        ("ignored", "the incident is Resolved: playbook 'p' not started")
    ]


def test_explain_never_runs_a_playbook():
    runs = []
    routing = tocsin.RoutingRuleEvaluator(
        builtin_registry(), [python_rule("heal", ApplyPlaybook(playbook_id="p"))], playbooks={"p": runs.append}
    )
    explained = routing.explain(incident())
    assert runs == []
    assert explained.rules[0].effects[0].detail == "would run playbook 'p' (dry run)"


@attrs.frozen(kw_only=True)
class Page:
    type: ClassVar[str] = "page"
    who: str


def test_plugin_actions_use_the_context_and_a_raising_action_is_recorded():
    def apply_page(action, ctx):
        if action.who == "nobody":
            raise ValueError("nobody to page")
        ctx.add_to_output("pages", [action.who])

    def tocsin_register_actions(register):
        register(Page, apply=apply_page)

    registry = tocsin.load_plugins(
        autoload=False, extra=[make_plugin("pager", tocsin_register_actions=tocsin_register_actions)]
    ).registry
    when = (tocsin.RuleCondition(field="severity", operator="exists"),)
    routing = tocsin.RoutingRuleEvaluator(
        registry,
        [
            tocsin.RoutingRule(name="a", conditions=when, actions=(Page(who="ana"), Page(who="nobody"))),
            tocsin.RoutingRule(name="b", conditions=when, actions=(Page(who="ana"), Page(who="bo"))),
        ],
    )
    result = routing.route(incident())
    assert result.outputs["pages"] == ("ana", "bo")
    assert [(e.rule, e.status, e.detail) for e in result.effects] == [
        ("a", "applied", "applied Page(who='ana')"),
        ("a", "failed", "ValueError: nobody to page"),
        ("b", "applied", "applied Page(who='ana')"),
        ("b", "applied", "applied Page(who='bo')"),
    ]
