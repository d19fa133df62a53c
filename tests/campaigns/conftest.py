"""Fixtures of the campaign tests: a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .smtp_support import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()
