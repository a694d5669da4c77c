"""Webhook delivery toolkit: what the SSRF check and signing cost, against baselines run in the same process.

Run: ``python bench/delivery.py``. Prints one row per comparison: time per operation for tocsin and for
the baseline, and the ratio (tocsin / baseline; below 1 is faster).

- classify: ``DestinationPolicy.classify`` vs the stdlib's ``ip_address(a).is_global`` (a weaker check);
- sign: ``signature_header`` vs a bare ``hmac`` + ``base64`` (the least work a signature needs) and, when
  installed, ``standardwebhooks.Webhook.sign``;
- post: ``post_json`` through the guarded session vs a plain ``aiohttp`` POST with the same body to the same
  local receiver (the end-to-end overhead of checking and signing every delivery).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from ipaddress import ip_address

import aiohttp
from aiohttp import web

from tocsin import DestinationPolicy, make_session, post_json, signature_header

ADDRESSES = ["8.8.8.8", "10.0.0.1", "2606:4700::1111", "::ffff:127.0.0.1", "64:ff9b::a00:1", "169.254.169.254"]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
BODY = b'{"incident":"inc-42","level":1,"recipient":"oncall@example.com"}' * 8
NOW = datetime.now(UTC)


def compare(
    ours: Callable[[], object], baseline: Callable[[], object], number: int, repeat: int = 7
) -> tuple[float, float]:
    """Best-of-``repeat`` seconds per call of each, the two timed in alternation so drift hits both alike."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for index, function in enumerate((ours, baseline)):
            start = time.perf_counter()
            for _ in range(number):
                function()
            best[index] = min(best[index], (time.perf_counter() - start) / number)
    return best[0], best[1]


async def compare_async(
    ours: Callable[[], Awaitable[object]], baseline: Callable[[], Awaitable[object]], number: int, repeat: int = 7
) -> tuple[float, float]:
    """``compare`` for coroutines."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for index, function in enumerate((ours, baseline)):
            start = time.perf_counter()
            for _ in range(number):
                await function()
            best[index] = min(best[index], (time.perf_counter() - start) / number)
    return best[0], best[1]


def bench_classify() -> list[tuple[str, float, float]]:
    policy = DestinationPolicy(["127.0.0.1/32"])

    def ours() -> None:
        for address in ADDRESSES:
            policy.classify(address)

    def stdlib() -> None:
        for address in ADDRESSES:
            _ = ip_address(address).is_global  # the stdlib caches is_global per address

    return [("classify 6 addresses vs ip_address().is_global", *compare(ours, stdlib, 2000))]


def bench_sign() -> list[tuple[str, float, float]]:
    seconds = int(NOW.timestamp())

    def ours() -> None:
        signature_header([SECRET], "msg_1", NOW, BODY)

    def bare() -> None:
        digest = hmac.new(KEY, f"msg_1.{seconds}.".encode() + BODY, hashlib.sha256).digest()
        _ = "v1," + base64.b64encode(digest).decode()

    rows = [("signature_header vs bare hmac+base64", *compare(ours, bare, 5000))]
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError:
        return rows
    hook, text = Webhook(SECRET), BODY.decode()
    rows.append(
        ("signature_header vs standardwebhooks.sign", *compare(ours, lambda: hook.sign("msg_1", NOW, text), 5000))
    )
    return rows


async def bench_post() -> list[tuple[str, float, float]]:
    app = web.Application()

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app.router.add_post("/hook", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    headers = {"content-type": "application/json"}
    try:
        async with make_session(["127.0.0.1/32"]) as guarded, aiohttp.ClientSession() as plain:

            async def ours() -> None:
                outcome = await post_json(guarded, url, BODY, message_id="msg_1", secrets=[SECRET], timeout=5, now=NOW)
                assert outcome.delivered, outcome

            async def baseline() -> None:
                async with plain.post(url, data=BODY, headers=headers, allow_redirects=False) as response:
                    assert response.status == 204

            await ours(), await baseline()  # warm both connection pools
            return [("post_json vs plain aiohttp POST (local)", *await compare_async(ours, baseline, 200))]
    finally:
        await runner.cleanup()


def main() -> None:
    """Run every comparison and print the table."""
    rows = bench_classify() + bench_sign() + asyncio.run(bench_post())
    width = max(len(name) for name, _, _ in rows)
    print(f"{'comparison':<{width}}  {'tocsin':>11}  {'baseline':>11}  {'ratio':>6}")
    for name, ours, baseline in rows:
        print(f"{name:<{width}}  {ours * 1e6:>9.2f}µs  {baseline * 1e6:>9.2f}µs  {ours / baseline:>6.2f}")


if __name__ == "__main__":
    main()
