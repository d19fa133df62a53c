"""The one send path: journey-style single sends, caps and quiet hours in a run, the webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

from cartwise.campaigns import MessageIdentity
from cartwise.pipelines.campaigns import broadcast
from cartwise.pipelines.sender import Sender
from cartwise.store import open_store

from .smtp_support import SmtpServer, free_port, make_shop, settings_for_smtp


def test_a_journey_step_sends_once_per_identity(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port)
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 2, consent=lambda i: i == 0)
        with Sender(store, settings) as sender:
            first = MessageIdentity("journey:abandoned-cart:v1", "2", "u00000", 0)
            items = {"items": [{"title": "Chef knife", "price": 49.5, "url": "https://shop.example/knife"}]}
            states = [sender.send(first, "u00000", "email", "abandoned_cart", items) for _ in range(3)]
            again = sender.send(
                MessageIdentity("journey:abandoned-cart:v1", "2", "u00000", 1),
                "u00000",
                "email",
                "abandoned_cart",
                items,
            )
            refused = sender.send(
                MessageIdentity("journey:abandoned-cart:v1", "2", "u00001", 0),
                "u00001",
                "email",
                "abandoned_cart",
            )
    assert states == ["sent", "sent", "sent"] and again == "sent"
    assert refused == "skipped:no_consent"
    assert len(smtp.sink.messages) == 2
    assert len({m["Message-ID"] for m in smtp.sink.messages}) == 2
    text = next(p for p in smtp.sink.messages[0].walk() if p.get_content_type() == "text/plain")
    assert "Chef knife (49.50)" in text.get_payload(decode=True).decode()


def test_the_frequency_cap_spans_campaigns(tmp_path: Path, smtp: SmtpServer) -> None:
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, frequency_cap="2/7d")
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 5)
        results = [
            broadcast(store, settings, f"c{i}", rule="orders >= 0", template="newsletter", holdout=0.0)
            for i in range(3)
        ]
    assert [r["sent"] for r in results] == [5, 5, 0]
    assert results[2]["skipped"] == {"frequency_cap": 5}


def test_quiet_hours_hold_messages_instead_of_dropping_them(tmp_path: Path, smtp: SmtpServer) -> None:
    # A window covering every hour but one minute: whatever the time, the message is held.
    settings = settings_for_smtp(tmp_path / "shop.duckdb", smtp.port, quiet_hours="00:00-23:59")
    with open_store(settings.db, settings=settings) as store:
        make_shop(store, 3, countries=["DE", "US", "JP"])
        result = broadcast(store, settings, "late", rule="orders >= 0", template="welcome", holdout=0.0)
        rows = store.con.execute(
            "SELECT state, reason, not_before FROM send_log WHERE source = 'late'"
        ).fetchall()
    if result["held"] == 0:  # the run fell in the one open minute somewhere
        return
    assert result["sent"] + result["held"] == 3 and len(smtp.sink.messages) == result["sent"]
    held = [r for r in rows if r[0] == "pending"]
    assert len(held) == result["held"] and all(r[1] == "quiet_hours" and r[2] is not None for r in held)
    assert result["pending"] == result["held"]


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_posts_signed_json_and_retries_a_5xx(tmp_path: Path) -> None:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received, _Hook.fail_first = [], 1
    settings = settings_for_smtp(
        tmp_path / "shop.duckdb", 1, webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret="s3cret"
    )
    try:
        with open_store(settings.db, settings=settings) as store:
            make_shop(store, 1)
            store.con.execute("UPDATE users SET sms_consent = true")
            result = broadcast(
                store,
                settings,
                "push",
                rule="orders >= 0",
                template="welcome",
                channel="webhook",
                holdout=0.0,
            )
    finally:
        server.shutdown()
    assert result["sent"] == 1 and len(_Hook.received) == 2  # a 503, then the retry
    (h1, b1), (h2, b2) = _Hook.received
    assert b1 == b2 and h1["Idempotency-Key"] == h2["Idempotency-Key"]
    expected = "sha256=" + hmac.new(b"s3cret", b2, hashlib.sha256).hexdigest()
    assert h2["X-Cartwise-Signature"] == expected
    payload = json.loads(b2)
    assert (
        payload["user_id"] == "u00000"
        and payload["subject"] == "Welcome"
        and payload["message_id"].startswith("<")
    )
