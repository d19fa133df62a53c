"""Benchmark: how long the `cartwise` command takes before it does any work.

Runs `python -m cartwise ...` in fresh processes, N times each, and prints the fastest and the
median wall time and CPU time (user + system: what the run costs when it has to wait for a core
on a busy machine) of: `cartwise --help`, every `cartwise COMMAND --help`, and a no-op run of
every command, one that stops with an error before any real work (a missing --db store or a
missing input file). The no-op shows a command's fixed cost: start-up plus what it imports
before it can tell the input is missing. `serve` has no no-op: it starts a server. Then reads
of an empty store (lists and shows): what a command that only reads rows pays.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/cli_startup.py [--repeat 5] [--only help|noop]

What one import costs: `python -X importtime -c "import cartwise.cli" 2>&1 | sort -t'|' -k2 -n | tail`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (
    "demo",
    "ingest",
    "db",
    "events",
    "schema",
    "recs",
    "clv",
    "profiles",
    "segments",
    "audiences",
    "customers",
    "train",
    "forecast",
    "serve",
    "keys",
    "users-admin",
    "churn",
    "analytics",
    "basket",
    "demand",
    "experiments",
    "uplift",
    "campaigns",
    "journeys",
)


def noop_runs(tmp: Path) -> list[tuple[str, list[str], bool]]:
    """(label, arguments, whether the run must fail) of one early-stopping run per command."""
    missing_db = ["--db", str(tmp / "missing" / "none.duckdb")]
    missing = str(tmp / "missing.csv")
    fresh = ["--db", str(tmp / "fresh.duckdb")]  # keys and users are created in a new store
    clv_args = ["--transactions", missing, "--customer-col", "c", "--date-col", "d", "--amount-col", "a"]
    return [
        ("demo --users 1 (invalid)", ["demo", "--users", "1", "--no-serve", *missing_db], True),
        ("ingest events MISSING", ["ingest", "events", missing, *fresh], True),
        ("db info (no store)", ["db", "info", *missing_db], True),
        ("schema", ["schema"], False),
        (
            "recs fit (no file)",
            [
                "recs",
                "fit",
                "--interactions",
                missing,
                "--user-col",
                "u",
                "--item-col",
                "i",
                "--out",
                str(tmp / "m"),
            ],
            True,
        ),
        ("clv fit (no file)", ["clv", "fit", *clv_args, "--calibration-end", "2024-01-01"], True),
        ("profiles show (no store)", ["profiles", "show", "u1", *missing_db], True),
        ("segments list (no store)", ["segments", "list", *missing_db], True),
        ("train (no store)", ["train", *missing_db], True),
        ("forecast (no file)", ["forecast", missing, "--out", str(tmp / "f.csv")], True),
        ("keys list (new store)", ["keys", "list", *fresh], False),
        ("users-admin list (new store)", ["users-admin", "list", *fresh], False),
        # Reads of the (empty) store those two made: rows, not models, so no scikit-learn or Ibis.
        ("segments list (empty store)", ["segments", "list", *fresh], False),
        ("profiles show (empty store)", ["profiles", "show", "u1", *fresh], True),
        ("audiences list (empty store)", ["audiences", "list", *fresh], False),
        ("journeys list (empty store)", ["journeys", "list", *fresh], False),
        ("campaigns list (empty store)", ["campaigns", "list", *fresh], False),
        ("experiments list (empty store)", ["experiments", "list", *fresh], False),
        ("churn score (no store)", ["churn", "score", *missing_db], True),
        ("analytics kpis (no store)", ["analytics", "kpis", *missing_db], True),
        ("basket rules (no store)", ["basket", "rules", *missing_db], True),
        ("demand build (no store)", ["demand", "build", *missing_db], True),
        ("experiments analyze (no file)", ["experiments", "analyze", "--summary", missing], True),
        ("experiments list (no store)", ["experiments", "list", *missing_db], True),
        (
            "experiments create (no store)",
            ["experiments", "create", "k", "--variants", "control:0.5,treatment:0.5", *missing_db],
            True,
        ),
        ("experiments power (no design)", ["experiments", "power", "--mde", "0.05"], True),
        ("audiences list (no store)", ["audiences", "list", *missing_db], True),
        ("customers export (no store)", ["customers", "export", "u1", *missing_db], True),
        ("events delete (no store)", ["events", "delete", "--user", "u1", *missing_db], True),
        ("uplift fit (no store)", ["uplift", "fit", "--campaign", "c", *missing_db], True),
        ("campaigns list (no store)", ["campaigns", "list", *missing_db], True),
        ("journeys list (no store)", ["journeys", "list", *missing_db], True),
        ("journeys validate (no file)", ["journeys", "validate", missing], True),
        (
            "recs evaluate (no file)",
            ["recs", "evaluate", "--interactions", missing, "--user-col", "u", "--item-col", "i"],
            True,
        ),
        (
            "forecast reorder (no file)",
            [
                "forecast",
                "reorder",
                "--forecast",
                missing,
                "--stock",
                missing,
                "--lead-time",
                "2",
                "--out",
                str(tmp / "r.csv"),
            ],
            True,
        ),
    ]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(args: list[str], repeat: int, must_fail: bool) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (user + system) of each run. On a busy machine the wall time
    includes waiting for a core; the CPU time is what the run itself costs."""
    times, cpu = [], []
    for _ in range(repeat):
        started, cpu_before = time.perf_counter(), _cpu()
        done = subprocess.run([sys.executable, "-m", "cartwise", *args], capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        cpu.append(_cpu() - cpu_before)
        if (done.returncode != 0) != must_fail or done.returncode not in (0, 1, 2):
            raise SystemExit(f"`cartwise {' '.join(args)}` exited {done.returncode}:\n{done.stderr[-2000:]}")
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Runs per case.")
    parser.add_argument("--only", choices=["help", "noop"], default=None, help="Time only one kind of case.")
    parser.add_argument(
        "--commands", default=None, help="Comma-separated commands whose --help to time [default: all]."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, list[str], bool]] = []
        if args.only != "noop":
            cases += [("--help", ["--help"], False)]
            chosen = args.commands.split(",") if args.commands else COMMANDS
            cases += [(f"{command} --help", [command, "--help"], False) for command in chosen]
        if args.only != "help":
            cases += noop_runs(Path(tmp))
        print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(
            f"{'cartwise ...':<32}{'wall min':>9}{'median':>8}{'CPU min':>9}{'median':>8}   (s, {args.repeat} runs each)"
        )
        for label, command, must_fail in cases:
            times, cpu = timed(command, args.repeat, must_fail)
            print(
                f"{label:<32}{min(times):>9.2f}{statistics.median(times):>8.2f}"
                f"{min(cpu):>9.2f}{statistics.median(cpu):>8.2f}",
                flush=True,
            )
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
