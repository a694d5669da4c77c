"""Backoff: exponential ceilings, full jitter inside them, a fixed number of attempts, and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin import FieldError, RetryPolicy, parse_retry_after

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

policies = st.builds(
    lambda base, factor, attempts: RetryPolicy(base_seconds=base, cap_seconds=base * factor, max_attempts=attempts),
    base=st.floats(min_value=0.001, max_value=600, allow_nan=False),
    factor=st.floats(min_value=1, max_value=10_000, allow_nan=False),
    attempts=st.integers(min_value=1, max_value=60),
)


@given(policy=policies, seed=st.integers())
def test_every_wait_is_within_zero_and_its_ceiling(policy, seed):
    rng = random.Random(seed)
    waits = policy.schedule(rng=rng)
    assert len(waits) == policy.max_attempts - 1
    for attempt, wait in enumerate(waits, start=1):
        assert 0 <= wait <= policy.ceiling(attempt) <= policy.cap_seconds


@given(policy=policies, attempt=st.integers(min_value=1, max_value=5000))
def test_ceilings_double_until_the_cap_and_never_decrease(policy, attempt):
    here, after = policy.ceiling(attempt), policy.ceiling(attempt + 1)
    assert here <= after <= policy.cap_seconds
    assert after == min(policy.cap_seconds, here * 2) or here == policy.cap_seconds


@given(policy=policies, seed=st.integers())
def test_the_whole_schedule_is_bounded(policy, seed):
    total = sum(policy.schedule(rng=random.Random(seed)))
    assert (
        total
        <= sum(policy.ceiling(n) for n in range(1, policy.max_attempts))
        <= policy.cap_seconds * policy.max_attempts
    )


@given(policy=policies, seed=st.integers())
def test_a_seeded_rng_gives_a_reproducible_schedule(policy, seed):
    assert policy.schedule(rng=random.Random(seed)) == policy.schedule(rng=random.Random(seed))


@given(policy=policies, made=st.integers(min_value=1, max_value=100), retry_after=st.none() | st.floats(-10, 1e7))
def test_there_is_no_next_attempt_once_max_attempts_are_used(policy, made, retry_after):
    wait = policy.next_delay(made, rng=random.Random(0), retry_after=retry_after)
    if made >= policy.max_attempts:
        assert wait is None
    else:
        assert wait is not None and 0 <= wait <= policy.cap_seconds


def test_retry_after_replaces_the_random_wait_within_the_cap():
    policy = RetryPolicy(base_seconds=1, cap_seconds=120, max_attempts=4)
    assert policy.next_delay(1, retry_after=30) == 30
    assert policy.next_delay(1, retry_after=1000) == 120
    assert policy.next_delay(1, retry_after=-5) == 0
    assert policy.next_delay(4, retry_after=30) is None


def test_the_defaults_give_up_within_about_ten_minutes():
    policy = RetryPolicy()
    assert [policy.ceiling(n) for n in range(1, policy.max_attempts)] == [5, 10, 20, 40, 80, 160, 300]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"base_seconds": 0}, "base_seconds", "must be greater than 0"),
        ({"cap_seconds": -1}, "cap_seconds", "must be greater than 0"),
        ({"max_attempts": 0}, "max_attempts", "must be 1 or more"),
        ({"base_seconds": 10, "cap_seconds": 5}, "cap_seconds", "must be at least base_seconds"),
    ],
)
def test_bad_settings_name_the_field(fields, field, message):
    with pytest.raises(FieldError, match=message) as caught:
        RetryPolicy(**fields)
    assert caught.value.field == field


def test_attempts_are_numbered_from_one():
    with pytest.raises(ValueError, match="numbered from 1"):
        RetryPolicy().ceiling(0)
    with pytest.raises(ValueError, match="attempts already made"):
        RetryPolicy().next_delay(0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("99999999999999999999999999", 3600.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW + timedelta(days=3), usegmt=True), 3600.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),
        ("Mon, 02 Mar 2026 09:02:00 GMT", 120.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_is_read_in_both_forms_and_capped(header, seconds):
    assert parse_retry_after(header, now=NOW, cap=3600) == seconds


def test_retry_after_needs_an_aware_now():
    with pytest.raises(ValueError, match="aware"):
        parse_retry_after("5", now=datetime(2026, 3, 2, 9, 0), cap=60)
