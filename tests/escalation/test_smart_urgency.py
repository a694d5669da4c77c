"""Urgency: targets page at ``high`` (default) or ``low``; contacts say which urgencies they take; the
notification payload carries it. Every test compares the complete list of recipients."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import attrs
import pytest
from support.escalation import plugins
from support.smart import berlin, engine, events_of, incident, level, policy, team, user

import tocsin

START = berlin("2026-03-24 14:00")
ANA, BEN = "ana@example.com", "ben@example.com"
LOG = plugins().registry.channels.get("log").cls
WEBHOOK = plugins().registry.channels.get("webhook").cls
WEBHOOK_TARGET = plugins().registry.targets.get("webhook").cls


def recipients(eng: tocsin.EscalationEngine, incident_id: str = "inc-1") -> list[tuple[str, str, str]]:
    """(address, channel, urgency) of every page."""
    state = eng.get_escalation_state(incident_id)
    return [
        (d.notification.recipient.address, d.notification.recipient.channel, d.notification.urgency.value)
        for d in state.deliveries
    ]


@pytest.fixture
def eng() -> tocsin.EscalationEngine:
    built, _ = engine(START)
    # Ana: the log for everything, her phone webhook for high-urgency pages only.
    built.executor().register_user(
        ANA, contacts=[LOG(), WEBHOOK(url="https://hooks.example.com/ana-phone", urgencies=("high",))]
    )
    built.executor().register_team("ops", [ANA, BEN])
    return built


def test_targets_page_at_high_urgency_unless_they_say_otherwise(eng):
    eng.register_policy(policy("p", level(0, team("ops"))))
    eng.start_escalation(incident("inc-1", START, severity="P4"), "p")
    assert recipients(eng) == [
        (ANA, "log", "high"),
        (ANA, "webhook", "high"),
        (BEN, "log", "high"),
    ]


def test_a_low_urgency_page_reaches_only_the_contacts_that_take_it(eng):
    eng.register_policy(policy("p", level(0, team("ops", urgency="low"))))
    eng.start_escalation(incident("inc-1", START), "p")
    assert recipients(eng) == [(ANA, "log", "low"), (BEN, "log", "low")]  # no phone for a low-urgency page


def test_each_target_of_a_level_pages_at_its_own_urgency(eng):
    eng.register_policy(policy("p", level(0, user(ANA, urgency="low"), user(BEN))))
    eng.start_escalation(incident("inc-1", START), "p")
    assert recipients(eng) == [(ANA, "log", "low"), (BEN, "log", "high")]


def test_someone_with_no_contact_for_the_urgency_is_not_paged_and_that_is_journalled():
    eng, _ = engine(START)
    eng.executor().register_user(BEN, contacts=[LOG(urgencies=("high",))])
    eng.register_policy(policy("p", level(0, user(BEN, urgency="low"), user(ANA, urgency="low"))))
    eng.start_escalation(incident("inc-1", START), "p")
    assert recipients(eng) == [(ANA, "log", "low")]
    (note,) = events_of(eng, "inc-1", "unresolved")
    assert note.detail == f"{BEN} has no contact that takes low-urgency pages: not paged"


def test_the_webhook_payload_and_the_subject_carry_the_urgency(eng):
    eng.register_policy(
        policy("p", level(0, WEBHOOK_TARGET(url="https://hooks.example.com/soc", urgency="low"), user(BEN)))
    )
    state = eng.start_escalation(incident("inc-1", START, severity="P1"), "p")
    low, high = (delivery.notification for delivery in state.deliveries)
    assert tocsin.page_payload(low)["urgency"] == "low"
    assert tocsin.page_payload(high)["urgency"] == "high"
    assert tocsin.page_subject(low) == "[P1] Checkout errors — escalation level 0 (low urgency)"
    assert tocsin.page_subject(high) == "[P1] Checkout errors — escalation level 0"
    assert "Urgency: low." in tocsin.page_text(low)


def test_a_p3_paged_by_a_default_target_is_high_urgency_in_the_payload(eng):
    eng.register_policy(policy("p", level(0, user(BEN))))
    state = eng.start_escalation(incident("inc-1", START, severity="P3"), "p")
    assert tocsin.page_payload(state.deliveries[0].notification)["urgency"] == "high"


def test_a_target_class_without_an_urgency_field_pages_at_high_urgency():
    @attrs.frozen(kw_only=True)
    class Pager:
        type: ClassVar[str] = "pager"
        who: str

    class PagerPlugin:
        @tocsin.hookimpl
        def tocsin_register_targets(self, register: tocsin.TargetRegistrar) -> None:
            register(Pager, expand=lambda target, ctx: ctx.person(target.who, target="pager"))

    eng = tocsin.EscalationEngine(
        tocsin.load_plugins(autoload=False, extra=[PagerPlugin()]), clock=tocsin.ManualClock(START)
    )
    eng.executor().register_user(ANA, contacts=[LOG(urgencies=("low",)), WEBHOOK(url="https://hooks.example.com/a")])
    eng.register_policy(policy("p", level(0, Pager(who=ANA))))
    eng.start_escalation(incident("inc-1", START), "p")
    assert recipients(eng) == [(ANA, "webhook", "high")]


def test_urgency_values_are_checked():
    with pytest.raises(ValueError, match="'urgent' is not a valid Urgency"):
        user(ANA, urgency="urgent")
    with pytest.raises(tocsin.FieldError, match="must name at least one urgency"):
        LOG(urgencies=())
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(
            {
                "users": {ANA: {"contacts": [{"type": "email", "urgencies": ["low", "urgent"]}]}},
                "channels": {"email": {"host": "smtp.example.com", "from_address": "tocsin@example.com"}},
                "policies": [{"id": "p", "levels": [{"targets": [{"type": "team", "team_id": "t", "urgency": "x"}]}]}],
                "teams": {"t": [ANA]},
            },
            plugins().registry,
            source="u.yaml",
        )
    assert str(caught.value).splitlines() == [
        f"u.yaml: $.users['{ANA}'].contacts[0].urgencies[1]: expected one of high, low; got 'urgent'",
        "u.yaml: $.policies[0].levels[0].targets[0].urgency: expected one of high, low; got 'x'",
    ]


def test_a_config_round_trips_urgencies(eng):
    document = {
        "users": {ANA: {"contacts": [{"type": "log", "urgencies": ["low"]}]}},
        "policies": [{"id": "p", "levels": [{"targets": [{"type": "user", "email": ANA, "urgency": "low"}]}]}],
    }
    config = tocsin.parse_config(document, plugins().registry)
    assert config.users[ANA].contacts[0].urgencies == (tocsin.Urgency.LOW,)
    assert config.policies[0].levels[0].targets[0].urgency is tocsin.Urgency.LOW
    assert tocsin.dump_config(config, plugins().registry) == document


def test_ack_mode_all_waits_only_for_the_people_the_urgency_reached():
    eng, _ = engine(START)
    eng.executor().register_user(BEN, contacts=[LOG(urgencies=("high",))])
    eng.register_policy(
        policy("p", level(0, user(ANA, urgency="low"), user(BEN, urgency="low"), ack_mode="all"), level(9, user(ANA)))
    )
    state = eng.start_escalation(incident("inc-1", START), "p")
    assert state.awaiting_acks == (ANA,)
    assert eng.acknowledge_escalation("inc-1", ANA).status is tocsin.EscalationStatus.ACKNOWLEDGED
    eng.run_until(START + timedelta(hours=1))
    assert recipients(eng) == [(ANA, "log", "low")]
