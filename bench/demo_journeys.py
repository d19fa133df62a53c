"""Benchmark: how soon `cartwise demo`'s journeys send, on the replay's clock.

Runs the real `cartwise demo` (build, apply the built-in journeys, serve, replay the last
simulated day 24 times faster, e-mail to the demo's local SMTP sink) in a child process, polls
`GET /api/v1/journeys/NAME` with the printed admin key every `--every` seconds, and prints,
from the moment the dashboard is up, the journeys' runs and their sends (sent, skipped by
reason). Ends the demo with SIGTERM (by pid) after `--seconds` and prints the sink's count.
The replay begins at the current time of day, so figures depend on when it runs (the
simulated shop's traffic by hour: night 4% of a day, evening peak).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/demo_journeys.py [--users 20000] [--seconds 300] [--train]

Target (issue 22, "Done when"): journey e-mails at the sink within the demo's first ~2-3 minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from cartwise.campaigns import builtin_journey_names
from cartwise.service.server_process import free_port


def _sends(url: str, key: str) -> tuple[Counter[str], Counter[str]]:
    """(runs by state, send outcomes: sent, held, skipped:REASON) summed over the built-in journeys."""
    runs: Counter[str] = Counter()
    sends: Counter[str] = Counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for name in builtin_journey_names():
            response = client.get(f"/api/v1/journeys/{name}")
            if response.status_code != 200:
                continue  # not applied (win-back needs --train)
            for version in response.json()["versions"]:
                runs.update(version["runs"])
                for step in version["steps"]:  # the steps' outcomes (entry skips are runs, not here)
                    sends.update(
                        {
                            k: n
                            for k, n in step["counts"].items()
                            if k in ("sent", "held") or k.startswith("skipped:")
                        }
                    )
    return runs, sends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--every", type=float, default=15)
    parser.add_argument("--train", action="store_true", help="train too, as `make demo` does (minutes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        err_path = Path(tmp) / "demo.err"
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "cartwise",
            "demo",
            "--db",
            str(Path(tmp) / "demo.duckdb"),
            "--port",
            str(port),
            "--users",
            str(args.users),
            "--items",
            str(args.items),
            "--days",
            str(args.days),
            "--train" if args.train else "--no-train",
        ]
        began = time.monotonic()
        with open(err_path, "w") as err:
            child = subprocess.Popen(
                command, stdout=err, stderr=err, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}
            )
        try:
            key = None
            while key is None:
                time.sleep(0.5)
                if child.poll() is not None:
                    sys.exit(f"the demo ended early:\n{err_path.read_text()[-2000:]}")
                found = re.search(r"admin key \(shown once\): (\S+)", err_path.read_text())
                key = found.group(1) if found else None
            up = time.monotonic()
            print(
                f"demo {args.users:,} customers, {args.days} days, built in {up - began:.0f} s; replay from "
                f"{datetime.now(UTC):%H:%M} UTC\n"
            )
            print("| s after the dashboard is up | runs waiting | runs done | runs exited | sent | skipped |")
            print("|---:|---:|---:|---:|---:|---|")
            first_sent = None
            while time.monotonic() - up < args.seconds:
                time.sleep(args.every)
                runs, sends = _sends(f"http://127.0.0.1:{port}", key)
                at = time.monotonic() - up
                if first_sent is None and sends["sent"]:
                    first_sent = at
                skipped = ", ".join(
                    f"{k.removeprefix('skipped:')} {n}" for k, n in sorted(sends.items()) if k != "sent"
                )
                print(
                    f"| {at:.0f} | {runs['waiting']} | {runs['done']} | {runs['exited']} | {sends['sent']} | {skipped} |"
                )
        finally:
            child.send_signal(signal.SIGTERM)
            child.wait(60)
        sink = re.search(r"The demo's journeys sent (\d+) e-mails", err_path.read_text())
        print(
            f"\nfirst journey message sent within {first_sent:.0f} s of the dashboard being up"
            if first_sent is not None
            else "\nno journey message sent"
        )
        print(f"messages at the demo's SMTP sink: {sink.group(1) if sink else 'unknown'}")


if __name__ == "__main__":
    main()
