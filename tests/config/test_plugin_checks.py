"""The load-time checks of the extension points that take settings: a channel's and a source's ``check``, and a
source compiled by ``tocsin check`` as ``tocsin serve`` would compile it, each reported at its path."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import attrs
import pytest

import tocsin


@attrs.frozen(kw_only=True)
class PagerContact:
    type: ClassVar[str] = "pager"


@attrs.frozen(kw_only=True)
class PagerSettings:
    gateway_team: str = "ops"


def check_channel(settings: PagerSettings, config: tocsin.Config) -> Iterator[str]:
    if settings.gateway_team not in config.teams:
        yield f"unknown team {settings.gateway_team!r}"


@attrs.frozen(kw_only=True)
class FeedSource:
    type: ClassVar[str] = "feed"
    pattern: str = "*"
    team: str | None = None


def compile_feed(settings: FeedSource) -> Any:
    if settings.pattern.count("*") > 1:
        raise ValueError(f"pattern {settings.pattern!r} may have one '*' at most")
    return lambda body: []


def check_feed(settings: FeedSource, config: tocsin.Config) -> Iterator[str]:
    if settings.team is not None and settings.team not in config.teams:
        yield f"unknown team {settings.team!r}"


probe = types.ModuleType("checks_probe")
probe.tocsin_register_channels = tocsin.hookimpl(
    lambda register: register(PagerContact, create=lambda settings: None, settings=PagerSettings, check=check_channel)
)
probe.tocsin_register_sources = tocsin.hookimpl(
    lambda register: register(FeedSource, compile=compile_feed, check=check_feed)
)
sys.modules.setdefault("checks_probe", probe)
pytestmark = pytest.mark.tocsin_plugins(probe, autoload=False)

TOKEN = "a-long-enough-token-0123"


def test_a_channels_check_runs_on_its_settings(tocsin_config):
    tocsin_config.team("ops", ["ana@example.com"]).channel("pager", gateway_team="dba")
    assert tocsin_config.faults() == ["$.channels.pager: unknown team 'dba'"]


def test_a_source_is_compiled_and_checked_when_the_config_loads(tocsin_config):
    tocsin_config.section(
        "integrations",
        {
            "bad-pattern": {"type": "feed", "token": TOKEN, "pattern": "a*b*"},
            "bad-team": {"type": "feed", "token": TOKEN, "team": "dba"},
            "fine": {"type": "feed", "token": TOKEN},
        },
    )
    assert tocsin_config.faults() == [
        "$.integrations['bad-pattern']: pattern 'a*b*' may have one '*' at most",
        "$.integrations['bad-team']: unknown team 'dba'",
    ]
