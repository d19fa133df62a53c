"""Journey latency: from the collector's acknowledgement of an `add_to_cart` to the abandoned-cart
message arriving at an SMTP sink, through a real `cartwise serve` and a real aiosmtpd server on
127.0.0.1, at a steady event rate.

The journey is the issue's contract file (`wait: 2s`, then `send`). Every event is a distinct
customer (with an e-mail address and consent), so every event enters the journey and produces
one message. Events go in small batches on a fixed schedule; a batch's acknowledgement time is
when its POST returned 202. The latency of a message is its arrival at the sink minus its
event's acknowledgement; "beyond the wait" subtracts the journey's 2 s.

    python bench/journey_latency.py --rate 200 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
from aiosmtpd.controller import Controller

from cartwise.core.settings import get_settings
from cartwise.pipelines.journeys import apply_journey
from cartwise.service import keys as keys_job
from cartwise.service.server_process import ServerProcess, free_port
from cartwise.store import open_store

CONTRACT = """\
name: abandoned-cart
trigger: {event: add_to_cart}
exit_on: [{event: purchase}]
steps:
  - wait: 2s
  - send: {channel: email, template: abandoned_cart}
"""
WAIT_SECONDS = 2.0


class ArrivalSink:
    """Records the monotonic arrival time of the first message to each address."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        with self.lock:
            for to in envelope.rcpt_tos:
                self.arrivals.setdefault(to, now)
        return "250 OK"


def build_store(db: Path, customers: int) -> str:
    settings = get_settings(db=db, memory_limit="1GB", threads=2)
    ids = [f"c{i:06d}" for i in range(customers)]
    with open_store(db, settings=settings) as store:
        store.append(
            "users",
            pa.table(
                {
                    "user_id": ids,
                    "email": [f"{u}@example.test" for u in ids],
                    "country": ["DE"] * customers,
                    "email_consent": [True] * customers,
                    "email_consent_at": pa.array([datetime(2026, 1, 1)] * customers, pa.timestamp("us")),
                }
            ),
        )
        store.append("items", pa.table({"item_id": ["sku-1"], "title": ["Chef knife"], "price": [49.5]}))
        apply_journey(store, settings, CONTRACT)
        _, key = keys_job.create_key(store, scope="collect", name="bench")
        store.con.execute("CHECKPOINT")
    return key


def run(rate: float, seconds: float, batch: int, drain: float) -> dict[str, Any]:
    customers = int(rate * seconds)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        key = build_store(db, customers)
        sink = ArrivalSink()
        smtp_port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        env = {
            "CARTWISE_SMTP_HOST": "127.0.0.1",
            "CARTWISE_SMTP_PORT": str(smtp_port),
            "CARTWISE_SMTP_FROM": "shop@bench.test",
            "CARTWISE_MEMORY_LIMIT": "1GB",
            "CARTWISE_THREADS": "2",
            "CARTWISE_LOG_LEVEL": "WARNING",
        }
        server = ServerProcess(db, log_path=Path(tmp) / "server.log", env=env).start()
        acks: dict[str, float] = {}
        try:
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as client:
                start = time.monotonic()
                for first in range(0, customers, batch):
                    due = start + first / rate
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    users = [f"c{i:06d}" for i in range(first, min(first + batch, customers))]
                    now = datetime.now(UTC).isoformat()
                    events = [
                        {
                            "event_id": str(uuid.uuid4()),
                            "ts": now,
                            "user_id": u,
                            "type": "add_to_cart",
                            "item_id": "sku-1",
                            "price": 49.5,
                        }
                        for u in users
                    ]
                    response = client.post("/api/v1/events", json={"events": events})
                    acked = time.monotonic()
                    response.raise_for_status()
                    for u in users:
                        acks[f"{u}@example.test"] = acked
                sent_for = time.monotonic() - start
            deadline = time.monotonic() + drain
            while len(sink.arrivals) < customers and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            server.stop()
            controller.stop()
    # A message not at the sink when the drain ends counts as infinitely late (p99 shows inf).
    latency = np.array([sink.arrivals[a] - t if a in sink.arrivals else np.inf for a, t in acks.items()])
    extra = latency - WAIT_SECONDS
    return {
        "events": customers,
        "achieved_rate": customers / sent_for,
        "delivered": int(np.isfinite(latency).sum()),
        "p50": float(np.percentile(latency, 50, method="inverted_cdf")),
        "p99": float(np.percentile(latency, 99, method="inverted_cdf")),
        "max": float(latency[np.isfinite(latency)].max()) if np.isfinite(latency).any() else float("inf"),
        "p50_extra": float(np.percentile(extra, 50, method="inverted_cdf")),
        "p99_extra": float(np.percentile(extra, 99, method="inverted_cdf")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200.0, help="events per second [200]")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send [60]")
    parser.add_argument("--batch", type=int, default=10, help="events per POST [10]")
    parser.add_argument(
        "--drain", type=float, default=120.0, help="seconds to wait for the last messages after sending [120]"
    )
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    r = run(args.rate, args.seconds, args.batch, args.drain)
    print(
        f"journey latency, ack -> message at the sink (contract journey, wait {WAIT_SECONDS:g} s; "
        f"undelivered after a {args.drain:g} s drain count as inf)"
    )
    print(
        f"{'events':>8} {'rate/s':>8} {'delivered':>10} {'p50 s':>8} {'p99 s':>8} {'max s':>8} "
        f"{'p50 beyond wait':>16} {'p99 beyond wait':>16}"
    )
    print(
        f"{r['events']:>8,} {r['achieved_rate']:>8.1f} {r['delivered']:>10,} {r['p50']:>8.2f} {r['p99']:>8.2f} "
        f"{r['max']:>8.2f} {r['p50_extra']:>16.2f} {r['p99_extra']:>16.2f}"
    )


if __name__ == "__main__":
    main()
