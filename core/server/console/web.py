"""The console's plumbing: templates, the visitor's session, forms with their CSRF check, and the answers
(pages with their security headers, redirects, error pages)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tocsin.errors import FieldError
from tocsin.server.console.session import COOKIE, Session, Sessions
from tocsin.server.errors import ApiError
from tocsin.server.service import Service
from tocsin.server.views import TimelineEntry

__all__ = ["PREFIX", "Web", "age", "checked", "failure_lines", "happened", "redirect", "when"]

PREFIX = "/ui"
T = TypeVar("T")

# Everything the pages load comes from this server; nothing may frame them.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def age(since: datetime, now: datetime) -> str:
    """How long ago ``since`` was, in the largest two units (``3d 4h``, ``5m``, ``40s``)."""
    seconds = max(int((now - since).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{seconds}s"


def when(moment: datetime | None, zone: str | None = None) -> str:
    """``moment`` as wall-clock time in the time zone named ``zone`` (default: its own offset): ``Mon 2 Mar
    09:00 EST`` (``UTC-05:00`` where there is no zone name)."""
    if moment is None:
        return "—"
    if zone is not None:
        moment = moment.astimezone(ZoneInfo(zone))
    zone = moment.tzname() or moment.strftime("UTC%z")
    return f"{moment:%a} {moment.day} {moment:%b %H:%M} {zone}"


# What a timeline entry's kind reads as on the page (any other shows its kind with underscores as spaces).
_HAPPENED = {
    ("incident", "state_changed"): "state changed",
    ("incident", "suppressed"): "held by a maintenance window",
    ("journal", "started"): "escalation started",
    ("journal", "level_fired"): "level fired",
    ("journal", "announced"): "routing notifications sent",
    ("journal", "ack_timeout"): "acknowledgement timed out",
    ("journal", "escalated"): "escalated by hand",
    ("journal", "unacknowledged"): "acknowledgement taken back",
    ("journal", "unresolved"): "nobody on call",
    ("journal", "target_failed"): "target failed",
    ("journal", "snooze_ended"): "snooze ended",
    ("delivery", "delivered"): "paged",
    ("delivery", "delivery_failed"): "page failed",
    ("note", "note"): "note",
}


def happened(entry: TimelineEntry) -> str:
    """What ``entry`` of an incident's timeline says happened, in words (``escalation started``, ``paged``)."""
    text = _HAPPENED.get((entry.source, entry.kind))
    if text is not None:
        return text
    if entry.source == "delivery":  # a page not tried yet: its status (pending, folded, ...)
        return f"page {entry.kind}"
    return entry.kind.replace("_", " ")


class Web:
    """Renders the console's pages for one :class:`Service` and reads who is asking."""

    def __init__(self, service: Service, sessions: Sessions) -> None:
        self.service = service
        self.sessions = sessions
        self.templates = Environment(
            loader=PackageLoader("tocsin.server.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["when"] = when
        self.templates.filters["happened"] = happened
        # Behind a proxy at a path (``server.public_url`` https://pager.example.com/tocsin), the proxy passes
        # /ui/... on, as it passes /v1/links/...; every address the console hands the browser (links, forms,
        # assets, redirects, its cookie's path) is under that path: ``base``, and ``prefix``, the console's own.
        public = service.config.server.public_url
        self.base = urlsplit(public).path.rstrip("/") if public else ""
        self.prefix = self.base + PREFIX
        self.templates.globals["prefix"] = self.prefix

    def session(self, request: Request) -> Session:
        """The visitor's session (anonymous when they have none)."""
        return self.sessions.read(request.cookies.get(COOKIE))

    def render(
        self, request: Request, name: str, session: Session, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """The page ``name`` rendered for ``session`` (a part when ``name`` starts with ``_``); a session made for
        this request sends its cookie with it."""
        body = self.templates.get_template(name).render(
            session=session, path=self.base + request.url.path, now=self.service.clock.now(), age=age, **context
        )
        response = HTMLResponse(body, status_code=status, headers=_HEADERS)
        if session.fresh and not name.startswith("_"):
            self.keep(response, session)
        return response

    def keep(self, response: Response, session: Session) -> None:
        """Set the cookie that carries ``session``."""
        response.set_cookie(
            COOKIE,
            self.sessions.cookie(session),
            max_age=self.sessions.lifetime(session),
            path=self.prefix,
            httponly=True,
            samesite="lax",
            secure=self.sessions.secure,
        )

    def error(
        self, request: Request, session: Session, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> HTMLResponse:
        """An error page saying ``message`` (with ``headers`` besides the pages' own)."""
        response = self.render(request, "error.html", session, status=status, status_code=status, message=message)
        response.headers.update(headers or {})
        return response

    async def form(self, request: Request, session: Session) -> dict[str, str]:
        """The posted form's fields, once its CSRF token is checked.

        :raises ApiError: 403 when the token is missing or wrong (a forged post), 408 when the form does not
            arrive within ``server.body_timeout_seconds``, 413 over ``server.max_body_bytes``, 415 when the body
            is not a form.
        """
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise ApiError(415, "expected a form (application/x-www-form-urlencoded)")
        limit, wait = self.service.max_body_bytes, self.service.body_timeout
        body = b""
        try:
            async with asyncio.timeout(wait):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limit:
                        raise ApiError(413, f"the form is over the limit of {limit} bytes")
        except TimeoutError:
            # The rest of the body may still come: the connection cannot carry another request.
            raise ApiError(408, f"the form did not arrive within {wait:g} s", headers={"Connection": "close"}) from None
        fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        if not session.csrf_matches(fields.get("csrf")):
            raise ApiError(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        return fields


def checked(kind: type[T], **fields: Any) -> T:
    """The API's request ``kind`` made from a form's fields, checked as the API checks it.

    :raises ApiError: 422 naming the field that is wrong.
    """
    try:
        return kind(**fields)
    except FieldError as exc:
        raise ApiError(422, f"{exc.field}: {exc.message}") from None


def failure_lines(failure: ApiError) -> list[str]:
    """What the service refused, a line per fault (``end: must be after start (...)``), for a page to show."""
    if not failure.details:
        return [failure.message]
    return [f"{detail.path.removeprefix('$.')}: {detail.message}" for detail in failure.details]


def redirect(path: str, query: Mapping[str, str] | None = None) -> RedirectResponse:
    """A 303 to ``path`` (after a form: the browser follows it with a GET)."""
    target = path + (f"?{urlencode(query)}" if query else "")
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
