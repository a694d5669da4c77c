"""The endpoint table: each endpoint says its method, path, scope, parameters, body and answers once, and
that one description serves the router, the auth check, the parsing of the request and the OpenAPI document.

A handler is ``async def handler(call: Call) -> Any``: it returns an attrs object (written as JSON with the
endpoint's status), a :class:`Reply` (another status), or a Starlette ``Response`` (a calendar, metrics).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin.config.serving import Scope
from tocsin.convert import structure_faults
from tocsin.errors import ConfigError
from tocsin.escalation.errors import EscalationError
from tocsin.jsontext import dumps_bytes
from tocsin.logs import get_logger
from tocsin.server.auth import Principal
from tocsin.server.errors import ApiError, api_error, from_config_error, invalid
from tocsin.server.guards import (
    MAX_DEPTH,
    instant_faults,
    is_text,
    json_number,
    lone_surrogate_path,
    nests_deeper_than,
    parse_instant,
)
from tocsin.store.busy import retry_while_busy
from tocsin.store.errors import StaleStateError, StoreError

if TYPE_CHECKING:
    from tocsin.server.service import Service

__all__ = ["Call", "Endpoint", "Handler", "QueryParam", "Reply", "json_response"]

_log = get_logger(component="server")
_CLOSE = {"Connection": "close"}  # a body that stalled: the connection cannot carry another request

Handler = Callable[["Call"], Awaitable[Any]]


@attrs.frozen(kw_only=True)
class QueryParam:
    """A query parameter: ``kind`` is ``str``, ``int``, ``bool`` or ``datetime`` (ISO 8601); ``repeated`` may be
    given more than once (its value is then the list of every one given); ``pattern`` is what a ``str`` value
    must look like."""

    name: str
    kind: type
    description: str
    minimum: int | None = None
    maximum: int | None = None
    repeated: bool = False
    pattern: str | None = None  # a ``str`` value must match it whole (the OpenAPI document says so too)


@attrs.frozen(kw_only=True)
class Reply:
    """A handler's answer with a status other than the endpoint's default (a duplicate answers 200)."""

    status: int
    body: Any


@attrs.frozen(kw_only=True)
class Endpoint:
    """One operation of the API.

    :param scope: the token scope it needs; None for the open endpoints (/health, /metrics, /openapi.json).
    :param response: the attrs class of a JSON answer (None with ``media_type`` for other bodies).
    :param answers: other success statuses and what they mean (``{200: "a duplicate"}``).
    :param body: the attrs class of the JSON request body; ``body_required=False`` allows an empty body.
    :param errors: the error statuses it can answer, beside 401/403 (added for scoped endpoints) and 500.
    :param refuse_unknown_query: answer 422 to a query parameter ``query`` does not declare (a filter the
        endpoint does not support is refused, never silently ignored).
    """

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    scope: Scope | None
    response: type | None = None
    status: int = 200
    answers: Mapping[int, str] = attrs.field(factory=dict)
    media_type: str = "application/json"
    body: type | None = None
    body_required: bool = True
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = ()
    html_errors: tuple[int, ...] = ()
    description: str = ""
    refuse_unknown_query: bool = False

    @property
    def operation_id(self) -> str:
        """The handler's name: stable, unique within the API."""
        return self.handler.__name__

    def route(self, service: Service) -> Route:
        """The Starlette route that runs this endpoint against ``service``."""

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            response = await self._answer(request, service)
            service.metrics.answered(self.method, self.path, response.status_code, time.perf_counter() - started)
            return response

        return Route(self.path, endpoint, methods=[self.method], name=self.operation_id)

    async def _answer(self, request: Request, service: Service) -> Response:
        try:
            principal = None
            if self.scope is not None:
                principal = service.auth.authenticate(request.headers.get("authorization"), self.scope)
            call = Call(request, service, self, principal)
            answer = await self._handle(call)
        except ApiError as exc:
            return problem_response(service, exc)
        except (EscalationError, StaleStateError) as exc:
            return problem_response(service, api_error(exc))
        except StoreError as exc:
            # Nothing of the request was kept (its unit of work rolled back): say so, and that a retry may work.
            _log.error("store failed; request not applied", method=self.method, route=self.path, reason=str(exc))
            message = f"the store failed; nothing was changed, retry shortly ({exc})"
            return problem_response(service, ApiError(503, message, headers={"Retry-After": "1"}))
        except Exception:
            _log.exception("request failed", method=self.method, route=self.path)
            return problem_response(service, ApiError(500, "internal error: the request was not completed"))
        if isinstance(answer, Response):
            return answer
        if isinstance(answer, Reply):
            return json_response(service, answer.body, answer.status)
        return json_response(service, answer, self.status)

    async def _handle(self, call: Call) -> Any:
        """The handler's answer. While another process holds the store's lock, its unit of work fails at once
        and changes nothing, so it is run again (:func:`~tocsin.store.busy.retry_while_busy`) until
        ``storage.lock_wait_seconds`` have passed; then the store's error stands (503)."""
        return await retry_while_busy(lambda: self.handler(call), seconds=call.service.lock_wait)


