"""Channels: a registry of ways to deliver a rendered message; built-ins `email` and `webhook`.

A channel's `send` returns an `Outcome` and never raises for a delivery problem: temporary
failures (SMTP 4xx, a server that is down, HTTP 5xx or a timeout) are `temporary`, refusals
(SMTP 5xx, HTTP 4xx) are `permanent` with the server's reason. The caller retries temporary ones.
A channel may also offer `encode(message) -> Message`, which builds ahead of `send` what it
transmits (the e-mail channel's bytes), so a sender can do that work off the delivering thread.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from typing import Any, Literal, Protocol

from cartwise.core.errors import ConfigError
from cartwise.core.settings import Settings

# Long link headers (List-Unsubscribe) stay one line instead of RFC 2047 encoded words.
_POLICY = SMTP_POLICY.clone(max_line_length=998)


@dataclass
class Message:
    """A rendered message ready for a channel."""

    key: str
    message_id: str
    to: str
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # extra JSON for webhooks
    # What the channel transmits, built ahead by its `encode` (email: the RFC 5322 bytes) so that
    # `send` only transmits; None: `send` builds it.
    wire: bytes | None = None


@dataclass(frozen=True)
class Outcome:
    state: Literal["sent", "temporary", "permanent"]
    reason: str = ""
    down: bool = False  # the server could not be reached at all: pause, then resume


class Channel(Protocol):
    """What a registered channel provides. It may also define `encode(message) -> Message`,
    which builds the bytes ahead of `send` on the sender's preparing thread (the e-mail channel
    does); a channel without it is sent the message as rendered."""

    name: str

    def send(self, message: Message) -> Outcome: ...

    def close(self) -> None: ...


class EmailChannel:
    """SMTP with one connection reused across messages (reopened after a drop)."""

    name = "email"

    def __init__(self, settings: Settings, timeout: float = 30.0):
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            s = self.settings
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
            self._smtp = smtp
        return self._smtp

    def build(self, message: Message) -> EmailMessage:
        """The message as an `EmailMessage` (for reading it back; sending uses `raw`)."""
        from email import message_from_bytes

        mail = message_from_bytes(self.raw(message), _class=EmailMessage, policy=_POLICY)
        assert isinstance(mail, EmailMessage)
        return mail

    def raw(self, message: Message) -> bytes:
        """RFC 5322 bytes: multipart/alternative with quoted-printable UTF-8 text and HTML parts.

        Assembled directly: the `email` package's header objects cost ~10 ms a message, more
        than the SMTP round trip. Header values are checked for line breaks (no injection) and
        encoded as RFC 2047 words when not ASCII."""
        boundary = "=_cw_" + message.key
        headers = [
            ("From", self.settings.smtp_from),
            ("To", message.to),
            ("Subject", message.subject),
            ("Date", formatdate(localtime=False)),
            ("Message-ID", message.message_id),
            *message.headers.items(),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ]
        lines = [f"{name}: {_header_value(name, value)}" for name, value in headers]
        head = "\r\n".join(lines).encode("ascii")
        text = _qp(message.text)
        html = _qp(message.html)
        return (
            head
            + b"\r\n\r\n--" + boundary.encode()
            + b'\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
            + text
            + b"\r\n--" + boundary.encode()
            + b'\r\nContent-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
            + html
            + b"\r\n--" + boundary.encode() + b"--\r\n"
        )  # fmt: skip

    def encode(self, message: Message) -> Message:
        """`message` with its bytes (`raw`) built now, in `wire`, so that `send` only transmits
        (a sender renders and encodes the next messages while this one is on the wire).
        Unchanged when the bytes cannot be built: `send` then reports why."""
        with contextlib.suppress(ValueError):
            message.wire = self.raw(message)
        return message

    def send(self, message: Message) -> Outcome:
        if "\r" in message.to or "\n" in message.to or "@" not in message.to:
            return Outcome("permanent", f"invalid address {message.to!r}")
        if not message.to.isascii():  # smtplib would raise mid-transaction, failing the whole run
            return Outcome(
                "permanent",
                f"address {message.to!r} is not ASCII and this sender does not use SMTPUTF8; "
                "correct the customer's email in the users table",
            )
        try:
            raw = message.wire if message.wire is not None else self.raw(message)
        except ValueError as exc:
            return Outcome("permanent", str(exc))
        try:
            smtp = self._connection()
            smtp.sendmail(self.settings.smtp_from, [message.to], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return _smtp_outcome(code, text)
        except smtplib.SMTPResponseException as exc:
            self._drop()
            return _smtp_outcome(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            self._drop()
            return Outcome(
                "temporary",
                f"SMTP server {self.settings.smtp_host}:{self.settings.smtp_port} unreachable: {exc}",
                down=True,
            )
        return Outcome("sent")

    def _drop(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError):
                self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None


def _header_value(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break: {value!r}")
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends (RFC 2045), lines at most 76 characters."""
    plain = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(plain, istext=True).replace(b"\n", b"\r\n")


def _smtp_outcome(code: int, text: bytes | str) -> Outcome:
    reason = f"SMTP {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}".strip()
    return Outcome("temporary" if 400 <= code < 500 else "permanent", reason)


def webhook_signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact request body under `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """A JSON POST per message to `webhook_url`, signed in `X-Cartwise-Signature`."""

    name = "webhook"

    def __init__(self, settings: Settings, timeout: float = 10.0):
        if not settings.webhook_url:
            raise ConfigError("The webhook channel needs the `webhook_url` setting (CARTWISE_WEBHOOK_URL).")
        if not settings.webhook_secret:
            raise ConfigError(
                "The webhook channel needs the `webhook_secret` setting (CARTWISE_WEBHOOK_SECRET) to sign calls."
            )
        self.url = settings.webhook_url
        self.secret = settings.webhook_secret
        self.timeout = timeout

    def send(self, message: Message) -> Outcome:
        body = json.dumps(
            {
                "message_id": message.message_id,
                "to": message.to,
                "subject": message.subject,
                "text": message.text,
                **message.data,
            },
            sort_keys=True,
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Cartwise-Signature": webhook_signature(self.secret, body),
                "Idempotency-Key": message.key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):
                return Outcome("sent")
        except urllib.error.HTTPError as exc:
            state: Literal["temporary", "permanent"] = (
                "temporary" if exc.code >= 500 or exc.code == 429 else "permanent"
            )
            return Outcome(state, f"HTTP {exc.code} {exc.reason}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return Outcome("temporary", f"webhook {self.url} unreachable: {exc}", down=True)

    def close(self) -> None:
        pass


ChannelFactory = Callable[[Settings], Channel]
CHANNELS: dict[str, ChannelFactory] = {}


def register_channel(name: str, factory: ChannelFactory) -> None:
    """Add a channel under `name`; a second registration of the same name is an error."""
    if name in CHANNELS:
        raise ConfigError(f"A channel named {name!r} is already registered; choose another name.")
    CHANNELS[name] = factory


def make_channel(name: str, settings: Settings) -> Channel:
    """An open channel by registered name; ConfigError listing the names otherwise."""
    if name not in CHANNELS:
        raise ConfigError(
            f"{name!r} is not a channel; use one of {', '.join(sorted(CHANNELS))}.", parameter="channel"
        )
    return CHANNELS[name](settings)


register_channel("email", EmailChannel)
register_channel("webhook", WebhookChannel)
