"""Errors as HTTP answers: one exception type for handlers to raise, and the mapping of the engine's errors.

Every error answer is a :class:`~tocsin.server.views.Problem`: ``{"error": "...", "errors": [...]}``. A
handler raises :class:`ApiError`; the engine's own errors are translated by :func:`api_error` (an unknown
incident is a 404, a transition the escalation's status does not allow is a 409).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tocsin.errors import ConfigError, TocsinError
from tocsin.escalation.errors import (
    EscalationActiveError,
    EscalationError,
    EscalationNotActiveError,
    UnknownIncidentError,
    UnknownPolicyError,
)
from tocsin.server.views import Problem, ProblemDetail
from tocsin.store.errors import StaleStateError

__all__ = ["ApiError", "ServerError", "api_error", "from_config_error", "invalid", "reason"]

_STATUS_TEXT = {
    400: "malformed request",
    401: "authentication required",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    408: "the request body did not arrive in time",
    409: "conflict",
    410: "gone",
    413: "request body too large",
    422: "invalid request",
    429: "too many requests",
    500: "internal error",
}


class ServerError(TocsinError):
    """The server cannot start: no tokens and no ``auth: none``, a token's variable unset, a store that
    cannot open."""


class ApiError(Exception):
    """An answer other than success: ``status``, a sentence, optional faults (422) and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        details: Iterable[ProblemDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = tuple(details)
        self.headers = dict(headers or {})

    def problem(self) -> Problem:
        """The answer's body."""
        return Problem(error=self.message, errors=self.details)


def reason(status: int) -> str:
    """A short description of ``status`` for error bodies and the OpenAPI document."""
    return _STATUS_TEXT.get(status, "error")


def invalid(faults: Iterable[tuple[str, str]], *, location: str = "body") -> ApiError:
    """A 422 listing ``(path, message)`` faults found in ``location``."""
    details = tuple(ProblemDetail(location=location, path=path, message=message) for path, message in faults)
    first = f"{details[0].path}: {details[0].message}" if details else "invalid"
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ApiError(422, f"invalid {location}: {first}{more}", details=details)


def from_config_error(error: ConfigError, *, location: str = "body") -> ApiError:
    """A 422 from a ``ConfigError`` raised while structuring a request body."""
    return invalid(((issue.path, issue.message) for issue in error.issues), location=location)


def api_error(error: EscalationError | StaleStateError) -> ApiError:
    """The HTTP answer for one of the escalation engine's errors."""
    if isinstance(error, (UnknownIncidentError, UnknownPolicyError, LookupError)):
        return ApiError(404, str(error))
    if isinstance(error, (EscalationNotActiveError, EscalationActiveError)):
        return ApiError(409, str(error))
    if isinstance(error, StaleStateError):
        return ApiError(409, f"the escalation changed while this request was handled; try again ({error})")
    return ApiError(409, str(error))
