"""URLs as they may be shown: credentials in a URL (``https://user:pass@host/``) never reach a log, a delivery
result or an API answer."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url", "scrub"]

REDACTED = "***"


def redact_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***`` (``https://***@hooks.example.com/x``); a URL
    without credentials, or text that is not a URL, comes back as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def scrub(text: str, url: str) -> str:
    """``text`` (an error message about ``url``) with the URL's credentials redacted wherever they appear."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return text
    if "@" not in netloc:
        return text
    userinfo = netloc.rpartition("@")[0]
    return text.replace(url, redact_url(url)).replace(f"{userinfo}@", f"{REDACTED}@")
