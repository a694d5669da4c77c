"""Standard Webhooks signatures: interoperable with the ``standardwebhooks`` package in both directions."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from tocsin import InvalidSignature, signature_header, webhook_headers
from tocsin.delivery.webhook.signing import secret_bytes, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEXT_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
AT = datetime(2026, 3, 2, 9, 30, 15, 900000, tzinfo=UTC)
BODY = b'{"incident":"inc-42"}'

ids = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","), min_size=1, max_size=40)
keys = st.binary(min_size=1, max_size=64)


def test_the_signature_matches_the_specification_example():
    # The example of the Standard Webhooks specification (and of its reference libraries).
    header = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    )
    assert header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_timestamp_is_whole_unix_seconds():
    headers = webhook_headers(SECRET, "msg_1", AT, BODY)
    assert headers["webhook-timestamp"] == str(int(AT.timestamp()))
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-signature"] == sign(SECRET, "msg_1", int(AT.timestamp()), BODY)


@given(msg_id=ids, body=st.binary(max_size=500), key=keys)
def test_standardwebhooks_verifies_what_we_sign(msg_id, body, key):
    now = datetime.now(UTC)
    whsec = "whsec_" + base64.b64encode(key).decode()
    text = body.decode("latin-1").encode("utf-8")  # the library verifies text bodies
    headers = webhook_headers([whsec], msg_id, now, text)
    Webhook(whsec).verify(text, headers, json_parse=False)
    Webhook(key).verify(text, headers, json_parse=False)  # a raw-bytes secret is the same key


@given(msg_id=ids, key=keys, body=st.text(max_size=200))
def test_we_verify_what_standardwebhooks_signs(msg_id, key, body):
    now = datetime.now(UTC).replace(microsecond=0)
    signature = Webhook(key).sign(msg_id, now, body)
    headers = {"Webhook-Id": msg_id, "Webhook-Timestamp": str(int(now.timestamp())), "Webhook-Signature": signature}
    verify([key], headers, body.encode(), now=now)


def test_rotation_sends_one_signature_per_secret_and_either_secret_verifies():
    header = signature_header([SECRET, NEXT_SECRET], "msg_1", AT, BODY)
    first, second = header.split(" ")
    assert first == sign(SECRET, "msg_1", AT, BODY) and second == sign(NEXT_SECRET, "msg_1", AT, BODY)
    headers = webhook_headers([SECRET, NEXT_SECRET], "msg_1", AT, BODY)
    verify(SECRET, headers, BODY, now=AT)
    verify([NEXT_SECRET], headers, BODY, now=AT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": b'{"incident":"inc-43"}'}, "no v1 signature"),
        ({"secrets": ["whsec_" + base64.b64encode(b"another key").decode()]}, "no v1 signature"),
        ({"now": AT + timedelta(minutes=6)}, "too old"),
        ({"now": AT - timedelta(minutes=6)}, "too far in the future"),
    ],
)
def test_verify_rejects_tampering_wrong_keys_and_stale_messages(change, message):
    headers = webhook_headers(SECRET, "msg_1", AT, BODY)
    arguments = {"secrets": [SECRET], "body": BODY, "now": AT, **change}
    with pytest.raises(InvalidSignature, match=message):
        verify(arguments["secrets"], headers, arguments["body"], now=arguments["now"])


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}, "missing header 'webhook-id'"),
        ({"webhook-id": "m", "webhook-signature": "v1,AAAA"}, "missing header 'webhook-timestamp'"),
        ({"webhook-id": "m", "webhook-timestamp": "soon", "webhook-signature": "v1,x"}, "must be Unix seconds"),
    ],
)
def test_verify_names_the_faulty_header(headers, message):
    with pytest.raises(InvalidSignature, match=message):
        verify(SECRET, headers, BODY, now=AT)


def test_signatures_of_other_versions_or_garbage_are_skipped():
    good = sign(SECRET, "msg_1", AT, BODY)
    headers = webhook_headers(SECRET, "msg_1", AT, BODY)
    headers["webhook-signature"] = f"v1a,abc v1,***not-base64*** {good}"
    verify(SECRET, headers, BODY, now=AT)
    headers["webhook-signature"] = "v2," + good.split(",")[1]
    with pytest.raises(InvalidSignature):
        verify(SECRET, headers, BODY, now=AT)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must look like 'whsec_<base64>'"),
        ("whsec_not base64!", "must be base64"),
        ("whsec_", "must not be empty"),
        (b"", "must not be empty"),
    ],
)
def test_malformed_secrets_are_refused_without_repeating_them(secret, message):
    with pytest.raises(ValueError, match=message) as caught:
        secret_bytes(secret)
    assert "MfKQ9r8G" not in str(caught.value) and "not base64" not in str(caught.value)


def test_unpadded_base64_secrets_are_accepted():
    key = b"sixteen byte key!"
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    assert secret_bytes(unpadded) == key


@pytest.mark.parametrize("msg_id", ["", "has space", "a,b", "line\nbreak"])
def test_message_ids_that_would_break_the_headers_are_refused(msg_id):
    with pytest.raises(ValueError, match="webhook id"):
        webhook_headers(SECRET, msg_id, AT, BODY)


def test_a_naive_timestamp_is_refused():
    with pytest.raises(ValueError, match="needs a time zone"):
        sign(SECRET, "msg_1", datetime(2026, 3, 2, 9, 30), BODY)
