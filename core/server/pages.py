"""The small HTML pages an action link opens: the confirmation (GET), what happened (POST), and why a link
cannot be used. Every value is escaped; the pages load nothing, run no script, and ask not to be cached,
indexed or to leak the link as a referrer."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

__all__ = ["confirmation_page", "message_page"]

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_STYLE = (
    "body{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em;color:#1f2328}"
    "button{font-size:1.1em;padding:.6em 1.4em;border:0;border-radius:4px;background:#1f6feb;color:#fff}"
    ".muted{color:#6e7781}"
)


def _page(title: str, body: str, status: int) -> HTMLResponse:
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · tocsin</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    return HTMLResponse(document, status_code=status, headers=_HEADERS)


def confirmation_page(label: str, incident: str, facts: list[str], recipient: str) -> HTMLResponse:
    """The page a link opens: what it will do, and the one button that does it (a POST to the same URL)."""
    lines = "".join(f"<p>{escape(fact)}</p>" for fact in facts)
    body = (
        f"<p><strong>{escape(incident)}</strong></p>{lines}"
        f'<form method="post" action=""><button type="submit">{escape(label)}</button></form>'
        f'<p class="muted">As {escape(recipient)}. Opening this page changed nothing; the button does. '
        "The link works once.</p>"
    )
    return _page(f"{label}?", body, 200)


def message_page(title: str, message: str, status: int) -> HTMLResponse:
    """A page that says what happened, or why the link cannot be used."""
    return _page(title, f"<p>{escape(message)}</p>", status)
