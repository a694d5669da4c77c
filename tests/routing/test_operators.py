"""Condition operators: every semantic rule of DESIGN.md section 5, including missing fields and wrong types."""

from __future__ import annotations

import re

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from support.routing import builtin_registry, holds, incident

import tocsin
from tocsin import RuleCondition

INCIDENT = incident(
    title="Disk full on db-1",
    severity="P1",
    incident_type="Infrastructure",
    assignees=["ana@example.com", "bo@example.com"],
    labels={"team": "storage", "count": "5", "empty": ""},
    payload={"flag": True, "one": 1, "ratio": 0.5, "pair": [1, 2], "host": {"name": "db-1"}, "nothing": None},
)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("title", "Disk full on db-1", True),
        ("title", "disk full on db-1", False),  # case matters
        ("severity", "P1", True),
        ("incident_type", "Infrastructure", True),
        ("priority_score", 1, True),
        ("priority_score", 1.0, True),  # numbers compare as numbers
        ("priority_score", True, False),  # true is not 1
        ("priority_score", "1", False),  # a string is not a number
        ("labels.count", 5, False),  # labels are strings
        ("labels.team", "storage", True),
        ("labels.nope", "storage", False),  # missing field
        ("jmespath:payload.flag", True, True),
        ("jmespath:payload.flag", 1, False),
        ("jmespath:payload.one", True, False),
        ("jmespath:payload.pair", [1.0, 2], True),  # lists compare element by element
        ("jmespath:payload.host", {"name": "db-1"}, True),
        ("assignees", ["ana@example.com", "bo@example.com"], True),
    ],
)
def test_equals_and_its_exact_negation(field, value, expected):
    assert holds(field, "equals", value, on=INCIDENT) is expected
    assert holds(field, "not_equals", value, on=INCIDENT) is (not expected)


def test_not_equals_holds_for_a_missing_field():
    assert holds("labels.absent", "not_equals", "x", on=INCIDENT) is True


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("title", "full", True),
        ("title", "FULL", False),
        ("assignees", "ana@example.com", True),  # membership on a list field
        ("assignees", "ana", False),  # not a substring of a member
        ("jmespath:payload.pair", 2.0, True),
        ("jmespath:payload.pair", True, False),
        ("priority_score", "1", False),  # wrong type
        ("jmespath:payload.host", "name", False),  # a mapping is the wrong type
        ("labels.nope", "x", False),  # missing
    ],
)
def test_contains_and_its_exact_negation(field, value, expected):
    assert holds(field, "contains", value, on=INCIDENT) is expected
    assert holds(field, "not_contains", value, on=INCIDENT) is (not expected)


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("priority_score", "greater_than", 0, True),
        ("priority_score", "greater_than", 1, False),
        ("priority_score", "greater_or_equal", 1, True),
        ("priority_score", "less_than", 1.5, True),
        ("priority_score", "less_or_equal", 0.5, False),
        ("jmespath:payload.ratio", "less_than", 1, True),
        ("jmespath:payload.flag", "greater_than", 0, False),  # true is not a number
        ("labels.count", "greater_than", 1, False),  # "5" is a string
        ("labels.nope", "less_than", 100, False),  # missing
        ("title", "greater_or_equal", 0, False),
    ],
)
def test_comparisons_only_hold_for_numbers(field, operator, value, expected):
    assert holds(field, operator, value, on=INCIDENT) is expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("severity", ["P0", "P1"], True),
        ("severity", ["P2", "P3"], False),
        ("severity", [], False),
        ("priority_score", [1.0, 7], True),
        ("jmespath:payload.flag", [1], False),  # true is not 1
        ("jmespath:payload.one", [True], False),
        ("jmespath:payload.one", ["1"], False),
        ("jmespath:payload.pair", [[1, 2], "x"], True),  # deep equality for lists
        ("labels.nope", ["storage"], False),  # missing
        ("assignees", ["ana@example.com"], False),  # the whole list is not one of the values
    ],
)
def test_in_and_its_exact_negation(field, value, expected):
    assert holds(field, "in", value, on=INCIDENT) is expected
    assert holds(field, "not_in", value, on=INCIDENT) is (not expected)


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("title", "starts_with", "Disk", True),
        ("title", "starts_with", "full", False),
        ("title", "ends_with", "db-1", True),
        ("severity", "starts_with", "P", True),
        ("priority_score", "starts_with", "1", False),  # wrong type
        ("assignees", "ends_with", "example.com", False),  # a list is not a string
        ("labels.nope", "starts_with", "", False),  # missing, even for the empty prefix
    ],
)
def test_starts_with_and_ends_with(field, operator, value, expected):
    assert holds(field, operator, value, on=INCIDENT) is expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("title", r"full on db-\d+", True),  # unanchored search
        ("title", r"^full", False),
        ("title", r"(?i)DISK", True),
        ("labels.team", r"stor", True),
        ("priority_score", r"1", False),  # wrong type
        ("assignees", r"ana", False),
        ("labels.nope", r".*", False),  # missing
    ],
)
def test_matches_searches_strings_only(field, value, expected):
    assert holds(field, "matches", value, on=INCIDENT) is expected


