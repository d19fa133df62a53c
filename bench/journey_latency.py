"""Benchmark: journey latency, from the collector's acknowledgement to the message at the sink.

Starts a real `cartwise serve` over a fresh store of N consenting customers, an aiosmtpd sink
on 127.0.0.1 in this process (it notes when each message arrives), and applies a journey
`trigger: {event: add_to_cart}` -> `send: {channel: email, template: abandoned_cart}`
(`--wait 2s` puts a wait first; its length is subtracted). Then posts one `add_to_cart` event
per customer at `--rate` events/s on a fixed schedule, `--batch` events per request (a shop's
tracker batches too), and measures, per customer, the time from the 202 answer to the
message's arrival at the sink.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/journey_latency.py [--rate 200] [--seconds 15]

Target (issue 22): p99 under 2 s at 200 events/s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa

from cartwise.core.settings import get_settings
from cartwise.service import keys as keys_job
from cartwise.service.server_process import ServerProcess, free_port
from cartwise.store import open_store

JOURNEY = """\
name: bench-cart
trigger: {event: add_to_cart}
steps:
WAIT  - send: {channel: email, template: abandoned_cart}
"""


def _sink(port: int, out: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    """The SMTP sink, in its own process (so it does not share the GIL with the client): notes
    each recipient's arrival time (wall clock, comparable across processes) in `out`."""
    from aiosmtpd.controller import Controller

    handle = open(out, "a", buffering=1)  # noqa: SIM115 - open for the life of the process

    class Note:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            now = time.time()
            for rcpt in envelope.rcpt_tos:  # type: ignore[attr-defined]
                handle.write(f"{rcpt} {now}\n")
            return "250 OK"

    controller = Controller(Note(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    threading.Event().wait()


def _arrived(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            rcpt, _, at = line.partition(" ")
            if at:
                out.setdefault(rcpt, float(at))
    return out


def _store(db: Path, n: int) -> dict[str, str]:
    ids = [f"c{i:06d}" for i in range(n)]
    with open_store(db, settings=get_settings(db=db, memory_limit="1GB", threads=1)) as store:
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
        store.append("items", pa.table({"item_id": ["sku-1"], "title": ["Chef knife"], "price": [49.5]}))
        keys = {}
        for scope in ("admin", "collect"):
            _info, key = keys_job.create_key(store, scope=scope, name=f"bench-{scope}")
            keys[scope] = key
        store.con.execute("CHECKPOINT")
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long events are posted")
    parser.add_argument("--batch", type=int, default=10, help="events per request")
    parser.add_argument("--wait", default="", help="a wait step before the send, e.g. 2s")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the last messages")
    args = parser.parse_args()
    n = int(args.rate * args.seconds)
    wait_seconds = int(args.wait[:-1]) if args.wait else 0
    smtp_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        keys = _store(db, n)
        notes = Path(tmp) / "arrivals.txt"
        ready = multiprocessing.Event()
        sink = multiprocessing.Process(target=_sink, args=(smtp_port, str(notes), ready), daemon=True)
        sink.start()
        ready.wait(30)
        env = {
            "CARTWISE_SMTP_PORT": str(smtp_port),
            "CARTWISE_SMTP_FROM": "shop@cartwise.test",
            "CARTWISE_MEMORY_LIMIT": "1GB",
            "CARTWISE_THREADS": "1",
        }
        server = ServerProcess(db, log_path=Path(tmp) / "server.log", env=env).start()
        try:
            journey = JOURNEY.replace("WAIT", f"  - wait: {args.wait}\n" if args.wait else "")
            with httpx.Client(base_url=server.url, timeout=30) as admin:
                applied = admin.put(
                    "/api/v1/journeys/bench-cart",
                    content=journey,
                    headers={"Authorization": f"Bearer {keys['admin']}"},
                )
                applied.raise_for_status()
            acked: dict[str, float] = {}
            headers = {"Authorization": f"Bearer {keys['collect']}"}
            began = time.time()
            with httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
                for start in range(0, n, args.batch):
                    due = began + start / args.rate
                    pause = due - time.time()
                    if pause > 0:
                        time.sleep(pause)
                    users = [f"c{i:06d}" for i in range(start, min(n, start + args.batch))]
                    events = [
                        {
                            "event_id": str(uuid.uuid4()),
                            "ts": datetime.now(UTC).isoformat(),
                            "user_id": user,
                            "type": "add_to_cart",
                            "item_id": "sku-1",
                            "price": 49.5,
                        }
                        for user in users
                    ]
                    response = client.post("/api/v1/events", json={"events": events})
                    response.raise_for_status()
                    answered = time.time()
                    for user in users:
                        acked[f"{user}@example.test"] = answered
            posted = time.time() - began
            end = time.time() + args.drain
            while len(arrived := _arrived(notes)) < n and time.time() < end:
                time.sleep(0.2)
        finally:
            server.stop()
            sink.terminate()
            sink.join()
    latencies = np.array([arrived[a] - t - wait_seconds for a, t in acked.items() if a in arrived])
    print(
        f"events {n:,} posted in {posted:.1f} s ({n / posted:.0f}/s), messages at the sink {len(latencies):,}"
    )
    if len(latencies):
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
        print(f"{'wait':>6} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7}")
        print(f"{args.wait or '-':>6} {p50:>7.3f} {p95:>7.3f} {p99:>7.3f} {latencies.max():>7.3f}")


if __name__ == "__main__":
    main()
