"""Every example in docs/escalation.md works as written, every error it documents is raised as it says, and every
header it documents is sent."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import ClassVar

import attrs
import pytest
import yaml
from support.delivery_receiver import Receiver
from support.docs import ROOT, code_blocks
from support.escalation import START, engine, incident, level, plugins, policy, user

import tocsin
from tocsin.delivery.webhook.signing import verify
from tocsin.simulation.scenario import load_scenario

DOC = ROOT / "docs" / "escalation.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = code_blocks(TEXT, "python")
YAML = code_blocks(TEXT, "yaml")
SHELL = code_blocks(TEXT, starting=r"\$ tocsin simulate ")


def test_the_guide_has_its_examples():
    assert len(PYTHON) >= 6 and len(YAML) >= 3 and len(SHELL) == 1


@pytest.mark.parametrize("source", PYTHON, ids=[f"python-{n}" for n in range(1, len(PYTHON) + 1)])
def test_each_python_example_runs(source):
    exec(compile(source, f"{DOC.name} example", "exec"), {"__name__": "docs_example"})


@pytest.mark.parametrize("source", YAML, ids=[f"yaml-{n}" for n in range(1, len(YAML) + 1)])
def test_each_yaml_example_loads(source, tmp_path):
    if source.startswith("# scenario"):
        path = tmp_path / "scenario.yaml"
        path.write_text(source, encoding="utf-8")
        assert load_scenario(path).expect is not None
    else:
        assert source.startswith("# tocsin.yaml")
        tocsin.parse_config(yaml.safe_load(source), plugins().registry, source="docs")


def test_the_simulate_example_is_what_the_command_prints():
    command, _, shown = SHELL[0].partition("\n")
    arguments = command.removeprefix("$ tocsin ").split()
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", *arguments], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown


# --- every documented error is raised where the page says ---------------------------------------------------------

ERRORS_TABLE = TEXT[TEXT.index("| error | when |") : TEXT.index("`get_escalation_state(incident_id)` returns")]
DOCUMENTED_ERRORS = [
    (name, clause)
    for name, when in re.findall(r"^\| `(\w+)` \| (.+) \|$", ERRORS_TABLE, re.MULTILINE)
    for clause in re.split(r"; (?![^(]*\))", when)  # a clause's own parenthesis may hold a "; "
]


class Interleaved(tocsin.InMemoryStore):
    """A store on which, just before this engine's next commit, another instance commits first."""

    def __init__(self) -> None:
        super().__init__()
        self.first: Callable[[], object] | None = None

    def commit(self, row, **options):
        first, self.first = self.first, None
        if first is not None:
            first()
        return super().commit(row, **options)


def two_levels(store=None):
    eng = engine(store=store)
    eng.register_policy(policy("two", level(0, user("oncall@example.com")), level(5, user("lead@example.com"))))
    eng.register_policy(policy("off", level(0, user("oncall@example.com")), enabled=False))
    return eng


ACTIONS = {
    "acknowledge": lambda eng: eng.acknowledge_escalation("inc-1", "lead@example.com"),
    "snooze": lambda eng: eng.snooze("inc-1", 30, by="lead@example.com"),
    "escalate": lambda eng: eng.escalate_now("inc-1", by="lead@example.com"),
    "resolve": lambda eng: eng.resolve_escalation("inc-1"),
    "cancel": lambda eng: eng.cancel_escalation("inc-1"),
}


def started(*steps: str) -> tocsin.EscalationEngine:
    """An engine whose escalation of inc-1 was started and then taken through ``steps`` (ACTIONS' names)."""
    eng = two_levels()
    eng.start_escalation(incident(), "two")
    for step in steps:
        ACTIONS[step](eng)
    return eng


def raised(action: Callable[[], object]) -> Exception:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


def stale_commit() -> list[Exception]:
    store = Interleaved()
    first, second = two_levels(store), two_levels(store)
    first.start_escalation(incident(), "two")
    store.first = lambda: second.acknowledge_escalation("inc-1", "lead@example.com")
    return [raised(lambda: first.acknowledge_escalation("inc-1", "oncall@example.com"))]


def ended_ones() -> list[Exception]:
    errors = []
    for end, forbidden in (
        ("resolve", ("acknowledge", "snooze", "escalate", "cancel")),
        ("cancel", ("acknowledge", "snooze", "escalate", "resolve")),
    ):
        eng = started(end)
        errors += [raised(lambda eng=eng, action=action: ACTIONS[action](eng)) for action in forbidden]
        ACTIONS[end](eng)  # the same ending again is harmless
    return errors


