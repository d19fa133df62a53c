"""Sign-in abuse against a real `cartwise serve`: the limits, the hashing cap, equal cost of names.

Three bounded phases on a fresh temporary store with one user, `alice`:

1. the probe from the security review: 50 wrong passwords for `alice` from one address, then
   the right one (before the limits: all 401, then 200);
2. a flood of sign-ins with a fresh user name and a fresh client address each (`X-Forwarded-For`,
   trusted from 127.0.0.1), so neither limit applies: only the hashing cap bounds the work.
   "server CPU / wall" is the server's CPU time (all threads, from /proc) over the phase's
   wall time, i.e. the cores the flood keeps busy;
3. in process, the time of a failed check for a known and an unknown user name.

    .venv/bin/python bench/signin.py [--flood 120] [--threads 16] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from cartwise.core.settings import get_settings
from cartwise.service import keys as keys_job
from cartwise.service.server_process import ServerProcess
from cartwise.store import open_store

PASSWORD = "correct horse battery staple"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_local = threading.local()


def attempt(url: str, address: str, username: str, password: str) -> tuple[int, float]:
    """One sign-in POST (timed) on this thread's keep-alive client; the form token comes from the
    previous answer, which renders the form again."""
    c = getattr(_local, "client", None)
    if c is None or c.base_url != httpx.URL(url):
        c = _local.client = httpx.Client(base_url=url, timeout=60)
        _local.page = c.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', _local.page)
    assert token
    started = time.perf_counter()
    response = c.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
        headers={"X-Forwarded-For": address},
    )
    elapsed = (time.perf_counter() - started) * 1000
    _local.page = response.text if response.status_code != 303 else c.get("/login").text
    return response.status_code, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=120, help="sign-in attempts in phase 2")
    parser.add_argument("--threads", type=int, default=16, help="concurrent clients in phase 2")
    parser.add_argument("--concurrency", type=int, default=2, help="the login_hash_concurrency setting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.duckdb"
        settings = get_settings(db=db, memory_limit="512MB", threads=1)
        with open_store(db, settings=settings) as store:
            keys_job.add_user(store, "alice", PASSWORD)
        env = {
            "CARTWISE_MEMORY_LIMIT": "512MB",
            "CARTWISE_THREADS": "1",
            "CARTWISE_LOG_LEVEL": "WARNING",
            "CARTWISE_LOGIN_HASH_CONCURRENCY": str(args.concurrency),
        }
        with ServerProcess(db, log_path=Path(tmp) / "server.log", env=env) as server:
            started = time.perf_counter()
            probe = Counter(attempt(server.url, "10.0.0.1", "alice", f"wrong-{i}")[0] for i in range(50))
            right, _ = attempt(server.url, "10.0.0.1", "alice", PASSWORD)
            probe_seconds = time.perf_counter() - started
            print("| phase | attempts | answers | wall s |")
            print("|---|---:|---|---:|")
            answers = ", ".join(f"{n} x {code}" for code, n in sorted(probe.items()))
            print(f"| 50 wrong passwords for alice, one address | 50 | {answers} | {probe_seconds:.1f} |")
            print(f"| then the right password | 1 | {right} | |")

            cpu0, wall0 = cpu_seconds(server.pid), time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                results = list(
                    pool.map(
                        lambda i: attempt(server.url, f"10.9.{i // 250}.{i % 250}", f"user-{i}", "guess"),
                        range(args.flood),
                    )
                )
            wall = time.perf_counter() - wall0
            cpu = cpu_seconds(server.pid) - cpu0
            codes = Counter(code for code, _ in results)
            latencies = sorted(ms for _, ms in results)
            p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            print()
            print(
                "| flood | attempts | answers | wall s | attempts/s | server CPU / wall | p50 ms | p99 ms |"
            )
            print("|---|---:|---|---:|---:|---:|---:|---:|")
            answers = ", ".join(f"{n} x {code}" for code, n in sorted(codes.items()))
            print(
                f"| {args.threads} clients, new name and address each, cap {args.concurrency} | {args.flood} "
                f"| {answers} | {wall:.1f} | {args.flood / wall:.1f} | {cpu / wall:.2f} "
                f"| {statistics.median(latencies):.0f} | {p99:.0f} |"
            )

        with open_store(db, settings=settings) as store:
            timings: dict[str, list[float]] = {"known name, wrong password": [], "unknown name": []}
            for _ in range(20):
                for label, name in (("known name, wrong password", "alice"), ("unknown name", "mallory")):
                    t0 = time.perf_counter()
                    assert not keys_job.verify_user(store, name, "wrong password")
                    timings[label].append((time.perf_counter() - t0) * 1000)
        print()
        print("| failed check (in process, 20 each) | median ms | min ms | max ms |")
        print("|---|---:|---:|---:|")
        for label, values in timings.items():
            print(f"| {label} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")


if __name__ == "__main__":
    main()
