"""Settings for running tocsin as a service: the config's ``server`` and ``storage`` sections.

Plain data, checked when the config loads. ``tocsin serve`` (and :func:`tocsin.server.create_app`) read them::

    server:
      host: 127.0.0.1
      port: 8080
      tokens:
        - {name: monitoring, token_env: TOCSIN_MONITORING_TOKEN, scopes: [respond]}
        - {name: dashboard, token: "a-long-random-string", scopes: [read]}
      max_body_bytes: 1048576
      ack_rate_limit: {per_minute: 10}
      public_url: https://tocsin.example.com   # where people reach it: pages carry action links to it
      action_links: {secret_env: TOCSIN_LINK_SECRET, expire_hours: 24}
    storage:
      path: ./tocsin.db            # backend sqlite (the default); backend: memory keeps nothing
      synchronous: full            # or normal: commits survive a killed process, not a power cut

Scopes nest: ``admin`` may do everything ``respond`` may, and ``respond`` everything ``read`` may. A server
with no tokens refuses to start unless ``auth: none`` says so explicitly.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator
from typing import Any

import attrs

from tocsin.delivery.links import LinkSettings
from tocsin.models import FieldError
from tocsin.validators import http_url, listen_port, positive

__all__ = [
    "AckRateLimit",
    "ApiToken",
    "AuthMode",
    "Scope",
    "ServerSettings",
    "StorageBackend",
    "StorageSettings",
    "Synchronous",
    "check_server",
]


class Scope(enum.StrEnum):
    """What a bearer token may do: ``read`` looks, ``respond`` raises and handles incidents, ``admin`` also
    cancels escalations. Each scope includes the ones before it."""

    READ = "read"
    RESPOND = "respond"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        """True when a token with this scope may call an endpoint that needs ``needed``."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Scope.READ: 0, Scope.RESPOND: 1, Scope.ADMIN: 2}


class AuthMode(enum.StrEnum):
    """``tokens``: every /v1 request needs a bearer token; ``none``: the API is open (a trusted network)."""

    TOKENS = "tokens"
    NONE = "none"


def _scopes(instance: object, attribute: attrs.Attribute[Any], value: tuple[Scope, ...]) -> None:
    if not value:
        raise FieldError(attribute.name, "must name at least one of read, respond, admin")


def _long_enough(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    """A token given in the file is at least 16 characters long (a validator, so that ``tocsin check`` reports it
    beside the token's other faults)."""
    if value is not None and len(value) < 16:
        raise FieldError(attribute.name, "must be at least 16 characters long")


@attrs.frozen(kw_only=True)
class ApiToken:
    """One bearer token: its ``name`` (shown as who acted), the secret (``token``, or the environment
    variable ``token_env`` that holds it) and its ``scopes``."""

    name: str
    scopes: tuple[Scope, ...] = attrs.field(validator=_scopes)
    token: str | None = attrs.field(default=None, repr=False, validator=_long_enough)
    token_env: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.token is None) == (self.token_env is None):
            raise FieldError("token", "give exactly one of token and token_env")

    @property
    def scope(self) -> Scope:
        """The widest of the token's scopes."""
        return max(self.scopes, key=_RANK.__getitem__)

    def secret(self) -> str:
        """The token's secret; from the environment for ``token_env`` (``LookupError`` when it is unset)."""
        if self.token is not None:
            return self.token
        assert self.token_env is not None
        value = os.environ.get(self.token_env, "")
        if len(value) < 16:
            state = "is not set" if not value else "holds fewer than 16 characters"
            raise LookupError(f"token {self.name!r}: the environment variable {self.token_env} {state}")
        return value


@attrs.frozen(kw_only=True)
class AckRateLimit:
    """At most ``per_minute`` acknowledgement requests per incident in any 60 seconds (then 429)."""

    per_minute: int = attrs.field(default=10, validator=positive)