PROVOKE: dict[tuple[str, str], Callable[[], list[Exception]]] = {
    ("UnknownIncidentError", "no escalation for that incident id"): lambda: [
        raised(lambda: two_levels().acknowledge_escalation("inc-404", "a@example.com"))
    ],
    ("UnknownPolicyError", "`start_escalation` names a policy nobody registered"): lambda: [
        raised(lambda: two_levels().start_escalation(incident(), "nope"))
    ],
    ("PolicyDisabledError", "the policy has `enabled: false`"): lambda: [
        raised(lambda: two_levels().start_escalation(incident(), "off"))
    ],
    (
        "EscalationActiveError",
        "the incident already has an open escalation (active, acknowledged or exhausted)",
    ): lambda: [
        raised(lambda eng=started(*steps): eng.start_escalation(incident(), "two"))
        for steps in ((), ("acknowledge",), ("escalate",))
    ],
    ("EscalationNotActiveError", "acknowledging one that is already acknowledged"): lambda: [
        raised(lambda: ACTIONS["acknowledge"](started("acknowledge")))
    ],
    ("EscalationNotActiveError", "snoozing one that is active and not acknowledged"): lambda: [
        raised(lambda: ACTIONS["snooze"](started()))
    ],
    ("EscalationNotActiveError", "escalating an acknowledged one whose remaining levels have fired"): lambda: [
        raised(lambda: ACTIONS["escalate"](started("escalate", "acknowledge")))
    ],
    (
        "EscalationNotActiveError",
        "acknowledging, snoozing or escalating a resolved or cancelled one, resolving a cancelled one or cancelling a "
        "resolved one (the message says its status; resolving a resolved one or cancelling a cancelled one again is "
        "harmless)",
    ): ended_ones,
    ("StaleStateError", "another instance changed the escalation first (compare-and-set): read the state again"): (
        stale_commit
    ),
}


def test_the_error_table_has_a_case_for_each_error_the_engine_raises():
    assert {name for name, _ in DOCUMENTED_ERRORS} == {
        "UnknownIncidentError",
        "UnknownPolicyError",
        "PolicyDisabledError",
        "EscalationActiveError",
        "EscalationNotActiveError",
        "StaleStateError",
    }
    assert sorted(DOCUMENTED_ERRORS) == sorted(PROVOKE)  # a clause the page adds needs its case here


@pytest.mark.parametrize(("name", "clause"), DOCUMENTED_ERRORS, ids=[f"{n}: {c[:40]}" for n, c in DOCUMENTED_ERRORS])
def test_each_documented_error_is_raised_when_the_table_says(name, clause):
    errors = PROVOKE[(name, clause)]()
    assert errors and all(type(error).__name__ == name for error in errors), errors
    assert all(isinstance(error, getattr(tocsin, name)) for error in errors)
    if "the message says its status" in clause:
        assert all(re.search(r"the escalation is (resolved|cancelled);", str(error)) for error in errors), errors
    if "exhausted" in clause:
        assert "open, exhausted (completed)" in str(errors[-1])


def test_the_policy_error_is_as_quoted():
    quoted = re.search(r"\(`PolicyError: (policy 'x': levels\[1\]: unknown target 'carrier_pigeon'; )…`\)", TEXT)
    assert quoted is not None

    @attrs.frozen
    class CarrierPigeon:
        type: ClassVar[str] = "carrier_pigeon"

    levels = (level(0, user("oncall@example.com")), level(5, CarrierPigeon()))
    error = raised(lambda: two_levels().register_policy(policy("x", *levels)))
    assert isinstance(error, tocsin.PolicyError) and str(error).startswith(quoted.group(1))


def test_the_email_settings_error_is_what_check_says():
    notifications = TEXT[TEXT.index("## Notifications") : TEXT.index("### The webhook payload")]
    (block,) = code_blocks(notifications, "yaml")
    (quoted,) = re.findall(r"`tocsin check` says\s+`([^`]+)`", notifications)
    document = yaml.safe_load(block)
    del document["channels"]["email"]
    with pytest.raises(tocsin.ConfigError) as caught:
        tocsin.parse_config(document, plugins().registry, source="docs")
    assert [issue.path + ": " + issue.message for issue in caught.value.issues] == [quoted]


