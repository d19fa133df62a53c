"""The demo's e-mail sink: an SMTP server on 127.0.0.1 (aiosmtpd) that takes every message the
demo's journeys send and keeps only a count, so `cartwise demo` sends real SMTP without a mail
server and without mailing anyone."""

from __future__ import annotations

import threading
from typing import Any

from aiosmtpd.controller import Controller

from cartwise.service.server_process import free_port

__all__ = ["MailSink"]


class _Counter:
    def __init__(self) -> None:
        self.received = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received += 1
        return "250 OK"


class MailSink:
    """`start()` listens on 127.0.0.1:`port`; `received` counts the messages taken; `stop()`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Counter()
        self._controller: Controller | None = None

    @property
    def received(self) -> int:
        return self._handler.received

    def start(self) -> MailSink:
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
