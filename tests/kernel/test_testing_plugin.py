"""tocsin's pytest plugin as another project's suite meets it: found through the pytest11 entry point, with
fixtures whose assertions fail when they should."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SUITE = """
import asyncio
import types

import pytest

import tocsin

POLICY = {"id": "p", "levels": [
    {"targets": [{"type": "user", "email": "ana@example.com"}]},
    {"delay_minutes": 5, "targets": [{"type": "user", "email": "ben@example.com"}]},
]}


def test_pages_are_taken_in_order(tocsin_config, tocsin_pager):
    pager = tocsin_pager(tocsin_config.policy(**POLICY).build())
    pager.start("p")
    pager.advance(minutes=10)
    assert pager.sender.take() == [(0, 0, "ana@example.com", "log"), (5, 1, "ben@example.com", "log")]
    pager.sender.assert_no_more()


def test_a_page_nobody_took_fails_the_test(tocsin_config, tocsin_pager):
    pager = tocsin_pager(tocsin_config.policy(**POLICY).build())
    pager.start("p")
    assert pager.sender.take() == [(0, 0, "ana@example.com", "log")]
    pager.advance(minutes=10)
    pager.sender.assert_no_more()  # ben was paged at minute 5 and nobody took it: this must fail


def test_an_acknowledgement_stops_the_next_level(tocsin_config, tocsin_pager, tocsin_clock):
    pager = tocsin_pager(tocsin_config.policy(**POLICY).build())
    pager.start("p")
    tocsin_clock.advance(minutes=1)
    pager.acknowledge(by="ana@example.com")
    pager.advance(hours=1)
    assert pager.sender.take() == [(0, 0, "ana@example.com", "log")]
    pager.sender.assert_no_more()


def test_routing_chooses_the_policy(tocsin_config, tocsin_pager):
    tocsin_config.policy(**POLICY, severity_filter=["P0"]).rule(
        name="db", conditions=[{"field": "title", "operator": "contains", "value": "db"}],
        actions=[{"type": "use_policy", "policy_id": "p"}],
    )
    pager = tocsin_pager()
    assert pager.process(title="db down").policy_id == "p"
    assert pager.process(id="inc-2", title="cpu").policy_id is None
    assert [page.recipient for page in pager.sender.take()] == ["ana@example.com"]


def test_faults_are_lines(tocsin_config):
    tocsin_config.yaml("teams: {sre: [1]}").yaml("teams: {dba: [ana@example.com]}")
    assert tocsin_config.faults() == ["$.teams['sre'][0]: expected a string, got 1"]


def test_a_notification_for_a_sender(tocsin_notification):
    notification = tocsin_notification("ana@example.com", channel="sms", level=2)
    assert (notification.recipient.channel, notification.level, notification.incident.severity.value) == (
        "sms", 2, "P1"
    )


extra = types.ModuleType("extra_plugin")
extra.tocsin_register_operators = tocsin.hookimpl(lambda register: register("always", lambda expected: bool))


@pytest.mark.tocsin_plugins({"named": extra}, autoload=False, blocked=["tocsin.plugins.channel_email"])
def test_the_marker_adds_names_and_blocks(tocsin_plugins):
    assert tocsin_plugins.registry.operators.entry("always").plugin == "named"
    assert "email" not in tocsin_plugins.registry.channels


@pytest.mark.asyncio
async def test_a_pager_in_an_async_test_says_how_to_use_it(tocsin_pager, tocsin_config):
    pager = tocsin_pager(tocsin_config.policy(**POLICY).build())
    with pytest.raises(RuntimeError, match="use it from a test that is not async"):
        pager.start("p")
"""


def test_another_projects_suite_gets_the_fixtures_from_the_entry_point(tmp_path):
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(SUITE))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "test_suite.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": "", "TOCSIN_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    outcomes = {
        line.split("::", 1)[1].split()[0]: line.split()[0]
        for line in done.stdout.splitlines()
        if line.startswith(("PASSED", "FAILED", "ERROR"))
    }
    assert outcomes == {
        "test_pages_are_taken_in_order": "PASSED",
        "test_a_page_nobody_took_fails_the_test": "FAILED",
        "test_an_acknowledgement_stops_the_next_level": "PASSED",
        "test_routing_chooses_the_policy": "PASSED",
        "test_faults_are_lines": "PASSED",
        "test_a_notification_for_a_sender": "PASSED",
        "test_the_marker_adds_names_and_blocks": "PASSED",
        "test_a_pager_in_an_async_test_says_how_to_use_it": "PASSED",
    }, done.stdout + done.stderr
    assert "pages nobody expected: [Page(minute=5, level=1, recipient='ben@example.com', channel='log')]" in done.stdout
