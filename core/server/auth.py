"""Bearer tokens: who is calling, and whether their scope covers the endpoint.

Secrets are read once, when the app is built (``token_env`` from the environment). A request's token is
looked up by its SHA-256 digest, so the lookup takes the same time whichever secret it is compared with.
"""

from __future__ import annotations

import hashlib

import attrs

from tocsin.config.serving import AuthMode, Scope, ServerSettings
from tocsin.server.errors import ApiError, ServerError

__all__ = ["Authenticator", "Principal", "token_digest"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tocsin"'}


@attrs.frozen(kw_only=True)
class Principal:
    """Who made a request: the token's name (None on an open server) and its widest scope."""

    name: str | None
    scope: Scope


class Authenticator:
    """Checks ``Authorization: Bearer …`` headers against the configured tokens.

    :raises ServerError: when no token is configured and ``auth`` is not ``none``, or a token's
        environment variable is unset.
    """

    def __init__(self, settings: ServerSettings) -> None:
        self.open = settings.auth is AuthMode.NONE
        if not self.open and not settings.tokens:
            raise ServerError(
                "server: no API tokens are configured; add server.tokens (see docs/api.md) "
                "or set server.auth: none to serve the API without authentication"
            )
        self._tokens: dict[bytes, Principal] = {}
        for token in settings.tokens:
            try:
                secret = token.secret()
            except LookupError as exc:
                raise ServerError(f"server: {exc}") from None
            self._tokens[token_digest(secret)] = Principal(name=token.name, scope=token.scope)

    @property
    def digests(self) -> tuple[bytes, ...]:
        """The SHA-256 digest of every configured token's secret (see :func:`token_digest`)."""
        return tuple(self._tokens)

    def principal(self, digest: bytes) -> Principal | None:
        """The caller whose token's secret has SHA-256 ``digest``; None when no configured token has it."""
        return self._tokens.get(digest)

    def authenticate(self, header: str | None, needed: Scope) -> Principal:
        """The caller, when ``header`` carries a known token whose scope covers ``needed``.

        :raises ApiError: 401 without a known token, 403 when its scope is too narrow.
        """
        if self.open:
            return Principal(name=None, scope=Scope.ADMIN)
        if not header:
            raise ApiError(
                401, "missing Authorization header: send 'Authorization: Bearer <token>'", headers=_CHALLENGE
            )
        kind, _, secret = header.strip().partition(" ")
        if kind.lower() != "bearer" or not secret.strip():
            raise ApiError(401, "the Authorization header must be 'Bearer <token>'", headers=_CHALLENGE)
        principal = self._tokens.get(token_digest(secret.strip()))
        if principal is None:
            raise ApiError(401, "unknown or revoked token", headers=_CHALLENGE)
        if not principal.scope.allows(needed):
            raise ApiError(
                403, f"token {principal.name!r} has scope {principal.scope.value}; this needs {needed.value}"
            )
        return principal


def token_digest(secret: str) -> bytes:
    """The SHA-256 digest tokens are looked up by."""
    return hashlib.sha256(secret.encode("utf-8")).digest()