def _public_url(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    http_url(instance, attribute, value)
    if "?" in value or "#" in value:
        raise FieldError(attribute.name, f"must be a base URL without a query or fragment, got {value!r}")


@attrs.frozen(kw_only=True)
class ServerSettings:
    """How ``tocsin serve`` listens and whom it lets in."""

    host: str = "127.0.0.1"
    port: int = attrs.field(default=8080, validator=listen_port)
    auth: AuthMode = AuthMode.TOKENS
    tokens: tuple[ApiToken, ...] = ()
    max_body_bytes: int = attrs.field(default=1_048_576, validator=positive)
    # A request body must arrive whole within this long (a client that stalls mid-body gets a 408).
    body_timeout_seconds: float = attrs.field(default=10.0, validator=positive)
    ack_rate_limit: AckRateLimit = attrs.field(factory=AckRateLimit)
    # Who this server is among instances sharing a store: the owner of the due work it claims (default: the
    # host name and process id; `tocsin serve --instance-id` overrides it).
    instance_id: str | None = None
    # Where people reach this server (behind its proxy): pages carry action links to it. None: no links.
    public_url: str | None = attrs.field(default=None, validator=_public_url)
    action_links: LinkSettings = attrs.field(factory=LinkSettings)
    # The environment variable holding the key that signs the web console's session cookies (at least 32
    # characters). Unset: a random key per process, so sessions end at a restart and instances share none.
    session_secret_env: str | None = None
    # How long a web console sign-in lasts.
    session_hours: float = attrs.field(default=12.0, validator=positive)


class StorageBackend(enum.StrEnum):
    """Where incidents, escalations and the outbox live."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"  # one database for several instances
    MEMORY = "memory"  # nothing survives a restart: for trials and tests


class Synchronous(enum.StrEnum):
    """When a SQLite commit counts as done: ``full`` once it would survive a power cut, ``normal`` once it
    would survive the process being killed (faster: fewer fsyncs)."""

    FULL = "full"
    NORMAL = "normal"


@attrs.frozen(kw_only=True)
class StorageSettings:
    """The store ``tocsin serve`` uses: a SQLite file at ``path`` (relative to the working directory), or a
    PostgreSQL database named by ``dsn`` or, keeping its password out of the file, by the environment variable
    ``dsn_env``."""

    backend: StorageBackend = StorageBackend.SQLITE
    path: str = "./tocsin.db"
    synchronous: Synchronous = Synchronous.FULL
    dsn: str | None = attrs.field(default=None, repr=False)
    dsn_env: str | None = None
    # PostgreSQL: apply pending schema migrations at start-up (false: the schema is upgraded only with
    # `tocsin db migrate`, and a server finds it behind and refuses to start).
    migrate_on_start: bool = True
    # How often the reconciler looks for incidents and escalations that disagree (it also runs at start-up).
    reconcile_every_seconds: int = attrs.field(default=300, validator=positive)
    # How long a request waits for the store's write lock while another process holds it, before it is
    # answered 503 (nothing changed). The wait is asynchronous: other requests go on meanwhile.
    lock_wait_seconds: float = attrs.field(default=5.0, validator=positive)
    # Due escalations an instance claims stay its own this long; if it dies, another takes them over after.
    lease_seconds: float = attrs.field(default=60.0, validator=positive)
    # How often an instance looks for due work no live instance holds (one indexed query when there is none):
    # an escalation a dead instance left is fired at most about this long after its lease ran out.
    claim_every_seconds: float = attrs.field(default=2.0, validator=positive)

    def __attrs_post_init__(self) -> None:
        if self.backend is StorageBackend.POSTGRESQL:
            if (self.dsn is None) == (self.dsn_env is None):
                raise FieldError("dsn", "the postgresql backend needs exactly one of dsn and dsn_env")
            if self.dsn is not None and _has_password(self.dsn):
                raise FieldError(
                    "dsn",
                    "holds a password: keep it out of the config file (name an environment variable that holds "
                    "the DSN with dsn_env, or use PGPASSWORD or a .pgpass file)",
                )
        elif self.dsn is not None or self.dsn_env is not None:
            raise FieldError("dsn", f"dsn and dsn_env are for the postgresql backend, not {self.backend.value}")

    def database_url(self) -> str:
        """The PostgreSQL DSN: ``dsn``, or the value of ``dsn_env`` (``LookupError`` when that is unset)."""
        if self.dsn is not None:
            return self.dsn
        if self.dsn_env is None:
            raise LookupError("storage: no dsn or dsn_env is given")
        value = os.environ.get(self.dsn_env, "")
        if not value:
            raise LookupError(f"storage: the environment variable {self.dsn_env} (dsn_env) is not set")
        return value


def _has_password(dsn: str) -> bool:
    """True when the libpq DSN (a URI or ``key=value`` pairs) carries a password."""
    from urllib.parse import parse_qs, urlsplit

    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
        except ValueError:
            return False
        return parts.password is not None or "password" in parse_qs(parts.query)
    return any(pair.split("=", 1)[0].strip() == "password" for pair in dsn.split() if "=" in pair)


def check_server(server: ServerSettings) -> Iterator[tuple[str, str]]:
    """Config check of the ``server`` section: token names and secrets are unique, and ``auth: none`` lists no
    tokens."""
    if server.auth is AuthMode.NONE and server.tokens:
        yield "$.server.tokens", "auth is none, so these tokens would never be asked for: remove them or the auth line"
    names: dict[str, int] = {}
    secrets: dict[str, int] = {}
    for index, token in enumerate(server.tokens):
        if token.name in names:
            yield (
                f"$.server.tokens[{index}].name",
                f"duplicate token name {token.name!r} (first at tokens[{names[token.name]}])",
            )
        names.setdefault(token.name, index)
        if token.token is not None:
            if token.token in secrets:
                yield f"$.server.tokens[{index}].token", f"the same secret as tokens[{secrets[token.token]}]"
            secrets.setdefault(token.token, index)
