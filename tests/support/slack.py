"""A fake of Slack on 127.0.0.1: the two Web API methods tocsin calls (``chat.postMessage``, ``chat.update``) and
the ``response_url`` of interactions, recording every call; and interaction payloads signed exactly as Slack
documents it (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the app's signing secret)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web


class FakeSlack:
    """Slack's Web API for one bot token; ``script`` answers a method with errors first."""

    def __init__(self, token: str, signing_secret: str) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, arguments) of every authorized call
        self.replies: list[dict[str, Any]] = []  # what was POSTed to a response_url
        self.messages: list[dict[str, Any]] = []  # each posted message: channel, ts, text, blocks
        self.scripts: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        """What ``channels.slack.api_url`` is set to."""
        return f"http://127.0.0.1:{self.port}/api/"

    def called(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call of ``method``."""
        return [arguments for name, arguments in self.calls if name == method]

    def script(self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Answer the next call of ``method`` with ``status`` and ``body``."""
        self.scripts.setdefault(method, []).append((status, body, headers or {}))

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        arguments = await request.json()
        self.calls.append((method, arguments))
        queued = self.scripts.get(method)
        if queued:
            status, body, headers = queued.pop(0)
            return web.json_response(body, status=status, headers=headers)
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            channel = arguments["channel"]
            message = {"type": "message", "ts": ts, "text": arguments.get("text"), "blocks": arguments.get("blocks")}
            self.messages.append({**message, "channel": channel})
            return web.json_response({"ok": True, "channel": channel, "ts": ts, "message": message})
        if method == "chat.update":
            return web.json_response({"ok": True, "channel": arguments["channel"], "ts": arguments["ts"]})
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    async def _response_url(self, request: web.Request) -> web.Response:
        self.replies.append(await request.json())
        return web.Response(text="ok")

    def interaction(
        self, message: dict[str, Any], *, user: str, action: str, timestamp: int
    ) -> tuple[bytes, dict[str, str]]:
        """The request Slack sends when ``user`` presses ``action``'s button on ``message`` (one of
        :attr:`messages`), signed at ``timestamp``: (body, headers)."""
        index = len(self.calls)
        (buttons,) = [block for block in message["blocks"] if block["type"] == "actions"]
        (button,) = [b for b in buttons["elements"] if b["action_id"] == f"tocsin_{action}"]
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
            "api_app_id": "A0001",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"]},
            "trigger_id": f"trigger-{index}",
            "team": {"id": "T0001", "domain": "example"},
            "channel": {"id": message["channel"], "name": "directmessage"},
            "message": {"type": "message", "ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
            "response_url": f"http://127.0.0.1:{self.port}/response/{index}",
            "actions": [{**button, "block_id": "actions", "action_ts": f"{timestamp}.000001"}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return body, self.signed(body, timestamp)

    def signed(self, body: bytes, timestamp: int, secret: str | None = None) -> dict[str, str]:
        """The headers that sign ``body`` at ``timestamp``, as Slack computes them."""
        base = b"v0:" + str(timestamp).encode() + b":" + body
        digest = hmac.new((secret or self.signing_secret).encode(), base, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": f"v0={digest}",
        }

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response/{index}", self._response_url)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Shut down."""
        if self._runner is not None:
            await self._runner.cleanup()