def test_the_lint_session_is_what_check_strict_prints(tmp_path):
    lint = TEXT[TEXT.index("## Linting policies") : TEXT.index("## Smart escalation")]
    (session,) = code_blocks(lint, "console")
    command, _, shown = session.partition("\n")
    (tmp_path / "tocsin.yaml").write_text(
        yaml.safe_dump(
            {
                "working_hours": {
                    "business": {
                        "timezone": "UTC",
                        "intervals": [{"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"}],
                    }
                },
                "policies": [
                    {
                        "id": "p1",
                        "levels": [
                            {"targets": [{"type": "user", "email": "oncall@example.com"}]},
                            {
                                "delay_minutes": 5,
                                "targets": [{"type": "user", "email": "lead@example.com"}],
                                "when": {"during": "business", "outside": "business"},
                            },
                        ],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", *command.removeprefix("$ tocsin ").split()],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == shown


# --- every documented header is sent, and the payload's addresses are as stated ----------------------------------

WEBHOOK = TEXT[TEXT.index("### The webhook payload, version 1") : TEXT.index("### Storage")]
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def notifications_config(receiver: Receiver, *, signed: bool = True) -> tocsin.Config:
    """The Notifications section's config with its webhooks on the receiver (and no e-mail: no SMTP server here),
    a policy paging lead@example.com then a webhook target, and a rule sending the notify message."""
    notifications = TEXT[TEXT.index("## Notifications") : TEXT.index("### The webhook payload")]
    document = yaml.safe_load(code_blocks(notifications, "yaml")[0])
    lead = document["users"]["lead@example.com"]
    lead["contacts"] = [contact for contact in lead["contacts"] if contact["type"] == "webhook"]
    lead["contacts"][0]["url"] = receiver.url("/lead")
    del document["users"]["oncall@example.com"]
    document["notify_channels"]["#security-incidents"]["url"] = receiver.url("/security")
    document["channels"] = {"webhook": {**document["channels"]["webhook"], "allow_networks": ["127.0.0.1/32"]}}
    if signed:
        document["channels"]["webhook"]["secrets"] = [SECRET]
    document["policies"] = [
        {
            "id": "standard-p1",
            "levels": [
                {"targets": [{"type": "user", "email": "lead@example.com"}]},
                {"delay_minutes": 5, "targets": [{"type": "webhook", "url": receiver.url("/target")}]},
            ],
        }
    ]
    document["rules"] = [
        {
            "name": "Tell security",
            "conditions": [{"field": "severity", "operator": "exists"}],
            "actions": [{"type": "notify", "channels": ["#security-incidents"]}],
        }
    ]
    return tocsin.parse_config(document, plugins().registry, source="docs")


async def page_everyone(config: tocsin.Config) -> None:
    eng = tocsin.EscalationEngine(plugins(), clock=tocsin.ManualClock(START), config=config)
    processor = tocsin.IncidentProcessor.from_config(eng, config)
    processor.process(incident())
    eng.escalate_now("inc-1", by="lead@example.com")
    await eng.outbox.flush()
    await eng.outbox.aclose()


async def test_each_documented_header_is_sent_and_the_addresses_are_as_stated(receiver):
    headers = set(re.findall(r"`([A-Za-z]+(?:-[A-Za-z]+)+)[`:]", WEBHOOK.split("```json")[0]))
    assert headers == {"Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature", "Idempotency-Key"}
    await page_everyone(notifications_config(receiver))
    requests = {request.path: request for request in receiver.requests}
    assert sorted(requests) == ["/lead", "/security", "/target"]
    for path, request in requests.items():
        assert headers <= set(request.headers), path
        body = json.loads(request.body)
        key = body["idempotency_key"]
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["Idempotency-Key"] == request.headers["webhook-id"]
        assert request.headers["webhook-id"] == "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]
        verify([SECRET], request.headers, request.body)
    assert requests["/lead"].headers["X-Team"] == "platform"  # the contact's own headers
    lead, target, notify = (json.loads(requests[path].body) for path in ("/lead", "/target", "/security"))
    assert lead["recipient"] == {"address": "lead@example.com", "channel": "webhook", "target": "user"}
    assert target["recipient"] == {"address": receiver.url("/target"), "channel": "webhook", "target": "webhook"}
    assert (notify["event"], notify["level"]) == ("incident.notify", -1)
    assert (lead["event"], lead["level"], target["level"]) == ("escalation.page", 0, 1)


async def test_webhook_signature_is_sent_only_when_the_channel_has_secrets(receiver):
    await page_everyone(notifications_config(receiver, signed=False))
    assert len(receiver.requests) == 3
    assert all("webhook-signature" not in request.headers for request in receiver.requests)
    assert all({"webhook-id", "webhook-timestamp", "Idempotency-Key"} <= set(r.headers) for r in receiver.requests)
