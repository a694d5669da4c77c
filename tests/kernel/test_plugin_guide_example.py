"""The plugin guide's complete package is the one tests/thirdparty holds (test_thirdparty_plugin.py installs and
tests it in a fresh environment), and works here exactly as the guide says; every registrar's signature is
printed as it is."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from datetime import UTC, datetime

import pytest
import yaml
from support.docs import ROOT, code_blocks

import tocsin
from tocsin import registry

GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
SECTION = GUIDE[GUIDE.index("## A complete plugin package") :]
PACKAGE = ROOT / "tests" / "thirdparty" / "tocsin-acme"


def _load_package_module():
    spec = importlib.util.spec_from_file_location("tocsin_acme", PACKAGE / "tocsin_acme.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("tocsin_acme", module)  # as an installed plugin would be
    spec.loader.exec_module(sys.modules["tocsin_acme"])
    return sys.modules["tocsin_acme"]


acme = _load_package_module()
pytestmark = pytest.mark.tocsin_plugins({"acme": acme}, autoload=False)  # under its entry-point name


@pytest.mark.parametrize(
    ("language", "starting", "path"),
    [
        ("toml", r"\[build-system\]", "pyproject.toml"),
        ("python", '"""tocsin_acme:', "tocsin_acme.py"),
        ("python", '"""tocsin_acme\'s own tests', "tests/test_acme.py"),
    ],
)
def test_the_guide_prints_the_packages_files_as_they_are(language, starting, path):
    (printed,) = code_blocks(SECTION, language, starting=starting)
    assert printed == (PACKAGE / path).read_text(encoding="utf-8")


def yaml_blocks() -> list[str]:
    return code_blocks(SECTION, "yaml")


def test_the_desk_on_duty_is_texted_then_the_duty_phone(tocsin_config, tocsin_pager, tocsin_clock):
    tocsin_clock.set(datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    pager = tocsin_pager(tocsin_config.yaml(yaml_blocks()[0]).build())
    pager.start("sms")
    pager.advance(minutes=10)
    assert pager.sender.take() == [
        (0, 0, "cal@example.com", "acme_sms"),
        (10, 1, "+447700900900", "acme_sms"),
    ]
    pager.advance(hours=1)
    pager.sender.assert_no_more()


def test_five_mistakes_of_five_kinds_get_the_five_lines_the_guide_prints(tocsin_plugins):
    document = yaml.safe_load(yaml_blocks()[1])
    with pytest.raises(tocsin.ConfigError) as info:
        tocsin.parse_config(document, tocsin_plugins.registry, source="tocsin.yaml")
    printed = code_blocks(SECTION, "", starting="tocsin.yaml: ")[0]
    assert str(info.value) + "\n" == printed


def test_the_plugin_is_listed_with_everything_it_registered(tocsin_plugins):
    owners = {
        key: table.entry(name).plugin
        for key, table, name in [
            ("settings", tocsin_plugins.registry.settings, "acme"),
            ("targets", tocsin_plugins.registry.targets, "acme_sms"),
            ("rotations", tocsin_plugins.registry.rotations, "acme_desks"),
            ("channels", tocsin_plugins.registry.channels, "acme_sms"),
        ]
    }
    assert set(owners.values()) == {"acme"}


def registrar_signature(registrar: type) -> str:
    parts, starred = [], False
    for parameter in list(inspect.signature(registrar.__call__).parameters.values())[1:]:
        if parameter.kind is parameter.KEYWORD_ONLY and not starred:
            parts.append("*")
            starred = True
        default = "" if parameter.default is parameter.empty else f"={parameter.default!r}"
        parts.append(parameter.name + default)
    return f"`register({', '.join(parts)})`"


@pytest.mark.parametrize("point", registry.EXTENSION_POINTS, ids=lambda point: point.key)
def test_every_registrar_is_documented_with_its_exact_signature(point):
    assert registrar_signature(point.registrar) in GUIDE


def test_the_routing_guide_prints_the_same_operator_signature():
    routing = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")
    printed = set(re.findall(r"`register\(name, compile[^`]*\)`", routing))
    assert printed == {registrar_signature(registry.OperatorRegistrar)}
