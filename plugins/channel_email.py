"""E-mail channel ``{type: email}``: one message per page over SMTP, plain text with an HTML alternative (the
incident, the level, who else was paged, and the action links as buttons).

Settings (``channels: {email: {host, port, from_address, starttls, username, password_env}}``) are required:
a contact that uses this channel without them is a config error. ``password_env`` names the environment
variable holding the SMTP password (``password`` may give it in the file instead, where nothing else secret
should be). SMTP runs in a worker thread, so a slow
mail server never blocks the event loop; the server accepting the message counts as delivered. A 4xx reply
(a temporary failure) or a broken connection is retried by the outbox; a 5xx reply is permanent.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import attrs

from tocsin import (
    ChannelRegistrar,
    DeliveryResult,
    FieldError,
    Notification,
    Urgency,
    hookimpl,
    page_html,
    page_subject,
    page_text,
    urgencies_field,
)
from tocsin.validators import non_empty, port, positive


def _env_name(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip() or "=" in value):
        raise FieldError(attribute.name, f"needs the name of an environment variable, got {value!r}")


def _address(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or "@" not in value):
        raise FieldError(attribute.name, f"needs an e-mail address, got {value!r}")


@attrs.frozen(kw_only=True)
class EmailContact:
    """Reach a person by e-mail: at ``address``, or at their user address when it is left out; only for the
    page ``urgencies`` it lists (default: high and low)."""

    type: ClassVar[str] = "email"
    address: str | None = attrs.field(default=None, validator=_address)
    urgencies: tuple[Urgency, ...] = urgencies_field()


@attrs.frozen(kw_only=True)
class EmailSettings:
    """The SMTP server and the sender address."""

    host: str = attrs.field(validator=non_empty)
    from_address: str = attrs.field(validator=_address)
    port: int = attrs.field(default=25, validator=port)
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    password_env: str | None = attrs.field(default=None, validator=_env_name)  # the variable holding the password
    timeout_seconds: float = attrs.field(default=10.0, validator=positive)

    def __attrs_post_init__(self) -> None:
        if self.password is not None and self.password_env is not None:
            raise FieldError("password_env", "give the password once: password_env or password, not both")

    def secret(self) -> str | None:
        """The SMTP password: ``password``, or the value of the variable ``password_env`` names (``LookupError``
        naming the variable when it is unset)."""
        if self.password_env is None:
            return self.password
        value = os.environ.get(self.password_env)
        if not value:
            raise LookupError(f"the environment variable {self.password_env} (password_env) is not set")
        return value


class EmailSender:
    """Sends each page as one message (a fresh SMTP connection per message, in a thread). smtplib and asyncio
    are imported when the first page is sent: a command that only reads the config never loads them."""

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings
        self._password: str | None = None

    async def start(self) -> None:
        """Read the password (an unset ``password_env`` variable: the channel does not start and says which; the
        outbox keeps its pages and tries again, so setting the variable and restarting sends them)."""
        self._password = self._settings.secret()

    async def deliver(self, notification: Notification) -> DeliveryResult:
        """Hand the message to the SMTP server; ``ok`` when it accepted the recipient."""
        import asyncio

        return await asyncio.to_thread(self._send, notification)

    def _send(self, notification: Notification) -> DeliveryResult:
        import smtplib
        import ssl
        from email.message import EmailMessage

        settings = self._settings
        contact = notification.recipient.contact
        to = (
            contact.address if isinstance(contact, EmailContact) and contact.address else notification.recipient.address
        )
        message = EmailMessage()
        message["Subject"] = page_subject(notification)
        message["From"] = settings.from_address
        message["To"] = to
        message["X-Tocsin-Idempotency-Key"] = notification.key
        message.set_content(page_text(notification))
        message.add_alternative(page_html(notification), subtype="html")
        server = f"{settings.host}:{settings.port}"
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username:
                    password = self._password if self._password is not None else settings.secret()
                    smtp.login(settings.username, password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(to, (None, b""))
            return _refused(notification, f"SMTP {server} refused {to}: {code} {_text(reply)}".rstrip(), code)
        except smtplib.SMTPResponseException as exc:
            reason = f"SMTP {server}: {exc.smtp_code} {_text(exc.smtp_error)}".rstrip()
            return _refused(notification, reason, exc.smtp_code)
        except (smtplib.SMTPException, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            return DeliveryResult(key=notification.key, ok=False, detail=f"SMTP {server}: {reason}")
        if refused:
            code, reply = refused.get(to, (None, b""))
            return _refused(notification, f"SMTP {server} refused {to}: {code} {_text(reply)}".rstrip(), code)
        return DeliveryResult(key=notification.key, ok=True, detail=f"accepted by {server} for {to}")


def _refused(notification: Notification, detail: str, code: int | None) -> DeliveryResult:
    """A refusal: a 4xx reply is temporary (try again later), a 5xx one permanent."""
    temporary = code is None or 400 <= code < 500
    return DeliveryResult(key=notification.key, ok=False, detail=detail, retryable=temporary)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def create(settings: EmailSettings) -> EmailSender:
    """A sender for ``settings``."""
    return EmailSender(settings)


@hookimpl
def tocsin_register_channels(register: ChannelRegistrar) -> None:
    """Register ``email``."""
    register(EmailContact, create=create, settings=EmailSettings)