class Call:
    """One request as a handler sees it: the service, the caller, path and query values, and the body."""

    def __init__(self, request: Request, service: Service, endpoint: Endpoint, principal: Principal | None) -> None:
        self.request = request
        self.service = service
        self.endpoint = endpoint
        self.principal = principal
        self._raw: bytes | None = None
        _check_text(request)
        self.params = _parse_query(request, endpoint.query, refuse_unknown=endpoint.refuse_unknown_query)

    def path(self, name: str) -> str:
        """The value of the path parameter ``name``."""
        value: str = self.request.path_params[name]  # the routes' parameters are plain ``{name}``: strings
        return value

    @property
    def actor(self) -> str | None:
        """Who acts when a body does not say: the token's name (None on an open server)."""
        return self.principal.name if self.principal is not None else None

    async def raw(self) -> bytes:
        """The body as it arrived (for a signature over its exact bytes), with the limits of :meth:`json`."""
        if self._raw is None:
            self._raw = await self._read()
        return self._raw

    async def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty). 413 over the size limit (declared or read), 408 when it
        does not arrive within ``server.body_timeout_seconds``, 400 when it is not JSON or nests more than
        :data:`~tocsin.server.guards.MAX_DEPTH` deep, 422 naming a string that holds a lone surrogate."""
        if self._raw is None:  # read once: a handler run again (the store was locked) parses it again
            self._raw = await self._read()
        raw = self._raw
        if not raw.strip():
            return None
        if nests_deeper_than(raw, MAX_DEPTH):
            raise ApiError(400, f"malformed JSON: arrays and objects nest more than {MAX_DEPTH} deep")
        try:
            document = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=json_number)
        except UnicodeDecodeError:
            raise ApiError(400, "malformed JSON: the body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"malformed JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except ValueError as exc:
            raise ApiError(400, f"malformed JSON: {exc}") from None
        where = lone_surrogate_path(raw, document)
        if where is not None:
            raise invalid([(where, "holds a lone surrogate (such as \\ud800): not text that can be stored")])
        return document

    async def _read(self) -> bytes:
        limit = self.service.max_body_bytes
        declared = self.request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        wait = self.service.body_timeout
        try:
            async with asyncio.timeout(wait):
                async for chunk in self.request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(413, f"request body is over the limit of {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, f"the request body did not arrive within {wait:g} s", headers=_CLOSE) from None
        except ClientDisconnect:
            raise ApiError(400, "the request body ended before its Content-Length") from None
        return b"".join(chunks)

    async def body(self) -> Any:
        """The body structured as the endpoint's ``body`` class (None when optional and empty); 422 with the
        path of every fault."""
        return self.structure(await self.json())

    def structure(self, document: Any) -> Any:
        """``document`` (parsed JSON) structured as the endpoint's ``body`` class; see :meth:`body`."""
        cls = self.endpoint.body
        assert cls is not None, f"{self.endpoint.path} declares no body"
        if document is None:
            if self.endpoint.body_required:
                raise invalid([("$", "a JSON object is required")])
            return None
        if not isinstance(document, dict):
            raise invalid([("$", f"expected a JSON object, got {_json_kind(document)}")])
        try:
            structured: Any = self.service.reader.structure(document, cls)
        except ConfigError as exc:
            raise from_config_error(exc) from None
        except Exception as exc:
            raise invalid(structure_faults(exc)) from None
        faults = instant_faults(structured, document)
        if faults:
            raise invalid(faults)
        return structured


def json_response(service: Service, body: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """``body`` (an attrs object) written as JSON by the response converter."""
    content = dumps_bytes(service.writer.unstructure(body))
    return Response(content, status_code=status, headers=dict(headers or {}), media_type="application/json")


def problem_response(service: Service, error: ApiError) -> Response:
    """The JSON answer for ``error``."""
    return json_response(service, error.problem(), error.status, error.headers)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    return kinds.get(type(value), "null")


def _check_text(request: Request) -> None:
    """422 for a path parameter that is not text (a lone surrogate): it could be neither stored nor logged.
    uvicorn decodes percent-escapes as UTF-8 with replacement, so it never passes one; another server might.
    (Query strings and headers are bytes that Starlette decodes with replacement: never a lone surrogate.)"""
    for name, value in request.path_params.items():
        if isinstance(value, str) and not is_text(value):
            raise invalid([(name, "holds a lone surrogate (such as \\ud800): not text")], location="path")


def _parse_query(request: Request, params: tuple[QueryParam, ...], *, refuse_unknown: bool = False) -> dict[str, Any]:
    values: dict[str, Any] = {}
    faults: list[tuple[str, str]] = []
    if refuse_unknown:
        known = {param.name for param in params}
        for name in dict.fromkeys(request.query_params.keys()):
            if name not in known:
                takes = ", ".join(sorted(known)) or "none"
                faults.append((name, f"unknown query parameter {name!r}; this endpoint takes: {takes}"))
    query = request.query_params
    for param in params:
        given = query.getlist(param.name)
        if not given:
            continue
        if len(given) > 1 and not param.repeated:
            if refuse_unknown:
                faults.append((param.name, f"given {len(given)} times; give it once"))
                continue
            given = given[-1:]  # the last one counts
        try:
            parsed = [_query_value(param, raw) for raw in given]
        except ValueError as exc:
            faults.append((param.name, str(exc)))
            continue
        values[param.name] = parsed if param.repeated else parsed[0]
    if faults:
        raise invalid(faults, location="query")
    return values


def _query_value(param: QueryParam, raw: str) -> Any:
    if param.kind is datetime:
        return parse_instant(raw, query=True)
    if param.kind is bool:
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {raw!r}")
        return raw.lower() == "true"
    if param.kind is int:
        if not re.fullmatch(r"-?[0-9]{1,18}", raw):
            raise ValueError(f"expected an integer, got {raw!r}")
        number = int(raw)
        if param.minimum is not None and number < param.minimum:
            raise ValueError(f"must be at least {param.minimum}, got {number}")
        if param.maximum is not None and number > param.maximum:
            raise ValueError(f"must be at most {param.maximum}, got {number}")
        return number
    if param.pattern is not None and not re.fullmatch(param.pattern, raw):
        raise ValueError(f"expected {param.description}, got {raw!r}")
    return raw
