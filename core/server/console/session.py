"""The web console's sign-in: a signed session cookie and the CSRF token every form carries.

A session is a cookie signed with the server's session key (itsdangerous): who signed in (a fingerprint of
their API token, never the token), the name they act under, and the session's CSRF token. The fingerprint is
an HMAC of the token's digest under the session key, so a cookie names a token without revealing anything
about it, and a session ends as soon as its token is removed from the config. The cookie is HttpOnly,
SameSite=Lax, and Secure when ``server.public_url`` is https.

The key comes from the environment variable ``server.session_secret_env`` (at least 32 characters). Without
one, each process makes a random key and logs a warning: sessions then end when the server restarts, and
instances behind one address do not share them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

import attrs
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from tocsin.clock import Clock
from tocsin.config.serving import AuthMode, Scope, ServerSettings
from tocsin.logs import get_logger
from tocsin.server.auth import Authenticator, Principal, token_digest
from tocsin.server.errors import ServerError

__all__ = ["COOKIE", "MIN_SECRET_LENGTH", "Session", "Sessions"]

COOKIE = "tocsin_session"
MIN_SECRET_LENGTH = 32
_SALT = "tocsin.console.session"

_log = get_logger(component="console")


@attrs.frozen(kw_only=True)
class Session:
    """One visitor: who signed in (None before signing in), the name their actions are recorded under, and the
    CSRF token their forms must send back."""

    principal: Principal | None
    acting_as: str | None
    csrf: str
    fingerprint: str = ""
    fresh: bool = False  # made for this request: its cookie must be sent (a cookie is never re-signed, so a
    # session lasts session_hours from signing in, however much it is used)

    @property
    def signed_in(self) -> bool:
        """Whether the visitor may see the console's pages."""
        return self.principal is not None

    def may(self, needed: Scope) -> bool:
        """Whether the session's scope covers ``needed``."""
        return self.principal is not None and self.principal.scope.allows(needed)

    @property
    def actor(self) -> str | None:
        """Who acts: the name given at sign-in, else the token's name (None on an open server)."""
        if self.acting_as:
            return self.acting_as
        return self.principal.name if self.principal is not None else None

    def csrf_matches(self, sent: str | None) -> bool:
        """Whether a form sent this session's CSRF token (compared in constant time)."""
        if not sent:
            return False
        return hmac.compare_digest(sent.encode("utf-8"), self.csrf.encode("utf-8"))


class Sessions:
    """Makes and reads session cookies for one server.

    :raises ServerError: when ``server.session_secret_env`` names a variable that is unset or too short.
    """

    def __init__(self, settings: ServerSettings, auth: Authenticator, clock: Clock) -> None:
        self._auth = auth
        self.open = settings.auth is AuthMode.NONE
        self.max_age = int(settings.session_hours * 3600)
        self.secure = (settings.public_url or "").lower().startswith("https://")
        key = _session_key(settings.session_secret_env)
        self._key = key.encode("utf-8")
        now = clock.now

        class Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(now().timestamp())  # sessions age on the server's clock (a manual one in tests)

        self._serializer = URLSafeTimedSerializer(key, salt=_SALT, signer=Signer)
        self._by_fingerprint = {self._fingerprint(digest): digest for digest in auth.digests}

    def _fingerprint(self, digest: bytes) -> str:
        return hmac.new(self._key, digest, hashlib.sha256).hexdigest()[:32]

    def anonymous(self) -> Session:
        """A visitor who has not signed in (an open server signs everyone in as admin)."""
        principal = Principal(name=None, scope=Scope.ADMIN) if self.open else None
        return Session(principal=principal, acting_as=None, csrf=secrets.token_urlsafe(32), fresh=True)

    def sign_in(self, token: str, acting_as: str | None) -> Session | None:
        """A new session for the holder of API token ``token`` (None when no configured token is that)."""
        if self.open:
            return attrs.evolve(self.anonymous(), acting_as=acting_as)
        digest = token_digest(token.strip())
        principal = self._auth.principal(digest)
        if principal is None:
            return None
        return Session(
            principal=principal,
            acting_as=acting_as,
            csrf=secrets.token_urlsafe(32),
            fingerprint=self._fingerprint(digest),
            fresh=True,
        )

    def read(self, cookie: str | None) -> Session:
        """The session in ``cookie``; an anonymous one when there is none, or it is forged, expired, or names a
        token the config no longer has."""
        if not cookie:
            return self.anonymous()
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return self.anonymous()
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return self.anonymous()
        acting_as, fingerprint = data.get("a"), data.get("f")
        acting_as = acting_as if isinstance(acting_as, str) else None
        fingerprint = fingerprint if isinstance(fingerprint, str) else ""
        if self.open:
            return Session(
                principal=Principal(name=None, scope=Scope.ADMIN), acting_as=acting_as or None, csrf=data["c"]
            )
        digest = self._by_fingerprint.get(fingerprint) if fingerprint else None
        principal = self._auth.principal(digest) if digest is not None else None
        return Session(principal=principal, acting_as=acting_as or None, csrf=data["c"], fingerprint=fingerprint)

    def cookie(self, session: Session) -> str:
        """The signed cookie value that carries ``session``."""
        return self._serializer.dumps({"f": session.fingerprint, "a": session.acting_as or "", "c": session.csrf})


def _session_key(variable: str | None) -> str:
    if variable is None:
        _log.warning(
            "server.session_secret_env is not set: web console sessions are signed with a random key made at "
            "start-up, so they end when the server restarts and are not shared between instances"
        )
        return secrets.token_urlsafe(48)
    value = os.environ.get(variable, "")
    if len(value) < MIN_SECRET_LENGTH:
        state = "is not set" if not value else f"holds fewer than {MIN_SECRET_LENGTH} characters"
        raise ServerError(f"server: session_secret_env: the environment variable {variable} {state}")
    return value
