"""Test helpers for the web console: Debian's Chromium driven by Playwright, a real server on 127.0.0.1, and the
API called over HTTP beside the browser."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

import tocsin
from support.docs import ROOT
from support.server import ServerThread, bearer
from tocsin.server import create_app, memory_storage

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; never a browser Playwright downloads
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXAMPLE = ROOT / "examples" / "tocsin.yaml"
# `TOCSIN_UI_SCREENSHOTS=docs/ui python -m pytest tests/console` writes the screenshots docs/ui.md shows.
SCREENSHOTS = os.environ.get("TOCSIN_UI_SCREENSHOTS")


def example_document() -> dict[str, Any]:
    """examples/tocsin.yaml in memory, paging through the log channel (its webhooks are not on loopback)."""
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document.pop("users")
    document.pop("notify_channels")
    document["storage"] = {"backend": "memory"}
    return document


@contextmanager
def served(document: dict[str, Any], clock: tocsin.ManualClock, source: Path | None = None) -> Iterator[ServerThread]:
    """A real server for the config ``document`` on 127.0.0.1, its time on ``clock`` (``source``: the file it was
    written to, which ``POST /v1/config/reload`` reads again)."""
    plugins = tocsin.load_plugins()
    config = tocsin.parse_config(document, plugins.registry, source="test")
    app = create_app(config, plugins, storage=memory_storage(clock), clock=clock, config_source=source)
    with ServerThread(app) as server:
        yield server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Visitor:
    """A cookie-keeping HTTP client that does not follow redirects; ``behind_tls`` sends ``Secure`` cookies too,
    as a browser does when a TLS proxy in front of the server (``server.public_url`` https) set them."""

    def __init__(self, url: str, *, behind_tls: bool = False) -> None:
        self.url = url
        policy = http.cookiejar.DefaultCookiePolicy(
            secure_protocols=("https", "wss", *(("http",) if behind_tls else ()))
        )
        self.jar = http.cookiejar.CookieJar(policy)
        self._open = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()).open

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        return self._send(urllib.request.Request(self.url + path))

    def post(
        self, path: str, form: dict[str, str], content_type: str = "application/x-www-form-urlencoded"
    ) -> tuple[int, dict[str, str], str]:
        data = urllib.parse.urlencode(form).encode()
        return self._send(urllib.request.Request(self.url + path, data=data, headers={"Content-Type": content_type}))

    def _send(self, request: urllib.request.Request) -> tuple[int, dict[str, str], str]:
        try:
            with self._open(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    def sign_in(self, token: str, name: str = "") -> tuple[int, dict[str, str], str]:
        _, _, page = self.get("/ui/sign-in")
        return self.post("/ui/sign-in", {"csrf": csrf_of(page), "token": token, "acting_as": name})

    def csrf(self, path: str = "/ui/incidents") -> str:
        return csrf_of(self.get(path)[2])


class Proxied:
    """A browser behind a proxy at the path ``at`` (``/tocsin``): it sends the cookies whose path covers the public
    address it asks for (``/tocsin/ui/...``), and the proxy passes the request on without ``at``. It does not follow
    redirects."""

    def __init__(self, url: str, at: str) -> None:
        self.url, self.at = url, at
        self.cookies: dict[str, tuple[str, str]] = {}  # name -> (value, path)

    def send(self, method: str, public: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        assert public.startswith(self.at + "/"), public
        sent = "; ".join(f"{name}={value}" for name, (value, path) in self.cookies.items() if public.startswith(path))
        headers = {"Cookie": sent} if sent else {}
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.url + public.removeprefix(self.at), data, headers, method=method)
        try:
            with urllib.request.build_opener(_NoRedirect()).open(request, timeout=10) as answer:
                status, got, body = answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as exc:
            status, got, body = exc.code, exc.headers, exc.read().decode()
        for header in got.get_all("set-cookie") or []:
            pair, *attributes = [part.strip() for part in header.split(";")]
            name, _, value = pair.partition("=")
            path = next((part.partition("=")[2] for part in attributes if part.lower().startswith("path=")), "/")
            self.cookies[name] = (value, path)
        return status, {key.lower(): value for key, value in got.items()}, body


def api(server: ServerThread, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """Call the API with a bearer token; (status, parsed JSON answer)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {**bearer(token), "Content-Type": "application/json"}
    request = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def csrf_of(html: str) -> str:
    """The CSRF token in a console page's forms."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    """A full-page PNG of ``page``: into $TOCSIN_UI_SCREENSHOTS when set (the docs' pictures), else ``tmp_path``."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
