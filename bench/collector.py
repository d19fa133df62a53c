"""Collector throughput and latency over loopback, against a real `cartwise serve`.

Starts a server on a fresh temporary store, then runs two bounded phases with a minimal
keep-alive HTTP/1.1 client (so the client costs little CPU next to the server):

1. batches of 100 events from several connections, each sending as soon as it has its
   answer: the most events/s, and the latency at that saturation;
2. batches of 100 events sent on a fixed schedule (`--batch-rate` requests/s, 200 by default,
   i.e. the 20,000 events/s target) whatever the answers: the latency at the target load,
   counted from each request's scheduled time so a late client does not hide queueing;
3. single-event posts from many connections: requests/s.

Each phase stops after its request count or its time limit, whichever comes first. The
server's CPU time per request (all its threads, from /proc) shows the cost apart from the
load generator sharing the cores. `--stored N` first ingests N past events, since each write
into DuckDB checks new event ids against those stored.
Targets: batches >= 20,000 events/s with p99 < 50 ms; single events >= 2,000 requests/s.
The last rows time `prepare_events` alone on the same group sizes: the ceiling the
collector's validation step puts on the phases above.

    .venv/bin/python bench/collector.py [--batches 400] [--singles 8000] [--seconds 20]
        [--connections 64] [--stored 0] [--batch-rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from cartwise.core.settings import get_settings
from cartwise.ingest import ingest_file
from cartwise.service import keys as keys_job
from cartwise.service.server_process import ServerProcess
from cartwise.service.service import open_ready_store
from cartwise.store import Store


class Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads the status."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.head = (
            f"POST /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


def _events(n: int) -> bytes:
    ts = datetime.now(UTC).isoformat()
    return orjson.dumps(
        {
            "events": [
                {
                    "event_id": uuid.uuid4().hex,
                    "ts": ts,
                    "user_id": f"u{i % 97}",
                    "session_id": f"s{i % 41}",
                    "type": "view",
                    "item_id": f"sku-{i % 500}",
                }
                for i in range(n)
            ]
        }
    )


async def run_phase(
    host: str,
    port: int,
    key: str,
    *,
    events_per_request: int,
    requests: int,
    connections: int,
    seconds: float,
    rate: float | None = None,
    keep: list[float] | None = None,
) -> dict[str, float]:
    """Closed loop (each connection sends when answered) or, with `rate`, an open-loop schedule;
    each request's latency (seconds) is also appended to `keep` when given."""
    latencies: list[float] = []
    failures = 0
    remaining = requests
    sent = 0
    began = time.perf_counter()
    deadline = began + seconds

    async def worker() -> None:
        nonlocal remaining, failures, sent
        conn = Connection(host, port, key)
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            body = _events(events_per_request)
            started = time.perf_counter()
            if rate is not None:
                started = began + sent / rate  # the request's slot in the schedule
                sent += 1
                await asyncio.sleep(max(0.0, started - time.perf_counter()))
            status = await conn.post(body)
            latencies.append(time.perf_counter() - started)
            if status != 202:
                failures += 1
        if conn.writer is not None:
            conn.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    if keep is not None:
        keep.extend(latencies)
    done = len(latencies)
    return {
        "requests": done,
        "failures": failures,
        "seconds": elapsed,
        "requests_per_s": done / elapsed,
        "events_per_s": done * events_per_request / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[min(done - 1, int(done * 0.99))] * 1000 if latencies else float("nan"),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by every thread of process `pid` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_history(store: Store, n: int, folder: Path) -> None:
    """`n` past events in the store (a month of a shop with ~n/20 visitors), ingested from Parquet."""
    rng = np.random.default_rng(3)
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=30)
    table = pa.table(
        {
            "event_id": pa.array([uuid.UUID(int=int(x), version=4).hex for x in rng.integers(0, 2**62, n)]),
            "ts": pa.array(
                np.datetime64(start, "us") + rng.integers(0, 30 * 86_400_000_000, n).astype("timedelta64[us]")
            ),
            "user_id": pa.array(np.char.add("u", rng.integers(0, max(n // 20, 1), n).astype(str))),
            "type": pa.array(np.where(rng.random(n) < 0.03, "purchase", "view")),
            "item_id": pa.array(np.char.add("sku-", rng.integers(0, 5_000, n).astype(str))),
        }
    )
    path = folder / "history.parquet"
    pq.write_table(table, path)
    ingest_file(store, "events", path)


def validation_ceiling(events_per_call: int, calls: int = 10) -> float:
    """Events/s of `prepare_events` alone, in this process: the collector cannot beat it."""
    from cartwise.ingest import prepare_events

    records = orjson.loads(_events(events_per_call))["events"]
    prepare_events(records)
    started = time.perf_counter()
    for _ in range(calls):
        prepare_events(records)
    return events_per_call * calls / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400, help="requests of 100 events in phase 1")
    parser.add_argument("--singles", type=int, default=8000, help="single-event requests in phase 2")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit of each phase")
    parser.add_argument(
        "--connections", type=int, default=64, help="connections sending single events in phase 2"
    )
    parser.add_argument(
        "--stored",
        type=int,
        default=0,
        help="events already in the store before the phases (each write checks new ids against them)",
    )
    parser.add_argument(
        "--batch-rate",
        type=float,
        default=200.0,
        help="requests/s of the scheduled batch phase (200 x 100 events = the 20,000 events/s target)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        settings = get_settings(db=db, memory_limit="1GB")
        with open_ready_store(settings) as store:
            _, key = keys_job.create_key(store, scope="collect", name="bench")
            if args.stored:
                store_history(store, args.stored, Path(tmp))
        server = ServerProcess(
            db, log_path=Path(tmp) / "server.log", env={"CARTWISE_LOG_LEVEL": "WARNING"}
        ).start()
        try:
            host, port = server.host, server.port
            # Warm-up: first requests pay for imports and caches.
            asyncio.run(
                run_phase(host, port, key, events_per_request=100, requests=20, connections=2, seconds=10)
            )

            def measured(
                events_per_request: int, requests: int, connections: int, rate: float | None = None
            ) -> dict[str, float]:
                used = cpu_seconds(server.pid)
                result = asyncio.run(
                    run_phase(
                        host,
                        port,
                        key,
                        events_per_request=events_per_request,
                        requests=requests,
                        connections=connections,
                        seconds=args.seconds,
                        rate=rate,
                    )
                )
                time.sleep(1.0)  # the writer's last flush belongs to this phase
                result["cpu_ms"] = (cpu_seconds(server.pid) - used) / max(result["requests"], 1) * 1000
                return result

            batch = measured(100, args.batches, 8)
            paced = measured(100, args.batches, 64, rate=args.batch_rate)
            single = measured(1, args.singles, args.connections)
        finally:
            server.stop()

    ceiling_batch = validation_ceiling(800)
    ceiling_single = validation_ceiling(64)
    rows = [
        ("batches of 100, 8 connections", batch, ">= 20,000 events/s"),
        (f"batches of 100 at {args.batch_rate:g}/s", paced, "p99 < 50 ms at 20,000 events/s"),
        (f"single events, {args.connections} connections", single, ">= 2,000 requests/s"),
    ]
    print(
        f"{'phase':<32} {'requests':>8} {'fail':>5} {'req/s':>9} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'server CPU ms/req':>17}  target"
    )
    for name, r, target in rows:
        print(
            f"{name:<32} {r['requests']:>8.0f} {r['failures']:>5.0f} {r['requests_per_s']:>9,.0f} "
            f"{r['events_per_s']:>10,.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['cpu_ms']:>17.3f}  {target}"
        )
    # Each validation call covers every request waiting at that moment: 8 x 100 or 64 x 1 events here.
    print(f"{'validation alone, 800 per call':<32} {'':>8} {'':>5} {'':>9} {ceiling_batch:>10,.0f}")
    print(f"{'validation alone, 64 per call':<32} {'':>8} {'':>5} {'':>9} {ceiling_single:>10,.0f}")


if __name__ == "__main__":
    main()
