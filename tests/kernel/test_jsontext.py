"""Compact JSON for answers, rows and log lines: what orjson writes, and what it refuses written as the standard
library writes it (integers beyond 64 bits, lone surrogates, non-string keys), read back as the same value."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tocsin.jsontext import dumps, dumps_bytes


@pytest.mark.parametrize(
    "value",
    [
        {"id": "inc-1", "labels": {"team": "db"}, "score": 1.5, "ok": True, "none": None, "list": [1, 2, 3]},
        {"payload": {"huge": 2**80, "negative": -(2**70)}},  # beyond 64 bits: the standard library writes them
        {"text": "caf\u00e9 \U0001f525 \u2028"},
    ],
)
def test_what_is_written_reads_back_as_the_same_value(value):
    assert json.loads(dumps(value)) == value
    assert json.loads(dumps_bytes(value)) == value


def test_the_text_is_compact_utf8():
    assert dumps_bytes({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'


def test_integer_keys_are_written_as_strings_as_the_standard_library_writes_them():
    assert dumps({1: "one"}) == '{"1":"one"}'


def test_a_lone_surrogate_is_escaped_in_bytes_and_kept_in_text():
    assert dumps_bytes({"x": "\ud800"}) == b'{"x":"\\ud800"}'
    assert dumps({"x": "\ud800"}) == '{"x":"\ud800"}'


def test_a_date_time_goes_to_default_or_is_refused_as_with_the_standard_library():
    at = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(TypeError):
        dumps({"at": at})
    assert dumps({"at": at}, default=repr) == json.dumps({"at": repr(at)}, separators=(",", ":"))
