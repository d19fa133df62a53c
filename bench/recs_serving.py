"""Recommendation serving latency over loopback, against a real `cartwise serve`.

Builds a simulated shop (default 100,000 customers x 20,000 items) into `--db` unless it
exists, trains the hybrid recommender, starts the server on 127.0.0.1 and sends GET
requests open-loop at each `--rates` value (requests per second) for `--seconds` each:
a request's latency runs from the moment it was due, so a server falling behind shows up
in the percentiles instead of slowing the client down. The mix: 80% known customers,
10% unknown visitors, 10% `/items/{id}/similar`. Target: p99 under 20 ms at 500 requests/s.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/recs_serving.py [--users 100000] [--items 20000]
        [--days 60] [--rates 100,250,500] [--seconds 15] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import urllib.request
from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.train import train_recommender
from cartwise.service import keys as keys_job
from cartwise.service.server_process import ServerProcess
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads the status."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {self.key}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


def prepare(
    db: Path, users: int, items: int, days: int, model: str
) -> tuple[str, list[str], list[str], dict[str, float]]:
    """Build and train the shop unless `db` exists; returns a read key, user and item ids, timings."""
    timings: dict[str, float] = {}
    settings = get_settings(db=db, memory_limit="6GB", threads=2)
    fresh = not db.exists()
    with open_store(db, settings=settings) as store:
        if fresh:
            started = time.perf_counter()
            build_demo(store, ShopConfig(seed=1, users=users, items=items, days=days))
            timings["build s"] = time.perf_counter() - started
        if fresh or not (store.artefacts_path() / "recommender" / "model.json").is_file():
            started = time.perf_counter()
            train_recommender(store, model=model)
            timings["train s"] = time.perf_counter() - started
        _, key = keys_job.create_key(store, scope="read", name="bench")
        user_ids = [r[0] for r in store.con.execute("SELECT user_id FROM users").fetchall()]
        item_ids = [r[0] for r in store.con.execute("SELECT item_id FROM items").fetchall()]
        timings["events"] = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    return key, user_ids, item_ids, timings


async def run_rate(
    host: str, port: int, key: str, paths: list[str], rate: float, seconds: float, max_conns: int = 64
) -> dict[str, float]:
    """Send `paths` (cycled) at `rate`/s for `seconds`; latencies are measured from each due time."""
    free: asyncio.Queue[Connection] = asyncio.Queue()
    opened = 0
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    tasks = []

    async def one(path: str, due: float) -> None:
        nonlocal opened, errors
        if free.empty() and opened < max_conns:
            opened += 1
            free.put_nowait(Connection(host, port, key))
        conn = await free.get()
        try:
            status = await conn.get(path)
            if status != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            conn = Connection(host, port, key)
        latencies.append(time.perf_counter() - due)
        free.put_nowait(conn)

    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(paths[i % len(paths)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "rate": rate,
        "achieved": len(latencies) / elapsed,
        "requests": len(latencies),
        "errors": errors,
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000,
    }


def scored(url: str, key: str) -> tuple[int, int]:
    """Users the server has batch-scored so far (the rest are served by the similarity fold-in), of all."""
    request = urllib.request.Request(url + "/api/v1/recommender", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        info = json.loads(response.read())
    return int(info["batch_scored_users"]), int(info["users"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rates", default="100,250,500", help="Requests per second, comma-separated.")
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="Length of each rate's phase (at most 60)."
    )
    parser.add_argument(
        "--wait-batch-scoring",
        type=float,
        default=600.0,
        help="Seconds to wait, at most, for the server to batch-score every user before measuring.",
    )
    parser.add_argument(
        "--no-impressions", action="store_true", help="Ask with log=false (isolates the cost of impressions)."
    )
    parser.add_argument(
        "--model",
        default="hybrid",
        help="Recommender to train when the store has none (registry name; default the hybrid, "
        "which `cartwise train` trains).",
    )
    parser.add_argument("--db", type=Path, default=None, help="Store to reuse (built there if missing).")
    args = parser.parse_args()
    seconds = min(args.seconds, 60.0)
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "shop.duckdb"
        key, users, items, timings = prepare(db, args.users, args.items, args.days, args.model)
        rng = random.Random(7)
        no_log = "&log=false" if args.no_impressions else ""
        paths = []
        for i in range(20_000):
            roll = rng.random()
            if roll < 0.8:
                paths.append(f"/api/v1/recommendations/{rng.choice(users)}?n=10{no_log}")
            elif roll < 0.9:
                paths.append(f"/api/v1/recommendations/visitor-{i}?n=10{no_log}")
            else:
                paths.append(f"/api/v1/items/{rng.choice(items)}/similar?n=10")
        env = {"CARTWISE_MEMORY_LIMIT": "2GB", "CARTWISE_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        env["CARTWISE_RECS_OPTIONS"] = json.dumps({"offline_models": []})
        log_path = Path(tmp) / "server.log"
        started = time.perf_counter()
        with ServerProcess(db, log_path=log_path, env=env) as server:
            timings["server start s"] = time.perf_counter() - started  # includes loading the model
            host, port = server.host, server.port
            asyncio.run(run_rate(host, port, key, paths[-200:], 50, 4))  # warm-up
            if args.wait_batch_scoring:
                waited = time.perf_counter()
                while time.perf_counter() - waited < args.wait_batch_scoring:
                    done, total = scored(server.url, key)
                    if done >= total:
                        break
                    time.sleep(2)
            rows = []
            for rate in rates:
                row = asyncio.run(run_rate(host, port, key, paths, rate, seconds))
                row["scored"] = scored(server.url, key)[0]
                rows.append(row)
    print(
        f"\nRecommendation serving: {args.users:,} customers x {args.items:,} items, "
        f"{timings['events']:,} events, {seconds:.0f} s per rate, loopback, 1 server process"
    )
    print("  " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items() if k != "events"))
    print(
        f"\n| {'target/s':>8} | {'achieved/s':>10} | {'requests':>8} | {'errors':>6} | {'p50 ms':>7} | "
        f"{'p90 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'batch-scored users':>18} |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['rate']:>8.0f} | {r['achieved']:>10.1f} | {r['requests']:>8,} | {r['errors']:>6} | "
            f"{r['p50']:>7.1f} | {r['p90']:>7.1f} | {r['p99']:>7.1f} | {r['max']:>7.1f} | {r['scored']:>18,} |"
        )


if __name__ == "__main__":
    main()