@pytest.mark.parametrize(
    ("field", "present"),
    [
        ("labels.team", True),
        ("labels.empty", True),  # an empty string is a value
        ("labels.nope", False),
        ("jmespath:payload.host.name", True),
        ("jmespath:payload.nothing", False),  # null counts as missing
        ("jmespath:payload.host.port", False),
        ("description", True),
    ],
)
def test_exists_and_not_exists(field, present):
    assert holds(field, "exists", on=INCIDENT) is present
    assert holds(field, "not_exists", on=INCIDENT) is (not present)


def test_a_catastrophic_pattern_times_out_as_no_match_and_is_logged_once_per_rule():
    evaluator = tocsin.RoutingRuleEvaluator(
        builtin_registry(),
        [
            _rule("backtracking", RuleCondition(field="title", operator="matches", value=r"(x+x+)+y")),
            _rule("plain", RuleCondition(field="title", operator="starts_with", value="xx")),
        ],
    )
    stuck = incident(title="x" * 5000)
    with capture_logs() as logs:
        first = evaluator.evaluate_incident(stuck)
        second = evaluator.evaluate_incident(stuck)
    assert [rule.name for rule in first] == ["plain"]
    assert [rule.name for rule in second] == ["plain"]
    timeouts = [entry for entry in logs if entry["event"] == "routing.condition_timed_out"]
    assert [entry["rule"] for entry in timeouts] == ["backtracking"]


def test_explain_marks_a_timed_out_condition():
    evaluator = tocsin.RoutingRuleEvaluator(
        builtin_registry(), [_rule("slow", RuleCondition(field="title", operator="matches", value=r"(a|aa)+$"))]
    )
    explained = evaluator.explain(incident(title="a" * 80 + "b")).rules[0]
    assert explained.matched is False
    assert explained.conditions[0].result is False
    assert "timed out" in (explained.conditions[0].error or "")


def test_matches_reads_only_the_first_64k_characters():
    head = incident(title="needle " + "x" * 70_000)
    tail = incident(title="x" * 70_000 + " needle")
    assert holds("title", "matches", "needle", on=head) is True
    assert holds("title", "matches", "needle", on=tail) is False


