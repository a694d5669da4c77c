"""Calendar feeds calendar apps can subscribe to: a schedule's final shifts, or one person's shifts across every
schedule, at a URL that carries its own unguessable token (calendar apps send no Authorization header).

Each feed's token lives in the store, so every instance on it serves the same URL, and an admin rotates it at
run time (the old URL stops working at once). A feed is read-only; a missing or wrong token is a 404 that does
not say whether the feed exists.
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING

import attrs
from starlette.responses import Response

from tocsin.config.serving import Scope
from tocsin.server.endpoints import Call, Endpoint, QueryParam
from tocsin.server.errors import ApiError
from tocsin.server.routes_schedules import FEED_SPAN

if TYPE_CHECKING:
    from tocsin.server.service import Service

__all__ = ["ENDPOINTS", "FeedToken"]

KINDS = ("schedule", "user")
_NOT_FOUND = "no such feed (or the token is wrong or was rotated)"


@attrs.frozen(kw_only=True)
class FeedToken:
    """A feed's new token and the URL to subscribe to (path and query; put the server's address before it)."""

    feed: str
    token: str
    url: str


async def rotate_feed_token(call: Call) -> FeedToken:
    """POST /v1/feeds/{kind}/{feed_id}/token."""
    service = call.service
    kind, feed_id = call.path("kind"), call.path("feed_id")
    _known_feed(service, kind, feed_id)
    token = secrets.token_urlsafe(32)
    feed = f"{kind}:{feed_id}"
    await service.commits.run(lambda: service.storage.escalations.set_feed_token(feed, token, service.clock.now()))
    return FeedToken(feed=feed, token=token, url=f"/v1/feeds/{kind}/{feed_id}.ics?token={token}")


async def schedule_feed(call: Call) -> Response:
    """GET /v1/feeds/schedule/{schedule_id}.ics."""
    service = call.service
    schedule_id = call.path("schedule_id")
    _check_token(service, f"schedule:{schedule_id}", call.params.get("token"))
    resolver = service.schedules.get(schedule_id)
    if resolver is None:
        raise ApiError(404, _NOT_FOUND)
    low, high = service.span(resolver, None, None, FEED_SPAN)
    resolver = service.overrides.merged(resolver, low, high)  # the overrides made at run time count too
    return _calendar(resolver.to_ical(low, high, stamp=service.clock.now()))


async def user_feed(call: Call) -> Response:
    """GET /v1/feeds/user/{user}.ics."""
    from tocsin.schedules.ical import person_calendar

    service = call.service
    user = call.path("user")
    _check_token(service, f"user:{user}", call.params.get("token"))
    now = service.clock.now()
    parts = []
    for resolver in service.schedules.values():
        low, high = service.span(resolver, now, None, FEED_SPAN)
        resolver = service.overrides.merged(resolver, low, high)  # the overrides made at run time count too
        shifts = [shift for shift in resolver.shifts(low, high) if shift.user == user]
        parts.append((resolver.schedule, resolver.zone, shifts))
    return _calendar(person_calendar(user, parts, now, now + FEED_SPAN, stamp=now))


def _known_feed(service: Service, kind: str, feed_id: str) -> None:
    if kind not in KINDS:
        raise ApiError(404, f"no feed kind {kind!r}; known: {', '.join(KINDS)}")
    if kind == "schedule" and feed_id not in service.schedules:
        raise ApiError(404, f"no schedule {feed_id!r}; known: {', '.join(sorted(service.schedules)) or '(none)'}")
    if kind == "user" and feed_id not in service.loaded.people:
        raise ApiError(404, f"{feed_id!r} is not a person the config knows (its users, teams and schedules)")


def _check_token(service: Service, feed: str, given: str | None) -> None:
    stored = service.storage.escalations.feed_token(feed)
    if stored is None or given is None or not hmac.compare_digest(stored.encode(), given.encode()):
        raise ApiError(404, _NOT_FOUND)


def _calendar(feed: bytes) -> Response:
    return Response(feed, media_type="text/calendar; charset=utf-8", headers={"Cache-Control": "private, max-age=300"})


_TOKEN = (QueryParam(name="token", kind=str, description="the feed's token (see POST /v1/feeds/{kind}/{id}/token)"),)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        method="POST",
        path="/v1/feeds/{kind}/{feed_id}/token",
        handler=rotate_feed_token,
        summary="Make or rotate a calendar feed's token",
        description=(
            "`kind` is `schedule` (a schedule's final shifts) or `user` (one person's shifts across every "
            "schedule). Answers a new unguessable token and the feed URL that carries it; the previous token, if "
            "any, stops working at once. The token is kept in the store, so every instance serves the feed."
        ),
        tag="feeds",
        scope=Scope.ADMIN,
        response=FeedToken,
        errors=(404,),
        refuse_unknown_query=True,
    ),
    Endpoint(
        method="GET",
        path="/v1/feeds/schedule/{schedule_id}.ics",
        handler=schedule_feed,
        summary="A schedule's iCalendar feed, for calendar apps (token in the URL)",
        description="The final shifts from now to 30 days later. No Authorization header: the `token` query "
        "parameter is the key. 404 for a wrong, rotated or missing token.",
        tag="feeds",
        scope=None,
        media_type="text/calendar",
        query=_TOKEN,
        errors=(404, 422),
        refuse_unknown_query=True,
    ),
    Endpoint(
        method="GET",
        path="/v1/feeds/user/{user}.ics",
        handler=user_feed,
        summary="One person's iCalendar feed across every schedule (token in the URL)",
        description="The person's final shifts in every schedule from now to 30 days later. No Authorization "
        "header: the `token` query parameter is the key. 404 for a wrong, rotated or missing token.",
        tag="feeds",
        scope=None,
        media_type="text/calendar",
        query=_TOKEN,
        errors=(404, 422),
        refuse_unknown_query=True,
    ),
)
