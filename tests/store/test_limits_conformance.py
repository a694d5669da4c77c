"""Every store keeps the same promises about one-time credentials (an action link works once, across a reopen,
and a rolled-back use leaves it unused) and rate limits per contact (a sliding window of sends, pages folded
when it is full, one summary of them that holds a slot of its own, all of it surviving a reopen)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from support.store import START, STORE_KINDS, Stores, notification, open_stores, row

import tocsin
from tocsin.delivery.ratelimit import summary_notification

MINUTE = timedelta(minutes=1)
WINDOW = 600.0  # 10 minutes
ENDPOINT = "oncall@example.com"


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path) -> Iterator[Stores]:
    yield from open_stores(request.param, tmp_path, request)


class Rollback(Exception):
    pass


def test_a_one_time_key_is_used_once_and_remembered_after_a_reopen(stores: Stores):
    store = stores.escalations
    expires = START + timedelta(hours=24)
    assert store.use_once("link:abc", at=START, expires_at=expires) is None
    assert store.use_once("link:abc", at=START + MINUTE, expires_at=expires) == START
    assert store.use_once("link:other", at=START + MINUTE, expires_at=expires) is None
    again = stores.reopen().escalations
    assert again.use_once("link:abc", at=START + 2 * MINUTE, expires_at=expires) == START


def test_a_use_inside_a_block_that_rolls_back_leaves_the_key_unused(stores: Stores):
    store = stores.escalations
    expires = START + timedelta(hours=24)
    with pytest.raises(Rollback), store.atomic():
        assert store.use_once("link:abc", at=START, expires_at=expires) is None
        raise Rollback
    assert store.use_once("link:abc", at=START + MINUTE, expires_at=expires) is None
    assert store.use_once("link:abc", at=START + 2 * MINUTE, expires_at=expires) == START + MINUTE


def page(key: str) -> tocsin.Notification:
    return notification(key, "inc-1#1")


def written(stores: Stores, *keys: str) -> None:
    stores.escalations.commit(row(), expected_version=None, notifications=[page(key) for key in keys])


def claim_and_slot(store, key: str, at, limit: int = 2, *, sent: bool = True):
    """Claim ``key`` and ask for a slot; a page that gets one is sent (when ``sent``)."""
    attempt = store.claim(key, now=at, lease_seconds=60)
    assert attempt is not None
    folded_until = store.take_slot(page(key), ENDPOINT, now=at, limit=limit, window_seconds=WINDOW)
    if folded_until is None and sent:
        store.finish(tocsin.DeliveryResult(key=key, ok=True, detail="logged", attempts=attempt, at=at))
    return folded_until


def test_the_window_holds_limit_sends_then_folds_and_journals_the_rest(stores: Stores):
    store = stores.escalations
    written(stores, "k1", "k2", "k3", "k4")
    assert claim_and_slot(store, "k1", START) is None
    assert claim_and_slot(store, "k2", START + MINUTE) is None
    assert claim_and_slot(store, "k3", START + 2 * MINUTE) == START + 10 * MINUTE  # k1 leaves the window then
    assert claim_and_slot(store, "k4", START + 3 * MINUTE) == START + 10 * MINUTE
    folded = store.delivery("k3")
    assert folded.status is tocsin.DeliveryStatus.FOLDED and not folded.result.ok
    assert "held back by the log rate limit (2 per 10 min" in folded.result.detail
    assert store.due_deliveries(START + 60 * MINUTE) == [] and store.dead_letters() == []
    assert [r.detail for r in store.delivery_log("k3")] == [folded.result.detail]
    journal = [e for e in store.events("inc-1#1") if e.kind == "rate_limited"]
    assert [e.detail for e in journal] == [
        f"page to {ENDPOINT}: {store.delivery(k).result.detail}" for k in ("k3", "k4")
    ]
    assert store.next_delivery_at() == START + 10 * MINUTE  # the summary


def test_a_retry_keeps_the_slot_its_first_attempt_took(stores: Stores):
    store = stores.escalations
    written(stores, "k1", "k2")
    assert claim_and_slot(store, "k1", START, limit=1, sent=False) is None
    store.finish(tocsin.DeliveryResult(key="k1", ok=False, detail="503", attempts=1), retry_at=START + MINUTE)
    assert claim_and_slot(store, "k1", START + MINUTE, limit=1) is None  # the same page again: no new slot
    assert claim_and_slot(store, "k2", START + MINUTE, limit=1) == START + 10 * MINUTE


def test_one_summary_carries_every_folded_page_and_holds_a_slot(stores: Stores):
    store = stores.escalations
    written(stores, "k1", "k2", "k3", "k4")
    claim_and_slot(store, "k1", START, limit=1)
    claim_and_slot(store, "k2", START + MINUTE, limit=1)
    claim_and_slot(store, "k3", START + 2 * MINUTE, limit=1)
    assert store.due_summaries(START + 9 * MINUTE) == []
    due = START + 10 * MINUTE
    assert store.due_summaries(due) == [("log", ENDPOINT)]
    summary = store.summarize("log", ENDPOINT, now=due, limit=1, window_seconds=WINDOW, build=summary_notification)
    assert [p.key for p in summary.folded] == ["k2", "k3"]
    assert summary.recipient == page("k2").recipient and summary.key == "summary/k2"
    assert [n.key for n in store.pending()] == ["k4", "summary/k2"]
    assert store.delivery("summary/k2").notification == summary
    assert store.due_summaries(due + 60 * MINUTE) == [] and store.next_delivery_at() is None
    # The summary took the slot: a page right after it is folded for the next summary.
    assert claim_and_slot(store, "k4", due + MINUTE, limit=1) == due + 10 * MINUTE


def test_a_summary_without_a_free_slot_waits_for_the_next(stores: Stores):
    store = stores.escalations
    written(stores, "k1", "k2", "k3")
    claim_and_slot(store, "k1", START, limit=1)
    claim_and_slot(store, "k2", START + MINUTE, limit=1)  # folded until START + 10
    assert claim_and_slot(store, "k3", START + 10 * MINUTE, limit=1) is None  # another sender took the free slot
    made = store.summarize(
        "log", ENDPOINT, now=START + 10 * MINUTE, limit=1, window_seconds=WINDOW, build=summary_notification
    )
    assert made is None
    assert store.due_summaries(START + 19 * MINUTE) == [] and store.next_delivery_at() == START + 20 * MINUTE
    later = store.summarize(
        "log", ENDPOINT, now=START + 20 * MINUTE, limit=1, window_seconds=WINDOW, build=summary_notification
    )
    assert [p.key for p in later.folded] == ["k2"]


def test_folded_pages_and_the_window_survive_a_reopen(stores: Stores):
    store = stores.escalations
    written(stores, "k1", "k2", "k3")
    claim_and_slot(store, "k1", START, limit=1)
    claim_and_slot(store, "k2", START + MINUTE, limit=1)
    again = stores.reopen().escalations
    assert again.delivery("k2").status is tocsin.DeliveryStatus.FOLDED
    assert again.next_delivery_at() == START + 10 * MINUTE
    assert claim_and_slot(again, "k3", START + 2 * MINUTE, limit=1) == START + 10 * MINUTE  # the window held
    summary = again.summarize(
        "log", ENDPOINT, now=START + 10 * MINUTE, limit=1, window_seconds=WINDOW, build=summary_notification
    )
    assert [p.key for p in summary.folded] == ["k2", "k3"]


def test_a_summary_made_in_a_block_that_rolls_back_is_made_again(stores: Stores):
    store = stores.escalations
    written(stores, "k1", "k2")
    claim_and_slot(store, "k1", START, limit=1)
    claim_and_slot(store, "k2", START + MINUTE, limit=1)
    due = START + 10 * MINUTE
    with pytest.raises(Rollback), store.atomic():
        assert store.summarize("log", ENDPOINT, now=due, limit=1, window_seconds=WINDOW, build=summary_notification)
        raise Rollback
    assert store.delivery("summary/k2") is None and store.due_summaries(due) == [("log", ENDPOINT)]
    again = store.summarize("log", ENDPOINT, now=due, limit=1, window_seconds=WINDOW, build=summary_notification)
    assert [p.key for p in again.folded] == ["k2"]


def test_windows_are_per_contact_and_per_channel(stores: Stores):
    store = stores.escalations
    written(stores, "k1", "k2")
    store.enqueue([notification("w1", "", channel="webhook", address=ENDPOINT)])
    assert claim_and_slot(store, "k1", START, limit=1) is None
    assert store.claim("k2", now=START, lease_seconds=60) == 1
    assert store.take_slot(page("k2"), "someone-else", now=START, limit=1, window_seconds=WINDOW) is None
    assert store.claim("w1", now=START, lease_seconds=60) == 1
    webhook = store.delivery("w1").notification
    assert store.take_slot(webhook, ENDPOINT, now=START, limit=1, window_seconds=WINDOW) is None
    assert [e.kind for e in store.events("inc-1#1")] == []
