"""Benchmark: a broadcast rendered and delivered by Cartwise vs a bare `smtplib` loop.

Both send to the same local aiosmtpd sink (a separate process that counts messages and keeps
nothing), over one reused SMTP connection each, in alternating order over `--rounds` rounds
(bare first in odd rounds, cartwise first in even ones) so that neither always runs on a cooler
or warmer machine; the table gives each round and the medians:

- bare: `smtplib.SMTP.sendmail` of N pre-rendered messages: the same template, customers and
  bytes Cartwise sends, all built before the clock starts;
- cartwise: `broadcast()` of the `newsletter` template to N consenting customers, holdout 0:
  the audience rule, the outbox rows, guards, Jinja2 rendering (HTML and text), tracked links,
  the journal and its folds into the send log, all inside the timing (module imports, Ibis's
  included, before it, as for the bare loop).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/campaigns_send.py [--n 100000] [--rounds 2]

Prints messages per second of each and the ratio of the medians (target: cartwise >= 0.7x bare),
and each side's process CPU time per message inside its timed window (all threads of this
process, not the sink's), which a shared machine's load changes much less than the rates.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import socket
import statistics
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


def _bare(port: int, n: int) -> tuple[float, float]:
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
    started, cpu = time.perf_counter(), time.process_time()
    for to, raw in messages:
        smtp.sendmail("shop@bench.test", [to], raw)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    smtp.quit()
    return elapsed, cpu


def _cartwise(port: int, n: int, folder: Path) -> tuple[float, float]:
    import ibis

    from cartwise.core.settings import get_settings
    from cartwise.pipelines.campaigns import broadcast
    from cartwise.profiles import rule_filter
    from cartwise.store import open_store

    # Imports happen before the clock, as the bare loop's do: the audience rule compiles through
    # Ibis, whose DuckDB backend takes about a second to import once per process.
    assert ibis.duckdb is not None and rule_filter is not None
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
        started, cpu = time.perf_counter(), time.process_time()
        result = broadcast(
            store, settings, "bench", rule="email_consent == true", template="newsletter", holdout=0.0
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result["sent"] == n, result
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages per run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, alternating which sender goes first")
    args = parser.parse_args()
    port = _free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(30)
    bare: list[tuple[float, float]] = []  # (wall seconds, process CPU seconds) per round
    ours: list[tuple[float, float]] = []
    print(
        f"{'round':<6} {'first':<9} {'smtplib msg/s':>14} {'cartwise msg/s':>15} {'ratio':>6}"
        f" {'smtplib CPU ms/msg':>19} {'cartwise CPU ms/msg':>20}"
    )
    try:
        for round_no in range(1, args.rounds + 1):
            with tempfile.TemporaryDirectory() as folder:
                if round_no % 2:
                    bare.append(_bare(port, args.n))
                    ours.append(_cartwise(port, args.n, Path(folder)))
                else:
                    ours.append(_cartwise(port, args.n, Path(folder)))
                    bare.append(_bare(port, args.n))
            first = "smtplib" if round_no % 2 else "cartwise"
            print(
                f"{round_no:<6} {first:<9} {args.n / bare[-1][0]:>14,.0f} {args.n / ours[-1][0]:>15,.0f}"
                f" {bare[-1][0] / ours[-1][0]:>5.2f}x {1000 * bare[-1][1] / args.n:>19.3f}"
                f" {1000 * ours[-1][1] / args.n:>20.3f}"
            )
    finally:
        sink.terminate()
        sink.join()
    bare_median = statistics.median(t for t, _ in bare)
    ours_median = statistics.median(t for t, _ in ours)
    print(
        f"median over {args.rounds} rounds of {args.n:,} messages: smtplib {args.n / bare_median:,.0f} msg/s,"
    )
    print(
        f"cartwise {args.n / ours_median:,.0f} msg/s; ratio cartwise / smtplib: {bare_median / ours_median:.2f}x"
    )
    print(
        f"process CPU per message (median): smtplib {1000 * statistics.median(c for _, c in bare) / args.n:.3f} ms,"
        f" cartwise {1000 * statistics.median(c for _, c in ours) / args.n:.3f} ms"
    )


if __name__ == "__main__":
    main()