@pytest.mark.parametrize(
    ("operator", "value", "message"),
    [
        ("in", "P0", "'in' needs a list, got 'P0'"),
        ("not_in", {"a": 1}, "'not_in' needs a list"),
        ("greater_than", "3", "'greater_than' needs a number, got '3'"),
        ("less_or_equal", True, "'less_or_equal' needs a number, got True"),
        ("less_than", float("nan"), "'less_than' needs a number"),
        ("matches", "(unclosed", "'matches' needs a valid regular expression"),
        ("matches", 5, "'matches' needs a regular expression (a string), got 5"),
        ("matches", "a" * 5000, "the limit is 4096"),
        ("starts_with", 5, "'starts_with' needs a string, got 5"),
        ("contains", {"a": 1}, "'contains' needs a string"),
        ("not_contains", None, "'not_contains' needs a string"),
        ("equals", None, "'equals' needs a value"),
        ("exists", "yes", "'exists' takes no value, got 'yes'"),
    ],
)
def test_bad_values_are_load_errors_naming_the_value(operator, value, message):
    condition = RuleCondition(field="title", operator=operator, value=value)
    with pytest.raises(tocsin.RuleError) as caught:
        tocsin.compile_conditions([condition], builtin_registry(), path="$.rules[3].conditions")
    [(path, text)] = caught.value.issues
    assert path == "$.rules[3].conditions[0].value"
    assert message in text


def test_an_unknown_operator_lists_the_known_ones():
    condition = RuleCondition(field="title", operator="equal", value="x")
    with pytest.raises(tocsin.RuleError) as caught:
        tocsin.compile_conditions([condition], builtin_registry())
    [(path, text)] = caught.value.issues
    assert path == "conditions[0].operator"
    assert "unknown condition operator 'equal'" in text
    assert "ends_with, equals, exists" in text
    assert "did you mean 'equals'?" in text


def _rule(name: str, condition: RuleCondition) -> tocsin.RoutingRule:
    notify = builtin_registry().actions.get("notify").cls
    return tocsin.RoutingRule(name=name, conditions=(condition,), actions=(notify(channels=["#x"]),))


ATOMS = st.sampled_from(
    ["a", "b", "ab", "aab", "bab", "aab", "(a|b)", "[ab]", ".", "\\.", "\\d", "-", "]", "^", "$", "(?=a)"]
)
QUANTIFIERS = st.sampled_from(["", "", "", "?", "*", "+", "{2}", "{0}", "{e<=1}", "|"])
PIECES = st.tuples(ATOMS, QUANTIFIERS).map("".join)
CHUNKS = st.sampled_from(["a", "b", "ab", "aab", "ba", "-", ".", "A", "1"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    flags=st.sampled_from(["", "", "", "(?i)"]),
    pieces=st.lists(PIECES, min_size=1, max_size=6),
    data=st.data(),
)
def test_matches_agrees_with_a_plain_regex_search(flags, pieces, data):
    pattern = flags + "".join(pieces)
    try:
        compiled = regex.compile(pattern)
        near = st.from_regex(re.compile(pattern)) if "{e" not in pattern else st.nothing()
    except (regex.error, re.error):
        return
    # Texts the pattern matches (or nearly: the search is unanchored, so noise around them too), and random ones.
    text = data.draw(st.one_of(near, st.lists(CHUNKS, max_size=8).map("".join)))
    expected = compiled.search(text) is not None
    assert holds("title", "matches", pattern, on=incident(title=text)) is expected


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("aab?", "aa"),  # an optional character is not required
        ("xa*yz", "xyz"),
        ("ab{0}cd", "acd"),
        ("abc{e<=1}", "abd"),  # fuzzy
        ("a|bcd", "a"),  # alternation at the top level
        ("(?i)DISK", "disk"),  # inline flags
        ("ab[cd]efg", "abdefg"),
        ("(abc)?def", "def"),
        ("[[:alpha:]]]abc", "x]abc"),
        ("xa+yz", "xaaayz"),
        (r"on db-\d+\.", "disk on db-12."),
    ],
)
def test_matches_finds_what_a_plain_search_finds(pattern, text):
    assert holds("title", "matches", pattern, on=incident(title=text)) is True
    assert holds("title", "matches", pattern, on=incident(title=text[:-1] + "~")) is (
        regex.search(pattern, text[:-1] + "~") is not None
    )
