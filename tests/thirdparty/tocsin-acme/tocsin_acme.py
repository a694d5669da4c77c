"""A third-party tocsin plugin: the ``longer_than`` operator and the ``acme_sms`` escalation target."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

import tocsin


def compile_longer_than(expected: Any):
    """``longer_than N``: true when the field is a string of more than N characters."""
    if not isinstance(expected, int) or isinstance(expected, bool) or expected < 0:
        raise ValueError(f"'longer_than' needs a whole number of characters, got {expected!r}")
    return lambda actual: isinstance(actual, str) and len(actual) > expected


@attrs.frozen(kw_only=True)
class AcmeSms:
    """Page a phone number through ACME's SMS gateway."""

    type: ClassVar[str] = "acme_sms"
    number: str


def expand(target: AcmeSms, ctx: Any) -> list[tocsin.Recipient]:
    """One recipient: the phone number, delivered through the log channel in this example."""
    return [tocsin.Recipient(address=target.number, channel="log", target=AcmeSms.type)]


@tocsin.hookimpl
def tocsin_register_operators(register: tocsin.OperatorRegistrar) -> None:
    register("longer_than", compile_longer_than)


@tocsin.hookimpl
def tocsin_register_targets(register: tocsin.TargetRegistrar) -> None:
    register(AcmeSms, expand=expand)
