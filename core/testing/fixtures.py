"""tocsin's pytest plugin: fixtures for testing plugins and policies (registered through the ``pytest11`` entry
point, so installing tocsin makes them available to every test suite).

- ``tocsin_plugins``: the plugin set: built-ins, installed plugins, and the objects a
  ``@pytest.mark.tocsin_plugins(module, {"acme": other}, autoload=False, blocked=[...])`` marker adds (a mapping
  names its plugins; loaded once per session for each distinct marker);
- ``tocsin_clock``: a ``ManualClock`` at Monday 2026-01-05 09:00 UTC;
- ``tocsin_config``: a :class:`~tocsin.testing.ConfigBuilder` reading against ``tocsin_plugins``;
- ``tocsin_pager``: ``tocsin_pager(config=None, **engine_options)`` builds a :class:`~tocsin.testing.Pager`
  (default: from ``tocsin_config``) on ``tocsin_clock``, paging into a recording sender;
- ``tocsin_notification``: :func:`~tocsin.testing.make_notification`, a page as a sender receives it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from tocsin.clock import ManualClock
from tocsin.config.model import Config
from tocsin.manager import Plugins, load_plugins
from tocsin.testing.builders import ConfigBuilder, make_notification
from tocsin.testing.pager import Pager

__all__ = [
    "START",
    "tocsin_clock",
    "tocsin_config",
    "tocsin_notification",
    "tocsin_pager",
    "tocsin_plugins",
]

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC: where ``tocsin_clock`` starts

_MARKER = "tocsin_plugins"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker (suites that run with ``--strict-markers`` accept it)."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(*extra, autoload=None, blocked=None): the plugin set of the tocsin_plugins fixture: extra plugin "
        "objects (or mappings of name to object), whether installed plugins load (default: unless "
        "TOCSIN_DISABLE_PLUGIN_AUTOLOAD), blocked names",
    )


@pytest.fixture(scope="session")
def _tocsin_plugin_sets() -> dict[Any, Plugins]:
    return {}


@pytest.fixture
def tocsin_plugins(request: pytest.FixtureRequest, _tocsin_plugin_sets: dict[Any, Plugins]) -> Plugins:
    """The loaded plugin set, as the ``tocsin_plugins`` marker (the closest one) asks."""
    marker = request.node.get_closest_marker(_MARKER)
    extra: dict[str, object] = {}
    for given in marker.args if marker else ():
        if isinstance(given, Mapping):
            extra.update(given)
        else:
            extra[getattr(given, "__name__", None) or type(given).__name__] = given
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    autoload: bool | None = options.pop("autoload", None)
    blocked: Iterable[str] | None = options.pop("blocked", None)
    if options:
        raise pytest.UsageError(f"{_MARKER} marker: unknown option(s) {', '.join(sorted(options))}")
    names = None if blocked is None else tuple(sorted(blocked))
    key = (tuple((name, id(plugin)) for name, plugin in extra.items()), autoload, names)
    plugins = _tocsin_plugin_sets.get(key)
    if plugins is None:
        plugins = _tocsin_plugin_sets[key] = load_plugins(extra=extra, autoload=autoload, blocked=blocked)
    return plugins


@pytest.fixture
def tocsin_clock() -> ManualClock:
    """Virtual time, at :data:`START`; it moves only when told to."""
    return ManualClock(START)


@pytest.fixture
def tocsin_config(tocsin_plugins: Plugins) -> ConfigBuilder:
    """An empty config document to build on, read against ``tocsin_plugins``."""
    return ConfigBuilder(tocsin_plugins.registry)


@pytest.fixture
def tocsin_pager(
    tocsin_plugins: Plugins, tocsin_clock: ManualClock, tocsin_config: ConfigBuilder
) -> Callable[..., Pager]:
    """``tocsin_pager(config=None, **engine_options)``: a pager for ``config`` (default: ``tocsin_config``'s)."""

    def build(config: Config | None = None, **engine_options: Any) -> Pager:
        return Pager.build(
            config if config is not None else tocsin_config.build(), tocsin_plugins, tocsin_clock, **engine_options
        )

    return build


@pytest.fixture
def tocsin_notification() -> Callable[..., Any]:
    """:func:`~tocsin.testing.make_notification`: ``tocsin_notification("ana@example.com", channel="sms")``."""
    return make_notification
