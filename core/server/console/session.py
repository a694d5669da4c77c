"""The web console's sign-in: a signed session cookie and the CSRF token every form carries.

A session is a cookie signed with the server's session key (itsdangerous): who signed in (a fingerprint of
their API token, never the token), the name they act under, and the session's CSRF token. The fingerprint is
an HMAC of the token's digest under the session key, so a cookie names a token without revealing anything
about it, and a session ends as soon as its token is no longer in the config in force (a reload that removes
it ends its sessions at once). The cookie is HttpOnly, SameSite=Lax, and Secure when ``server.public_url`` is
https.

A session may also come from a page's link (``/ui/links/{token}``): it holds no API token but the link itself,
checked again at every request as ``/v1/links/`` checks it, so its recipient acts with the respond scope until
the link expires, and no longer than the link is genuine (a link secret rotated out ends it).

The key comes from the environment variable ``server.session_secret_env`` (at least 32 characters). Without
one, each process makes a random key and logs a warning: sessions then end when the server restarts, and
instances behind one address do not share them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from datetime import datetime

import attrs
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from tocsin.clock import Clock
from tocsin.config.serving import AuthMode, Scope, ServerSettings
from tocsin.delivery.links import ActionLinks, LinkClaim, LinkError
from tocsin.logs import get_logger
from tocsin.server.auth import Authenticator, Principal, token_digest
from tocsin.server.errors import ServerError

__all__ = ["COOKIE", "MIN_SECRET_LENGTH", "Session", "Sessions", "session_key"]

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
    link: str = ""  # signed in through a page's link: the link's token (``until`` is when the link expires)
    until: datetime | None = None
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
    """Makes and reads session cookies for one server: ``auth`` gives the token checker of the config in force
    (asked at each request, so a reload's tokens apply at once), ``links`` reads pages' links (None: the server
    makes none, and no session comes from one), ``key`` signs the cookies (default: read as :func:`session_key`
    reads it).

    :raises ServerError: when ``server.session_secret_env`` names a variable that is unset or too short.
    """

    def __init__(
        self,
        settings: ServerSettings,
        auth: Callable[[], Authenticator],
        clock: Clock,
        *,
        links: ActionLinks | None = None,
        key: str | None = None,
    ) -> None:
        self._auth = auth
        self._links = links
        self._clock = clock
        self.open = settings.auth is AuthMode.NONE
        self.max_age = int(settings.session_hours * 3600)
        self.secure = (settings.public_url or "").lower().startswith("https://")
        key = key if key is not None else session_key(settings)
        self._key = key.encode("utf-8")
        now = clock.now

        class Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(now().timestamp())  # sessions age on the server's clock (a manual one in tests)

        self._serializer = URLSafeTimedSerializer(key, salt=_SALT, signer=Signer)
        self._known: tuple[Authenticator, dict[str, bytes]] | None = None  # a checker and its tokens' fingerprints

    def _fingerprint(self, digest: bytes) -> str:
        return hmac.new(self._key, digest, hashlib.sha256).hexdigest()[:32]

    def _principal(self, fingerprint: str) -> Principal | None:
        """Who the token with ``fingerprint`` is, in the config in force (None: it has no such token)."""
        auth = self._auth()
        if self._known is None or self._known[0] is not auth:  # a reload brought another set of tokens
            self._known = (auth, {self._fingerprint(digest): digest for digest in auth.digests})
        digest = self._known[1].get(fingerprint)
        return auth.principal(digest) if digest is not None else None

    def anonymous(self) -> Session:
        """A visitor who has not signed in (an open server signs everyone in as admin)."""
        principal = Principal(name=None, scope=Scope.ADMIN) if self.open else None
        return Session(principal=principal, acting_as=None, csrf=secrets.token_urlsafe(32), fresh=True)

    def sign_in(self, token: str, acting_as: str | None) -> Session | None:
        """A new session for the holder of API token ``token`` (None when no configured token is that)."""
        if self.open:
            return attrs.evolve(self.anonymous(), acting_as=acting_as)
        digest = token_digest(token.strip())
        principal = self._auth().principal(digest)
        if principal is None:
            return None
        return Session(
            principal=principal,
            acting_as=acting_as,
            csrf=secrets.token_urlsafe(32),
            fingerprint=self._fingerprint(digest),
            fresh=True,
        )

    def through_link(self, token: str, claim: LinkClaim) -> Session:
        """A new session for the recipient of the page's link ``token`` (``claim`` is what it says): respond scope
        (admin on an open server) until the link expires."""
        scope = Scope.ADMIN if self.open else Scope.RESPOND
        return Session(
            principal=Principal(name=claim.recipient, scope=scope),
            acting_as=claim.recipient,
            csrf=secrets.token_urlsafe(32),
            link=token,
            until=claim.expires_at,
            fresh=True,
        )

    def lifetime(self, session: Session) -> int:
        """How many seconds the cookie of ``session`` is kept (a link's session: until its link expires)."""
        if session.until is None:
            return self.max_age
        return max(int((session.until - self._clock.now()).total_seconds()), 0)

    def read(self, cookie: str | None) -> Session:
        """The session in ``cookie``; an anonymous one when there is none, or it is forged, expired, or names a
        token the config in force does not have."""
        if not cookie:
            return self.anonymous()
        try:
            data, signed = self._serializer.loads(cookie, return_timestamp=True)
        except BadSignature:
            return self.anonymous()
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return self.anonymous()
        now = self._clock.now()
        link = data.get("l")
        if isinstance(link, str) and link:  # from a page's link: as long as the link itself is good
            if self._links is None:
                return self.anonymous()
            try:
                claim = self._links.read(link)
            except LinkError:
                return self.anonymous()
            return attrs.evolve(self.through_link(link, claim), csrf=data["c"], fresh=False)
        age = (now - signed).total_seconds()
        if not 0 <= age <= self.max_age:
            return self.anonymous()
        acting_as, fingerprint = data.get("a"), data.get("f")
        acting_as = acting_as if isinstance(acting_as, str) else None
        fingerprint = fingerprint if isinstance(fingerprint, str) else ""
        if self.open:
            return Session(
                principal=Principal(name=None, scope=Scope.ADMIN), acting_as=acting_as or None, csrf=data["c"]
            )
        principal = self._principal(fingerprint) if fingerprint else None
        return Session(principal=principal, acting_as=acting_as or None, csrf=data["c"], fingerprint=fingerprint)

    def cookie(self, session: Session) -> str:
        """The signed cookie value that carries ``session``."""
        data: dict[str, object] = {"f": session.fingerprint, "a": session.acting_as or "", "c": session.csrf}
        if session.link:
            data["l"] = session.link
        return self._serializer.dumps(data)


def session_key(settings: ServerSettings) -> str:
    """The key console sessions are signed with: the value of the variable ``server.session_secret_env`` names,
    or a random one made now (with a warning) when it names none.

    :raises ServerError: the variable is unset or holds fewer than :data:`MIN_SECRET_LENGTH` characters.
    """
    variable = settings.session_secret_env
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
