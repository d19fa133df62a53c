"""Seconds per step of `cartwise train` (`train_all`) on a demo shop, uplift included.

Builds the demo shop (with its past randomised e-mail campaign) in a temporary store and runs
`train_all`, timing each step from the progress messages; prints one row per step and the share
of the whole that each takes, so the cost of the uplift step is visible.

    OPENBLAS_NUM_THREADS=1 python bench/train_steps.py [--users 20000] [--items 2000] [--days 365] [--seed 42]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo, demo_config
from cartwise.pipelines.train import train_all
from cartwise.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.duckdb"
        with open_store(db, settings=get_settings(db=db, memory_limit="4GB", threads=2)) as store:
            started = time.perf_counter()
            build_demo(store, demo_config(seed=args.seed, users=args.users, items=args.items, days=args.days))
            print(
                f"demo shop ({args.users:,} customers, {args.items:,} items, {args.days} days, seed {args.seed}) "
                f"built in {time.perf_counter() - started:.1f} s"
            )
            marks: list[tuple[str, float]] = []

            def mark(message: str) -> None:
                if marks:  # the step before this one is done
                    print(f"  {marks[-1][0]}: {time.perf_counter() - marks[-1][1]:.1f} s", flush=True)
                marks.append((message.removeprefix("training "), time.perf_counter()))

            report = train_all(store, progress=mark)
            marks.append(("end", time.perf_counter()))
            scored = store.con.execute("SELECT count(uplift), count(*) FROM profiles").fetchall()[0]
    total = marks[-1][1] - marks[0][1]
    print("\n| step | seconds | share |\n|---|---:|---:|")
    for (name, t0), (_, t1) in itertools.pairwise(marks):
        print(f"| {name} | {t1 - t0:.1f} | {(t1 - t0) / total:.0%} |")
    print(f"| total | {total:.1f} | 100% |")
    errors = {k: v["error"] for k, v in report.items() if isinstance(v, dict) and "error" in v}
    print(f"\nprofiles with an uplift: {scored[0]:,} of {scored[1]:,}; failed parts: {errors or 'none'}")


if __name__ == "__main__":
    main()
