"""post_json against a real receiver on 127.0.0.1: signed requests, outcomes, retries driven by a manual clock."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from support.delivery_receiver import ConnectionSpy, Receiver, Reply, StubResolver

from tocsin import OutcomeKind, RetryPolicy, WebhookOutcome, make_session, post_json
from tocsin.clock import ManualClock

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
BODY = json.dumps({"incident": "inc-42", "level": 1}).encode()


@pytest.fixture
async def receiver():
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def spy(monkeypatch):
    loop = asyncio.get_running_loop()
    connection_spy = ConnectionSpy(loop)
    monkeypatch.setattr(loop, "sock_connect", connection_spy.sock_connect)
    yield connection_spy
    assert connection_spy.outside == []


@pytest.fixture
async def session():
    async with make_session(["127.0.0.1/32"], resolver=StubResolver({})) as client:
        yield client


@pytest.fixture
def clock():
    # Receivers check webhook-timestamp against their own clock, so virtual time starts at the real now.
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


async def send(session, url, clock, *, message_id="msg_2hVx1", secrets=(SECRET,), timeout=2.0) -> WebhookOutcome:
    return await post_json(
        session, url, BODY, message_id=message_id, secrets=list(secrets), timeout=timeout, now=clock.now()
    )


async def test_a_2xx_is_delivered_with_the_standard_webhooks_headers(session, receiver, clock, spy):
    url = receiver.script("/hook", Reply(status=204))
    outcome = await send(session, url, clock)
    assert outcome == WebhookOutcome(kind=OutcomeKind.DELIVERED, status=204, reason="HTTP 204 No Content")
    (request,) = receiver.on("/hook")
    assert request.body == BODY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == "msg_2hVx1"
    assert request.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert request.headers["User-Agent"] == "tocsin-webhooks"
    assert Webhook(SECRET).verify(request.body, request.headers) == {"incident": "inc-42", "level": 1}


async def test_every_rotated_secret_verifies_on_its_own(session, receiver, clock):
    url = receiver.script("/hook")
    await send(session, url, clock, secrets=(SECRET, OLD_SECRET))
    (request,) = receiver.on("/hook")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(request.body, request.headers)
    Webhook(OLD_SECRET).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)


async def test_500s_are_retried_on_the_backoff_schedule_until_delivered(session, receiver, clock):
    url = receiver.script("/hook", Reply(status=500), Reply(status=502), Reply(status=200))
    policy = RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=5)
    rng = random.Random(7)
    outcomes, waits = [], []
    while True:
        outcome = await send(session, url, clock)
        outcomes.append(outcome)
        wait = policy.next_delay(len(outcomes), rng=rng, retry_after=outcome.retry_after)
        if not outcome.retryable or wait is None:
            break
        waits.append(wait)
        clock.advance(seconds=wait)
    assert [(o.kind, o.status) for o in outcomes] == [
        (OutcomeKind.RETRY, 500),
        (OutcomeKind.RETRY, 502),
        (OutcomeKind.DELIVERED, 200),
    ]
    expected = random.Random(7)
    assert waits == [expected.uniform(0, 2), expected.uniform(0, 4)]
    requests = receiver.on("/hook")
    assert {r.headers["webhook-id"] for r in requests} == {"msg_2hVx1"}  # one idempotency key for all attempts
    for request in requests:  # each attempt is signed for its own timestamp
        Webhook(SECRET).verify(request.body, request.headers)


async def test_a_receiver_that_keeps_failing_is_given_up_after_max_attempts(session, receiver, clock):
    url = receiver.script("/hook", *[Reply(status=503)] * 10)
    policy = RetryPolicy(base_seconds=1, cap_seconds=4, max_attempts=3)
    attempts = 0
    while True:
        outcome = await send(session, url, clock)
        attempts += 1
        wait = policy.next_delay(attempts, rng=random.Random(attempts))
        if not outcome.retryable or wait is None:
            break
        clock.advance(seconds=wait)
    assert outcome.kind is OutcomeKind.RETRY and attempts == 3
    assert len(receiver.on("/hook")) == 3


async def test_429_with_retry_after_seconds_is_honoured(session, receiver, clock):
    url = receiver.script("/hook", Reply(status=429, headers={"Retry-After": "42"}))
    outcome = await send(session, url, clock)
    assert (outcome.kind, outcome.status, outcome.retry_after) == (OutcomeKind.RETRY, 429, 42.0)
    assert RetryPolicy(cap_seconds=300).next_delay(1, retry_after=outcome.retry_after) == 42.0


async def test_503_with_an_http_date_retry_after_counts_from_now(session, receiver, clock):
    when = format_datetime(clock.now() + timedelta(seconds=90), usegmt=True)
    url = receiver.script("/hook", Reply(status=503, headers={"Retry-After": when}))
    outcome = await send(session, url, clock)
    assert (outcome.kind, outcome.retry_after) == (OutcomeKind.RETRY, 90.0)


async def test_retry_after_is_capped_and_ignored_on_other_statuses(session, receiver, clock):
    url = receiver.script(
        "/hook", Reply(status=429, headers={"Retry-After": "86400"}), Reply(status=500, headers={"Retry-After": "5"})
    )
    capped = await post_json(
        session, url, BODY, message_id="m", secrets=[SECRET], timeout=2, now=clock.now(), max_retry_after=600
    )
    ignored = await send(session, url, clock)
    assert capped.retry_after == 600.0
    assert (ignored.kind, ignored.retry_after) == (OutcomeKind.RETRY, None)


async def test_a_slow_receiver_times_out_as_retryable(session, receiver, clock):
    url = receiver.script("/slow", Reply(hold=True))
    outcome = await send(session, url, clock, timeout=0.2)
    assert outcome == WebhookOutcome(kind=OutcomeKind.RETRY, reason="no answer within 0.2s")


async def test_a_slow_receiver_does_not_hold_up_another(session, receiver, clock):
    slow = receiver.script("/slow", Reply(hold=True))
    fast = receiver.script("/fast", Reply(status=200))
    slow_outcome, fast_outcome = await asyncio.gather(
        send(session, slow, clock, timeout=0.3), send(session, fast, clock)
    )
    assert fast_outcome.delivered and slow_outcome.kind is OutcomeKind.RETRY


async def test_410_means_the_endpoint_is_gone(session, receiver, clock):
    url = receiver.script("/hook", Reply(status=410))
    outcome = await send(session, url, clock)
    assert (outcome.kind, outcome.status) == (OutcomeKind.GONE, 410)
    assert not outcome.retryable and not outcome.delivered


async def test_a_redirect_is_not_followed_and_fails(session, receiver, clock):
    url = receiver.script("/hook", Reply(status=302, headers={"Location": receiver.url("/elsewhere")}))
    outcome = await send(session, url, clock)
    assert (outcome.kind, outcome.status) == (OutcomeKind.FAILED, 302)
    assert "not followed" in outcome.reason
    assert receiver.on("/elsewhere") == []


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, OutcomeKind.DELIVERED),
        (201, OutcomeKind.DELIVERED),
        (299, OutcomeKind.DELIVERED),
        (301, OutcomeKind.FAILED),
        (400, OutcomeKind.FAILED),
        (401, OutcomeKind.FAILED),
        (404, OutcomeKind.FAILED),
        (408, OutcomeKind.RETRY),
        (413, OutcomeKind.FAILED),
        (429, OutcomeKind.RETRY),
        (500, OutcomeKind.RETRY),
        (504, OutcomeKind.RETRY),
    ],
)
async def test_status_codes_are_classified(session, receiver, clock, status, kind):
    url = receiver.script("/hook", Reply(status=status))
    outcome = await send(session, url, clock)
    assert (outcome.kind, outcome.status) == (kind, status)
    assert outcome.reason.startswith(f"HTTP {status}")


async def test_a_refused_connection_is_retryable(session, clock):
    with socket.socket() as placeholder:  # a port nobody listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    outcome = await send(session, f"http://127.0.0.1:{port}/hook", clock)
    assert outcome.kind is OutcomeKind.RETRY and outcome.status is None
    assert outcome.reason.startswith("connection failed")


async def test_a_bad_secret_is_a_configuration_error_not_an_outcome(session, receiver, clock):
    url = receiver.script("/hook")
    with pytest.raises(ValueError, match="whsec_"):
        await send(session, url, clock, secrets=("not-a-whsec-secret",))
    with pytest.raises(ValueError, match="at least one webhook secret"):
        await send(session, url, clock, secrets=())
    assert receiver.requests == []
