"""Benchmark: a broadcast rendered and delivered by Cartwise vs a bare `smtplib` loop.

Both send to the same local aiosmtpd sink (a separate process that counts messages and keeps
nothing), one after the other in the same run, over one reused SMTP connection each:

- bare: `smtplib.SMTP.sendmail` of N pre-rendered messages: the same template, customers and
  bytes Cartwise sends, all built before the clock starts;
- cartwise: `broadcast()` of the `newsletter` template to N consenting customers, holdout 0:
  the audience rule, the outbox rows, guards, Jinja2 rendering (HTML and text), tracked links,
  the journal and its folds into the send log, all inside the timing.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/campaigns_send.py [--n 100000]

Prints messages per second of each and the ratio (target: cartwise >= 0.7x bare).
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import socket
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa


def _sink(port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bare(port: int, n: int) -> float:
    """The same template rendered for the same customers and built into the same bytes as
    Cartwise sends (tracked links included), all before the clock starts."""
    from cartwise.campaigns import EmailChannel, Message, MessageIdentity, Templates
    from cartwise.core.settings import get_settings

    settings = get_settings(smtp_port=port, smtp_from="shop@bench.test")
    channel, templates = EmailChannel(settings), Templates()
    base = "http://127.0.0.1:8000/api/v1/campaigns"
    messages = []
    for i in range(n):
        user = f"u{i:06d}"
        identity = MessageIdentity("bare", "send", user)
        context = {
            "customer": {"user_id": user, "email": f"{user}@example.test", "country": "DE"},
            "items": [],
            "recommendations": [],
            "shop_url": "http://127.0.0.1:8000/",
            "unsubscribe_url": f"{base}/unsubscribe/{identity.key}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        }
        rendered = templates.render(
            "newsletter", context, lambda url, k=identity.key: f"{base}/click/{k}{url}"
        )
        message = Message(
            identity.key, identity.message_id(settings.smtp_from), f"{user}@example.test",
            rendered.subject, rendered.html, rendered.text,
            {"List-Unsubscribe": f"<{context['unsubscribe_url']}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        )  # fmt: skip
        messages.append((message.to, channel.raw(message)))
    smtp = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for to, raw in messages:
        smtp.sendmail("shop@bench.test", [to], raw)
    elapsed = time.perf_counter() - started
    smtp.quit()
    return elapsed


def _cartwise(port: int, n: int, folder: Path) -> float:
    from cartwise.core.settings import get_settings
    from cartwise.pipelines.campaigns import broadcast
    from cartwise.store import open_store

    settings = get_settings(
        db=folder / "bench.duckdb", memory_limit="1GB", threads=2, smtp_port=port, smtp_from="shop@bench.test"
    )
    ids = [f"u{i:06d}" for i in range(n)]
    with open_store(settings.db, settings=settings) as store:
        store.append(
            "users",
            pa.table(
                {
                    "user_id": ids,
                    "email": [f"{u}@example.test" for u in ids],
                    "country": ["DE"] * n,
                    "email_consent": [True] * n,
                    "email_consent_at": pa.array([datetime(2026, 1, 1)] * n, pa.timestamp("us")),
                }
            ),
        )
        store.replace("profiles", pa.table({"user_id": ids, "email_consent": [True] * n}))
        started = time.perf_counter()
        result = broadcast(
            store, settings, "bench", rule="email_consent == true", template="newsletter", holdout=0.0
        )
        elapsed = time.perf_counter() - started
    assert result["sent"] == n, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages per run")
    args = parser.parse_args()
    port = _free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        bare = _bare(port, args.n)
        with tempfile.TemporaryDirectory() as folder:
            ours = _cartwise(port, args.n, Path(folder))
    finally:
        sink.terminate()
        sink.join()
    print(f"{'sender':<10} {'messages':>9} {'seconds':>8} {'msg/s':>8}")
    print(f"{'smtplib':<10} {args.n:>9,} {bare:>8.1f} {args.n / bare:>8.0f}")
    print(f"{'cartwise':<10} {args.n:>9,} {ours:>8.1f} {args.n / ours:>8.0f}")
    print(f"ratio cartwise / smtplib: {bare / ours:.2f}x")


if __name__ == "__main__":
    main()
