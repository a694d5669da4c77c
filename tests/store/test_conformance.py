"""Every store keeps the same promises: compare-and-set commits, an outbox keyed by idempotency key with leased
claims and scheduled retries, dead letters, disabled endpoints, due-work leases, and incidents with history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import attrs
import pytest
from support.store import (
    START,
    STORE_KINDS,
    Stores,
    answer,
    event,
    incident,
    notification,
    open_stores,
    policy,
    row,
)

import tocsin
from tocsin.instants import to_micros
from tocsin.store import OpenEscalation

MINUTE = timedelta(minutes=1)


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path) -> Iterator[Stores]:
    yield from open_stores(request.param, tmp_path, request)


# --- escalation rows ------------------------------------------------------------------------------------


def test_a_committed_row_loads_back_equal_with_its_journal_and_notifications(stores: Stores):
    store = stores.escalations
    first = row(announce=(tocsin.Recipient(address="#ops", channel="log", target="notify"),))
    fresh = store.commit(
        first,
        expected_version=None,
        notifications=[notification("k1"), notification("k2", channel="webhook", address="a@x")],
        events=[event("started", detail="policy standard"), event("level_fired", level=0, pass_number=0)],
    )
    assert [n.key for n in fresh] == ["k1", "k2"]
    assert store.load("inc-1") == first
    assert store.load_open() == [first]
    assert store.load("nope") is None
    assert [e.kind for e in store.events("inc-1#1")] == ["started", "level_fired"]
    assert store.events("inc-1#1")[0] == event("started", detail="policy standard")
    deliveries = store.deliveries("inc-1#1")
    assert [d.notification for d in deliveries] == [
        notification("k1"),
        notification("k2", channel="webhook", address="a@x"),
    ]
    assert [(d.status, d.attempts, d.result) for d in deliveries] == [(tocsin.DeliveryStatus.PENDING, 0, None)] * 2


def test_a_version_mismatch_raises_and_writes_nothing(stores: Stores):
    store = stores.escalations
    store.commit(row(), expected_version=None)
    with pytest.raises(
        tocsin.StaleStateError, match="expected escalation 'inc-1#1' version 5, found 'inc-1#1' version 1"
    ):
        store.commit(
            row(version=6, level=0), expected_version=5, notifications=[notification("k1")], events=[event("x")]
        )
    assert store.load("inc-1").version == 1 and store.load("inc-1").level == -1
    assert store.deliveries("inc-1#1") == [] and store.events("inc-1#1") == []
    store.commit(row(version=2, level=0), expected_version=1)
    assert store.load("inc-1").version == 2


def test_exactly_one_of_two_writers_on_the_same_version_wins(stores: Stores):
    store = stores.escalations
    store.commit(row(), expected_version=None)
    acknowledged = row(version=2, status="acknowledged", acknowledged_by="a@x")
    fired = row(version=2, level=0)
    store.commit(acknowledged, expected_version=1, events=[event("acknowledged")])
    with pytest.raises(tocsin.StaleStateError):
        store.commit(
            fired, expected_version=1, notifications=[notification("late-page")], events=[event("level_fired")]
        )
    assert store.load("inc-1") == acknowledged
    assert store.delivery("late-page") is None
    assert [e.kind for e in store.events("inc-1#1")] == ["acknowledged"]


def test_a_new_escalation_cannot_replace_an_open_one_but_follows_an_ended_one(stores: Stores):
    store = stores.escalations
    store.commit(row(), expected_version=None)
    with pytest.raises(tocsin.StaleStateError, match="already stored"):
        store.commit(row(serial=2), expected_version=None)
    resolved = row(version=2, status="resolved", ended_at=to_micros(START), next_due=None)
    store.commit(resolved, expected_version=1)
    assert store.load_open() == []
    with pytest.raises(tocsin.StaleStateError):
        store.commit(row(), expected_version=None)  # the same escalation id again
    second = row(serial=2)
    store.commit(second, expected_version=None)
    assert store.load("inc-1") == second
    assert store.load_open() == [second]
    with pytest.raises(tocsin.StaleStateError):
        store.commit(row(version=3, status="cancelled"), expected_version=2)  # the old one is no longer the latest


def test_a_completed_escalation_is_exhausted_and_stays_open_until_resolved(stores: Stores):
    store = stores.escalations
    store.commit(row(), expected_version=None)
    due = to_micros(START + 15 * MINUTE)  # on_exhausted repeat_last: due again
    exhausted = row(version=2, status="completed", ended_at=to_micros(START), next_due=due, exhausted_pages=1)
    store.commit(exhausted, expected_version=1)
    assert store.load("inc-1") == exhausted and store.load("inc-1").exhausted_pages == 1
    assert store.load_open() == [exhausted]
    assert store.open_index() == [OpenEscalation("inc-1", "inc-1#1", 2, due)]
    assert store.incident_ids(open_only=True) == {"inc-1"}
    with pytest.raises(tocsin.StaleStateError):
        store.commit(row(serial=2), expected_version=None)  # one open escalation per incident
    claimed = store.claim_due(START + 15 * MINUTE, owner="a", lease_seconds=60)
    assert [r.escalation_id for r in claimed] == ["inc-1#1"]
    assert store.status_counts() == {tocsin.EscalationStatus.COMPLETED: 1}
    store.commit(row(version=3, status="resolved", next_due=None), expected_version=2)
    assert store.load_open() == []


def test_the_open_index_lists_open_escalations_ids_versions_and_due_times_in_start_order(stores: Stores):
    store = stores.escalations
    assert store.open_index() == []
    store.commit(row("inc-2", next_due=to_micros(START + MINUTE)), expected_version=None)
    store.commit(row("inc-1"), expected_version=None)
    store.commit(row("inc-3", next_due=None), expected_version=None)
    store.commit(row("inc-1", version=2, status="acknowledged", next_due=None), expected_version=1)
    store.commit(row("inc-3", version=2, status="resolved", next_due=None), expected_version=1)
    assert store.open_index() == [
        OpenEscalation("inc-2", "inc-2#1", 1, to_micros(START + MINUTE)),
        OpenEscalation("inc-1", "inc-1#1", 2, None),
    ]


def test_the_outbox_keeps_one_entry_per_key(stores: Stores):
    store = stores.escalations
    store.commit(row(), expected_version=None, notifications=[notification("k1")])
    store.commit(row(version=2), expected_version=1, notifications=[notification("k1"), notification("k2")])
    assert [n.key for n in store.enqueue([notification("n1", ""), notification("n1", "")])] == ["n1"]
    assert store.enqueue([notification("n1", "")]) == []
    assert [d.notification.key for d in store.deliveries("inc-1#1")] == ["k1", "k2"]
    assert [n.key for n in store.pending()] == ["k1", "k2", "n1"]
    assert store.delivery("n1").notification == notification("n1", "")


# --- claims, answers, retries ---------------------------------------------------------------------------


def test_a_claim_is_leased_and_a_lease_that_ran_out_can_be_claimed_again(stores: Stores):
    store = stores.escalations
    store.enqueue([notification("k")])
    assert store.claim("k", now=START, lease_seconds=60) == 1
    assert store.claim("k", now=START + timedelta(seconds=59), lease_seconds=60) is None  # held
    assert store.pending() == [] and store.due_deliveries(START + timedelta(seconds=59)) == []
    assert store.next_delivery_at() == START + timedelta(seconds=60)
    assert [n.key for n in store.due_deliveries(START + timedelta(seconds=60))] == ["k"]  # the sender crashed
    assert store.claim("k", now=START + timedelta(seconds=60), lease_seconds=60) == 2
    store.finish(answer("k", 1, ok=False, detail="timeout"), retry_at=START + 10 * MINUTE)  # the first one, late
    assert store.delivery("k").status is tocsin.DeliveryStatus.SENDING  # a lost lease's failure does not count
    store.finish(answer("k", 2, ok=True, detail="HTTP 200"))
    delivered = store.delivery("k")
    assert (delivered.status, delivered.attempts, delivered.result.detail) == (
        tocsin.DeliveryStatus.SENT,
        2,
        "HTTP 200",
    )
    assert store.claim("k", now=START + 60 * MINUTE, lease_seconds=60) is None
    assert [(r.attempts, r.ok) for r in store.delivery_log("k")] == [(1, False), (2, True)]


def test_a_failed_attempt_is_retried_at_its_time_and_then_dead_lettered(stores: Stores):
    store = stores.escalations
    store.enqueue([notification("a"), notification("b")])
    assert store.claim("a", now=START, lease_seconds=60) == 1
    store.finish(answer("a", 1, ok=False, detail="HTTP 503"), retry_at=START + 2 * MINUTE)
    failed = store.delivery("a")
    assert (failed.status, failed.next_attempt_at, failed.result.detail) == (
        tocsin.DeliveryStatus.FAILED,
        START + 2 * MINUTE,
        "HTTP 503",
    )
    assert store.claim("a", now=START + MINUTE, lease_seconds=60) is None  # not yet
    assert [n.key for n in store.due_deliveries(START + MINUTE)] == ["b"]
    assert store.next_delivery_at() == START + 2 * MINUTE
    assert [n.key for n in store.due_deliveries(START + 2 * MINUTE)] == ["a", "b"]
    assert store.claim("a", now=START + 2 * MINUTE, lease_seconds=60) == 2
    store.finish(answer("a", 2, ok=False, detail="HTTP 503 (gave up after 2 attempts)"))
    assert store.claim("b", now=START, lease_seconds=60) == 1
    store.finish(answer("b", 1, ok=False, detail="HTTP 404"))
    assert [(d.notification.key, d.status.value, d.result.detail) for d in store.dead_letters()] == [
        ("b", "dead", "HTTP 404"),
        ("a", "dead", "HTTP 503 (gave up after 2 attempts)"),
    ]
    assert [d.notification.key for d in store.dead_letters(limit=1)] == ["b"]
    assert store.due_deliveries(START + 60 * MINUTE) == [] and store.next_delivery_at() is None
    assert store.claim("a", now=START + 60 * MINUTE, lease_seconds=60) is None


def test_a_claim_without_a_clock_takes_only_what_is_pending(stores: Stores):
    store = stores.escalations
    store.enqueue([notification("k")])
    assert store.claim("k") == 1
    assert store.claim("k") is None
    with pytest.raises(KeyError):
        store.finish(answer("unknown", 1, ok=True))


def test_an_endpoint_disabled_once_stays_disabled_with_its_first_reason(stores: Stores):
    store = stores.escalations
    assert store.disabled_endpoints() == {}
    store.disable_endpoint("webhook", "https://hooks.example.com/a", "answered HTTP 410 Gone", START)
    store.disable_endpoint("webhook", "https://hooks.example.com/a", "again", START + MINUTE)
    assert store.disabled_endpoints() == {("webhook", "https://hooks.example.com/a"): "answered HTTP 410 Gone"}


# --- due work for several instances ---------------------------------------------------------------------


def test_due_work_is_shared_between_owners_by_leases(stores: Stores):
    store = stores.escalations
    for number in range(4):
        store.commit(row(f"inc-{number}", next_due=to_micros(START) - 10 + number), expected_version=None)
    store.commit(row("later", next_due=to_micros(START + MINUTE)), expected_version=None)
    first = store.claim_due(START, owner="a", lease_seconds=30, limit=2)
    second = store.claim_due(START, owner="b", lease_seconds=30)
    assert [r.incident_id for r in first] == ["inc-0", "inc-1"]
    assert [r.incident_id for r in second] == ["inc-2", "inc-3"]
    assert store.claim_due(START, owner="c", lease_seconds=30) == []
    assert [r.incident_id for r in store.claim_due(START, owner="a", lease_seconds=30)] == ["inc-0", "inc-1"]
    store.commit(row("inc-2", version=2, next_due=to_micros(START)), expected_version=1)  # b stepped it: released
    assert [r.incident_id for r in store.claim_due(START, owner="c", lease_seconds=30)] == ["inc-2"]
    later = START + timedelta(seconds=31)
    assert [r.incident_id for r in store.claim_due(later, owner="c", lease_seconds=30)] == [
        "inc-0",
        "inc-1",
        "inc-3",
        "inc-2",  # earliest due first: inc-2 was moved to START
    ]


# --- incidents ------------------------------------------------------------------------------------------


def test_incidents_are_found_by_id_and_open_ones_by_dedup_key_with_their_history(stores: Stores):
    incidents, clock = stores.incidents, stores.clock
    first = incident("inc-1", dedup_key="disk-full", labels={"team": "db"}, payload={"value": 97.5})
    incidents.save(first)
    assert incidents.get("inc-1") == first and incidents.get("nope") is None
    assert incidents.find_open("disk-full") == first and incidents.find_open("other") is None
    assert [incidents.add_duplicate("inc-1"), incidents.add_duplicate("inc-1")] == [1, 2]
    assert incidents.duplicates("inc-1") == 2 and incidents.duplicates("nope") == 0
    clock.advance(minutes=7)
    resolved = attrs.evolve(first, state="Resolved")
    incidents.save(resolved)
    assert incidents.find_open("disk-full") is None
    assert incidents.get("inc-1") == resolved
    assert [(change.at, change.incident.state.value) for change in incidents.history("inc-1")] == [
        (START, "Detected"),
        (START + 7 * MINUTE, "Resolved"),
    ]
    second = incident("inc-2", dedup_key="disk-full")
    incidents.save(second)
    assert incidents.find_open("disk-full") == second
    assert incidents.history("nope") == []
    assert [i.id for i in incidents.all()] == ["inc-1", "inc-2"]


# --- restart --------------------------------------------------------------------------------------------


def test_everything_written_is_there_after_a_reopen(stores: Stores):
    store = stores.escalations
    store.commit(row(), expected_version=None, notifications=[notification("k")], events=[event("started")])
    store.claim("k", now=START, lease_seconds=60)
    store.finish(answer("k", 1, ok=False, detail="HTTP 500"), retry_at=START + MINUTE)
    store.disable_endpoint("webhook", "https://x.example.com", "gone", START)
    stores.incidents.save(incident("inc-1"))
    again = stores.reopen()
    assert again.escalations.load_open() == [row()]
    assert again.escalations.events("inc-1#1") == [event("started")]
    assert again.escalations.delivery("k").next_attempt_at == START + MINUTE
    assert again.escalations.delivery_log("k") == [answer("k", 1, ok=False, detail="HTTP 500")]
    assert again.escalations.disabled_endpoints() == {("webhook", "https://x.example.com"): "gone"}
    assert again.incidents.get("inc-1") == incident("inc-1")


# --- counts, listings and shared cursors ----------------------------------------------------------------


def test_status_counts_look_at_the_latest_escalation_of_each_incident(stores: Stores):
    store = stores.escalations
    assert store.status_counts() == {}
    store.commit(row("inc-1"), expected_version=None)
    store.commit(row("inc-1", version=2, status="resolved", next_due=None), expected_version=1)
    store.commit(row("inc-1", serial=2), expected_version=None)
    store.commit(row("inc-2"), expected_version=None)
    store.commit(row("inc-3"), expected_version=None)
    store.commit(row("inc-3", version=2, status="acknowledged"), expected_version=1)
    assert store.status_counts() == {tocsin.EscalationStatus.ACTIVE: 2, tocsin.EscalationStatus.ACKNOWLEDGED: 1}


def test_the_escalation_index_tells_the_latest_escalations_status_and_policy_of_each_incident_asked_for(
    stores: Stores,
):
    store = stores.escalations
    assert store.escalation_index([]) == {} and store.escalation_index(["inc-1"]) == {}
    store.commit(row("inc-1"), expected_version=None)
    store.commit(row("inc-1", version=2, status="resolved", next_due=None), expected_version=1)
    store.commit(row("inc-1", serial=2), expected_version=None)
    store.commit(row("inc-2"), expected_version=None)
    store.commit(row("inc-2", version=2, status="acknowledged"), expected_version=1)
    store.commit(row("inc-3"), expected_version=None)
    active, acknowledged = tocsin.EscalationStatus.ACTIVE, tocsin.EscalationStatus.ACKNOWLEDGED
    found = store.escalation_index(["inc-1", "inc-2", "inc-4"])
    assert found == {"inc-1": (active, "standard"), "inc-2": (acknowledged, "standard")}
    assert found["inc-2"].status is acknowledged and found["inc-2"].policy_id == "standard"
    store.commit(row("inc-5", policy=policy("other")), expected_version=None)
    store.commit(row("inc-5", version=2, status="cancelled", policy=policy("other")), expected_version=1)
    store.commit(row("inc-5", serial=2, policy=policy("third")), expected_version=None)  # a reassignment
    assert store.escalation_index(["inc-5"]) == {"inc-5": (active, "third")}  # the latest escalation's policy
    many = [f"other-{number}" for number in range(1200)] + ["inc-3"]  # more ids than one query binds
    assert stores.reopen().escalations.escalation_index(many) == {"inc-3": (active, "standard")}


def test_a_round_robin_cursor_moves_on_at_each_call_per_policy_and_level(stores: Stores):
    store = stores.escalations
    assert [store.next_round_robin("p", 0, 3) for _ in range(4)] == [0, 1, 2, 0]
    assert store.next_round_robin("p", 1, 3) == 0
    assert store.next_round_robin("q", 0, 2) == 0
    with pytest.raises(ValueError, match="at least one recipient"):
        store.next_round_robin("p", 0, 0)
    assert stores.reopen().escalations.next_round_robin("p", 0, 3) == 1  # kept across a restart


def test_incidents_are_listed_newest_first_in_pages_and_counted_by_state(stores: Stores):
    incidents = stores.incidents
    for number in range(5):
        incidents.save(incident(f"inc-{number}"))
    incidents.save(attrs.evolve(incident("inc-3"), state="Resolved"))  # a later save keeps its place
    assert [i.id for i in incidents.list_incidents()] == ["inc-4", "inc-3", "inc-2", "inc-1", "inc-0"]
    assert [i.id for i in incidents.list_incidents(limit=2, offset=1)] == ["inc-3", "inc-2"]
    assert [i.id for i in incidents.list_incidents(open_only=True, limit=3)] == ["inc-4", "inc-2", "inc-1"]
    assert incidents.list_incidents(offset=5) == []
    assert incidents.state_counts() == {tocsin.IncidentState.DETECTED: 4, tocsin.IncidentState.RESOLVED: 1}


def test_a_scan_pages_by_position_so_new_incidents_do_not_shift_the_next_page(stores: Stores):
    incidents = stores.incidents
    for number in range(5):
        incidents.save(incident(f"inc-{number}"))
    incidents.save(attrs.evolve(incident("inc-3"), state="Resolved"))
    first = incidents.scan_incidents(limit=2)
    assert [i.id for _, i in first] == ["inc-4", "inc-3"]
    incidents.save(incident("inc-5"))  # arrives between two pages
    after = first[-1][0]
    assert [i.id for _, i in incidents.scan_incidents(before=after, limit=2)] == ["inc-2", "inc-1"]
    assert [i.id for _, i in incidents.scan_incidents(before=after, open_only=True)] == ["inc-2", "inc-1", "inc-0"]
    assert [i.id for _, i in incidents.scan_incidents(before=after, skip=1, limit=1)] == ["inc-1"]
    positions = [position for position, _ in incidents.scan_incidents()]
    assert positions == sorted(positions, reverse=True) and len(set(positions)) == 6
    assert incidents.scan_incidents(before=min(positions)) == []
    assert [i.id for _, i in stores.reopen().incidents.scan_incidents(before=after, limit=1)] == ["inc-2"]


def test_a_calendar_feed_token_is_made_rotated_and_survives_a_restart(stores: Stores):
    store = stores.escalations
    assert store.feed_token("schedule:primary") is None
    store.set_feed_token("schedule:primary", "first-token", START)
    store.set_feed_token("user:ana@example.com", "ana-token", START)
    store.set_feed_token("schedule:primary", "second-token", START + MINUTE)  # rotated: the first stops working
    reopened = stores.reopen().escalations
    assert reopened.feed_token("schedule:primary") == "second-token"
    assert reopened.feed_token("user:ana@example.com") == "ana-token"
