"""A real SMTP server on 127.0.0.1 (aiosmtpd) and small stores of customers, for campaign tests."""

from __future__ import annotations

import email
import socket
import threading
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pyarrow as pa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """Keeps every message it accepts; `refuse` maps an address to an SMTP reply ("550 ...")."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse: dict[str, str] = {}
        self.greetings = 0  # EHLOs: one per SMTP connection the sender opened
        self.lock = threading.Lock()

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        with self.lock:
            self.messages.append(email.message_from_bytes(raw))
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.sink = Sink()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def make_shop(store: Any, n: int, *, consent: Any = True, countries: list[str] | None = None) -> list[str]:
    """`n` customers u00000.. with e-mail addresses, consent (a bool or a function of the index),
    countries, and a profiles table with `email_consent` and `orders` for rules."""
    ids = [f"u{i:05d}" for i in range(n)]
    consents = [consent(i) if callable(consent) else consent for i in range(n)]
    users = pa.table(
        {
            "user_id": ids,
            "email": [f"{u}@example.test" for u in ids],
            "country": [(countries or ["DE"])[i % len(countries or ["DE"])] for i in range(n)],
            "email_consent": consents,
            "email_consent_at": pa.array([datetime(2026, 1, 1)] * n, pa.timestamp("us")),
        }
    )
    store.append("users", users)
    store.replace(
        "profiles",
        pa.table({"user_id": ids, "email_consent": consents, "orders": [i % 5 for i in range(n)]}),
    )
    return ids


def settings_for_smtp(db: Path, port: int, **extra: Any) -> Any:
    from cartwise.core.settings import get_settings

    return get_settings(
        db=db, memory_limit="1GB", threads=2, smtp_port=port, smtp_from="shop@cartwise.test", **extra
    )
