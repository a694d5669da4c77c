"""``tocsin serve --config CONFIG``: the HTTP API, the escalation timer and the outbox in one event loop.

SIGTERM or Ctrl-C stops it gracefully: no new requests are taken, those in flight finish, deliveries in
flight are awaited, and the store is closed; the exit code is then 0. SIGHUP reloads the config file (as
``POST /v1/config/reload`` does); the outcome is logged.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import typer

from tocsin.cli._app import UserError, app, echo, load, user_errors


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; ``UserError`` saying why when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise UserError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise UserError(f"cannot listen on {host}:{port}: {why}") from None
    sock.setblocking(False)
    return sock


@app.command("serve")
@user_errors
def serve(
    config: Path = typer.Option(..., "--config", help="The configuration file (YAML, TOML or JSON)."),
    host: str | None = typer.Option(None, "--host", help="The address to listen on (default: server.host)."),
    port: int | None = typer.Option(None, "--port", help="The TCP port (default: server.port, 8080)."),
    instance_id: str | None = typer.Option(
        None, "--instance-id", help="This instance's name among those sharing the store (default: host-pid)."
    ),
) -> None:
    """Serve the HTTP API for CONFIG, run its escalations and deliver its notifications until stopped."""
    import asyncio

    import attrs
    import uvicorn

    from tocsin.cli._uvicorn import GracefulServer
    from tocsin.config import config_warnings
    from tocsin.server import create_app

    plugins, loaded = load(config)
    for warning in config_warnings(loaded, plugins.registry, source=str(config)):
        echo(f"{warning.file}: {warning.path}: warning: {warning.message}", err=True)
    if instance_id is not None:
        if not instance_id.strip():
            raise UserError("--instance-id: must not be empty")
        loaded = attrs.evolve(loaded, server=attrs.evolve(loaded.server, instance_id=instance_id))
    host = host if host is not None else loaded.server.host
    port = port if port is not None else loaded.server.port
    if not 0 <= port <= 65535:
        raise UserError(f"--port: must be a TCP port (0-65535), got {port}")
    sock = listen(host, port)
    try:
        application = create_app(loaded, plugins, config_source=config, reload_on_hangup=True)
    except BaseException:
        sock.close()
        raise
    bound_host, bound_port = sock.getsockname()[:2]
    storage = application.state.service.storage.name
    server = GracefulServer(uvicorn.Config(application, lifespan="on", log_level="warning", access_log=False))
    where = f"http://{_host(bound_host)}:{bound_port}"
    echo(f"tocsin: serving {where} (storage: {storage}, auth: {loaded.server.auth.value})", err=True)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
    if not server.started:
        raise UserError("the server stopped before it started serving (see the log above)")
    echo("tocsin stopped", err=True)


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
