"""Demo shop benchmark: time `cartwise demo --no-serve` end to end (simulate, write, derive orders).

Each size runs in a fresh process against a fresh store, so peak memory (max RSS) is that
run's alone. Prints a table; BENCHMARKS.md records the figures.

    python bench/demo.py                      # the default shop (20,000 customers, 2,000 items, 365 days)
    python bench/demo.py --scale 0.25 --scale 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cartwise.simulate import ShopConfig

CHILD = """
import json, resource, sys, time, io, contextlib
from cartwise.cli import main
out = io.StringIO()
began = time.perf_counter()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        if exc.code:
            raise
seconds = time.perf_counter() - began
counts = json.loads(out.getvalue())
counts["seconds"] = seconds
counts["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(counts))
"""


def run(users: int, items: int, days: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.duckdb"
        args = [
            "demo",
            "--no-serve",
            "--json",
            "--db",
            str(db),
            "--seed",
            str(seed),
            "--users",
            str(users),
            "--items",
            str(items),
            "--days",
            str(days),
        ]
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *args], check=True, capture_output=True, text=True
        )
        return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, action="append", help="Multiply the default users and items (repeatable)."
    )
    parser.add_argument("--days", type=int, default=ShopConfig().days, help="Simulated days.")
    parser.add_argument("--seed", type=int, default=42, help="Random seed.")
    opts = parser.parse_args()
    defaults = ShopConfig()
    print(
        f"{'users':>8} {'items':>6} {'days':>5} {'events':>10} {'orders':>8} {'seconds':>8} {'events/s':>10} {'peak RSS MB':>12}"
    )
    for scale in opts.scale or [1.0]:
        users, items = round(defaults.users * scale), max(20, round(defaults.items * scale))
        r = run(users, items, opts.days, opts.seed)
        print(
            f"{users:>8,} {items:>6,} {opts.days:>5} {r['events']:>10,} {r['orders']:>8,} {r['seconds']:>8.1f} "
            f"{r['events'] / r['seconds']:>10,.0f} {r['rss_mb']:>12,.0f}"
        )


if __name__ == "__main__":
    main()
