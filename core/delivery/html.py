"""A page as HTML, for channels that show it (e-mail): the same facts as :func:`~tocsin.delivery.payload.page_text`,
with the action links as buttons. Every value is escaped; the markup is inline-styled, as mail readers want."""

from __future__ import annotations

from html import escape

from tocsin.delivery.payload import SUMMARY_INTRO, also_paged, folded_line, page_subject
from tocsin.models import ActionLink, Notification

__all__ = ["page_html"]

_BUTTON = (
    "display:inline-block;margin:0 8px 8px 0;padding:10px 16px;border-radius:4px;background:#1f6feb;"
    "color:#ffffff;text-decoration:none;font-weight:bold"
)
_CELL = "padding:2px 12px 2px 0;vertical-align:top"


def page_html(notification: Notification) -> str:
    """The HTML body of ``notification`` (a whole document)."""
    parts = [f'<h2 style="margin:0 0 12px">{escape(page_subject(notification))}</h2>']
    if notification.folded:
        parts.append(f"<p>{escape(SUMMARY_INTRO)}</p>")
        parts.append("<ul>")
        for page in notification.folded:
            parts.append(f"<li><p>{escape(folded_line(page))}</p>{_buttons(page.links)}</li>")
        parts.append("</ul>")
    else:
        parts.append(_facts(notification))
        parts.append(_buttons(notification.links))
    parts.append(f'<p style="color:#6e7781;font-size:12px">Idempotency key: {escape(notification.key)}</p>')
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif;font-size:14px;color:#1f2328">\n{body}\n</body></html>\n'
    )


def _facts(notification: Notification) -> str:
    rows: list[tuple[str, str]] = []
    incident = notification.incident
    if incident is not None:
        rows += [
            ("Incident", incident.id),
            ("Severity", incident.severity.value),
            ("Type", incident.incident_type.value),
            ("State", incident.state.value),
            ("Source", incident.source),
        ]
    if notification.level >= 0:
        rows += [
            ("Policy", notification.policy_id),
            ("Level", f"{notification.level} (pass {notification.pass_number})"),
            ("Urgency", notification.urgency.value),
        ]
    others = also_paged(notification)
    if others:
        rows.append(("Also paged", ", ".join(others)))
    table = "".join(
        f'<tr><th style="{_CELL};text-align:left">{escape(name)}</th><td style="{_CELL}">{escape(value)}</td></tr>'
        for name, value in rows
    )
    description = ""
    if incident is not None and incident.description:
        description = f'<p style="white-space:pre-wrap">{escape(incident.description)}</p>'
    return f'<table style="border-collapse:collapse;margin:0 0 12px">{table}</table>{description}'


def _buttons(links: tuple[ActionLink, ...]) -> str:
    if not links:
        return ""
    buttons = "".join(f'<a href="{escape(link.url)}" style="{_BUTTON}">{escape(link.label)}</a>' for link in links)
    return f'<p>{buttons}</p><p style="color:#6e7781;font-size:12px">Each action asks you to confirm first.</p>'
