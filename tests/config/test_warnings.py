"""Config warnings: what a config that loads may still want changed. Without server.public_url, pages carry no
links; the warning is given only when a contact's channel could show them."""

from __future__ import annotations

from typing import Any

import pytest

import tocsin
from tocsin.config import config_warnings

SLACK = {"slack": {"token_env": "SLACK_BOT_TOKEN", "signing_secret_env": "SLACK_SIGNING_SECRET"}}


def warnings(document: dict[str, Any]) -> list[str]:
    registry = tocsin.load_plugins(autoload=False).registry
    config = tocsin.parse_config(document, registry, source="tocsin.yaml")
    return [str(issue) for issue in config_warnings(config, registry, source="tocsin.yaml")]


def test_a_contact_that_could_show_links_without_a_public_url_is_warned_about():
    document = {
        "users": {"a@example.com": {"contacts": [{"type": "log"}, {"type": "webhook", "url": "https://h.example.com"}]}}
    }
    assert warnings(document) == [
        "tocsin.yaml: $.server.public_url: not set, so pages carry no links (acknowledge, resolve, snooze, "
        "escalate, open in tocsin), though webhook messages could (first at $.users['a@example.com'].contacts[1]); set "
        "it to the URL people reach tocsin at"
    ]


def test_a_slack_contact_without_a_public_url_is_warned_about_too():
    document = {"notify_channels": {"#ops": {"type": "slack", "channel": "C1"}}, "channels": SLACK}
    (warning,) = warnings(document)
    assert "though slack messages could (first at $.notify_channels['#ops'])" in warning  # its Open in tocsin button


@pytest.mark.parametrize(
    "document",
    [
        {
            "users": {"a@example.com": {"contacts": [{"type": "webhook", "url": "https://h.example.com"}]}},
            "server": {"public_url": "https://tocsin.example.com"},
        },
        {"users": {"a@example.com": {"contacts": [{"type": "log"}]}}},
        {},
    ],
    ids=["public-url-set", "log-shows-no-links", "no-contacts"],
)
def test_no_warning_when_links_are_made_or_no_channel_could_show_them(document):
    assert warnings(document) == []


def test_a_public_url_must_be_a_base_url():
    with pytest.raises(tocsin.ConfigError, match=r"\$\.server\.public_url: must be a base URL without a query"):
        warnings({"server": {"public_url": "https://tocsin.example.com/?x=1"}})
    with pytest.raises(tocsin.ConfigError, match=r"\$\.server\.public_url: needs an http:// or https:// URL"):
        warnings({"server": {"public_url": "tocsin.example.com"}})


def test_a_rate_limit_names_a_known_channel():
    with pytest.raises(tocsin.ConfigError, match=r"\$\.delivery\.rate_limits\['pigeon'\]: unknown channel 'pigeon'"):
        warnings({"delivery": {"rate_limits": {"pigeon": {"messages": 1, "minutes": 5}}}})
    with pytest.raises(tocsin.ConfigError, match=r"\$\.delivery\.rate_limits\['email'\]\.messages: must be 1 or more"):
        warnings({"delivery": {"rate_limits": {"email": {"messages": 0, "minutes": 5}}}})
