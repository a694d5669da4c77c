"""The app factory: a Starlette ASGI app serving one config, with the engine's timer and the outbox running
in the app's event loop for as long as the app runs (its lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from tocsin import __version__
from tocsin.clock import Clock, SystemClock
from tocsin.config import Config
from tocsin.logs import get_logger
from tocsin.manager import Plugins, load_plugins
from tocsin.server.auth import Authenticator
from tocsin.server.console import Console, session_key
from tocsin.server.endpoints import problem_response
from tocsin.server.errors import ApiError
from tocsin.server.openapi import openapi_document
from tocsin.server.reload import ReloadRefused
from tocsin.server.routes import all_endpoints
from tocsin.server.service import Service
from tocsin.server.storage import Storage, open_storage

__all__ = ["create_app"]

_log = get_logger(component="server")


def create_app(
    config: Config,
    plugins: Plugins | None = None,
    *,
    storage: Storage | None = None,
    clock: Clock | None = None,
    run_monitor: bool = True,
    config_source: str | Path | None = None,
    reload_on_hangup: bool = False,
) -> Starlette:
    """The ASGI app serving ``config``'s API (``app.state.service`` is its :class:`Service`).

    :param plugins: the loaded plugin set the config was loaded with (default: ``tocsin.load_plugins()``).
    :param storage: the stores to use (default: opened from ``config.storage`` and closed when the app stops;
        stores handed in are left open).
    :param clock: where "now" comes from (default: the system clock; on PostgreSQL, the database server's).
    :param run_monitor: run the escalation timer and the outbox while the app runs (its lifespan).
    :param config_source: the file ``config`` was read from: ``POST /v1/config/reload`` reads it again (None:
        the config cannot be reloaded), and /health shows its SHA-256.
    :param reload_on_hangup: reload the config on SIGHUP while the app runs (the main thread's event loop
        only: ``tocsin serve``).
    :raises ServerError: when the server settings or the store cannot be used.
    """
    plugins = plugins if plugins is not None else load_plugins()
    given = clock
    clock = clock if clock is not None else SystemClock()
    auth = Authenticator(config.server)  # refuse a server without tokens before any file is opened
    key = session_key(config.server)  # and one whose console session key is unset
    owned = storage is None
    stores = (
        storage
        if storage is not None
        else open_storage(config.storage, plugins.registry, clock, own_clock=given is None)
    )
    if given is None and stores.clock is not None:
        clock = stores.clock  # several instances: the database's clock decides what is due
    try:
        service = Service(config, plugins, stores, clock, auth=auth, source=config_source)
    except BaseException:
        if owned:
            stores.close()
        raise
    endpoints = all_endpoints(plugins.registry)
    console = Console(service, session_key=key)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            message = f"no endpoint {request.url.path}; see /openapi.json"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
            headers["Allow"] = _allowed_methods(request)
        else:
            message = str(exc.detail)
        return problem_response(service, ApiError(exc.status_code, message, headers=headers))

    app = Starlette(
        routes=[*(endpoint.route(service) for endpoint in endpoints), *console.routes()],
        exception_handlers={HTTPException: http_error},
        lifespan=_lifespan(service, run_monitor=run_monitor, close_storage=owned, hangup=reload_on_hangup),
    )
    app.state.service = service
    document = openapi_document(endpoints, plugins.registry, version=__version__, open_api=service.auth.open)
    app.state.openapi = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return app


def _allowed_methods(request: Request) -> str:
    """``Allow`` for a 405: the methods of every route with the request's path (Starlette names only those of
    the first, and a path such as /v1/incidents has two routes, GET and POST)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return ", ".join(sorted(methods))


def _lifespan(
    service: Service, *, run_monitor: bool, close_storage: bool, hangup: bool
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = service.engine
        if hangup:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, _reload_logged, service)
        timer = asyncio.create_task(engine.run_monitor(), name="tocsin-monitor") if run_monitor else None
        auditor = asyncio.create_task(_reconcile_forever(service), name="tocsin-reconciler") if run_monitor else None
        listener = None
        if run_monitor and service.announcements is not None:
            listener = asyncio.create_task(service.announcements.run(), name="tocsin-announcements")
        _log.info("serving", storage=service.storage.name, policies=len(service.config.policies))
        try:
            yield
        finally:
            if hangup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            for task in (auditor, listener):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if timer is not None:
                engine.stop_monitor()
                await timer  # lets deliveries in flight finish
            await engine.outbox.aclose()
            if close_storage:
                service.storage.close()
            _log.info("stopped")

    return lifespan


def _reload_logged(service: Service) -> None:
    """SIGHUP: reload the config file; the outcome (the new hash, or every fault and that nothing changed) is
    logged, as there is nobody to answer."""
    try:
        answer = service.reload(by="SIGHUP")
    except ReloadRefused as exc:
        for issue in exc.issues:
            _log.error("config not reloaded", fault=str(issue))
        _log.error("config not reloaded: nothing changed", faults=len(exc.issues))
        return
    except Exception:
        _log.exception("config reload failed: nothing changed")
        return
    _log.info("config reloaded", source=answer.source, config_hash=answer.config_hash, changed=answer.changed)


async def _reconcile_forever(service: Service) -> None:
    """The reconciler at start-up and then every ``storage.reconcile_every_seconds``; a pass that fails (the
    store is down) is logged and tried again at the next one."""
    while True:
        try:
            done = service.reconcile()
            if done.repairs:
                _log.warning("reconciler repaired the store", started=len(done.started), resolved=len(done.resolved))
        except Exception as exc:
            _log.error("reconciler pass failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(service.config.storage.reconcile_every_seconds)
