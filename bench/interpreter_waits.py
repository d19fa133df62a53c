"""How long a thread waits for Python's interpreter while a funnel runs on a reader thread.

The collector's threads (event loop, validation, log, writer) each need the interpreter lock
for every request. A dashboard read builds its queries in Python (an Ibis expression tree, 20-30
ms of a funnel at 10M events), and while it does, a thread asking for the lock gets it only
when the reader's time slice ends: Python's switch interval, 5 ms by default, which
`cartwise serve` sets with `switch_interval_ms`. This runs the server's own read path (a
`StoreGate` snapshot on a `ReaderPool` thread in the idle scheduling class) looping
`GET /api/v1/analytics/funnel`'s view over a store of `--events` events (the store of
bench/store_reads.py), while another thread asks for the lock every millisecond (a 1 ms
sleep): each tick's length is 1 ms plus its wait. For each switch interval it prints the ticks'
percentiles alone and with the funnel loop, and how many waited more than 5 and 20 ms.

A second table times the collector writer's merge of 262,144 recent id hashes into the sorted
hashes of `--events` ids (`StoredIds` in ingest), the old way (an array built from the dict of
recent hashes) against the present one (from the batches' hash arrays), with the longest tick
of a thread asking for the interpreter meanwhile, three times each.

    .venv/bin/python bench/interpreter_waits.py [--events 10000000] [--seconds 10]
        [--switch-ms 5,1] [--cache DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cartwise.cli.serve import keep_freed_memory

keep_freed_memory()  # as `cartwise serve` does, before DuckDB and Arrow are imported

import numpy as np  # noqa: E402

from cartwise.core.settings import get_settings  # noqa: E402
from cartwise.ingest import StoredIds  # noqa: E402
from cartwise.ingest.insert import merge_hashes  # noqa: E402
from cartwise.pages import analytics as views  # noqa: E402
from cartwise.service.gate import StoreGate  # noqa: E402
from cartwise.service.readers import ReaderPool  # noqa: E402
from cartwise.service.service import open_ready_store  # noqa: E402
from store_reads import build  # noqa: E402  (bench/store_reads.py)


@contextmanager
def ticking() -> Iterator[list[float]]:
    """While the block runs, a thread asks for the interpreter every millisecond (a 1 ms sleep);
    yields the list of its ticks' lengths in ms, filled when the block ends."""
    lengths: list[float] = []
    done = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            lengths.append((now - last) * 1e3)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        yield lengths
    finally:
        done.set()
        ticker.join()


def merge_waits(stored: int, recent: int = StoredIds.MERGE_AT, batch: int = 100) -> None:
    """The writer's merge, from the dict and from the arrays (`merge_hashes`), with the longest
    tick meanwhile (at the server's switch interval)."""
    sys.setswitchinterval(get_settings().switch_interval_ms / 1000)
    rng = np.random.default_rng(0)
    ordered = np.sort(rng.integers(0, 2**63, stored, dtype=np.int64).astype(np.uint64))
    arrays = np.array_split(rng.integers(0, 2**63, recent, dtype=np.int64).astype(np.uint64), recent // batch)
    as_dict = dict.fromkeys(np.concatenate(arrays).tolist())
    ways = {
        "from the dict (before)": lambda: merge_hashes(
            ordered, [np.fromiter(as_dict, np.uint64, len(as_dict))]
        ),
        "from the arrays (now)": lambda: merge_hashes(ordered, arrays),
    }
    print(
        f"\n{'merge of ' + format(recent, ',') + ' into ' + format(stored, ','):40s} {'ms':>7s} {'longest tick ms':>16s}"
    )
    for name, way in ways.items():
        for _ in range(3):
            with ticking() as lengths:
                time.sleep(0.05)
                began = time.perf_counter()
                way()  # the merged array is freed here too, as the server frees the one it replaces
                took = (time.perf_counter() - began) * 1e3
                time.sleep(0.05)
            print(f"{name:40s} {took:7.1f} {max(lengths):16.1f}")


def row(label: str, lengths: list[float], funnels: str = "") -> str:
    ordered = sorted(lengths)
    n = len(ordered)
    over5 = sum(t > 5 for t in ordered)
    over20 = sum(t > 20 for t in ordered)
    return (
        f"{label:28s} {n:7,d} {ordered[n // 2]:7.2f} {ordered[int(n * 0.99)]:7.2f} "
        f"{ordered[int(n * 0.999)]:7.2f} {ordered[-1]:7.1f} {over5:6d} {over20:6d}  {funnels}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--switch-ms", default="5,1", help="switch intervals to try, in ms, comma-separated")
    parser.add_argument("--cache", type=Path, default=None, help="keep and reuse the built store here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.duckdb"
        build(db, args.events, args.cache)
        settings = get_settings(db=db, memory_limit="4GB", threads=1)
        with open_ready_store(settings) as store:
            gate = StoreGate(store, read_timeout=600)
            readers = ReaderPool(nice=settings.reader_nice, idle=settings.reader_idle)

            def funnel() -> None:
                with gate.read(narrow="start") as view:
                    views.funnel_view(view)

            readers.run(funnel)  # warm: imports, DuckDB's caches, the compiled SQL
            print(
                f"{'phase':28s} {'ticks':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'p99.9':>7s} {'max':>7s} "
                f"{'> 5ms':>6s} {'> 20ms':>6s}  funnels"
            )
            for switch_ms in [float(v) for v in args.switch_ms.split(",")]:
                sys.setswitchinterval(switch_ms / 1000)
                with ticking() as lengths:
                    time.sleep(args.seconds)
                print(row(f"switch {switch_ms:g} ms, alone", lengths))
                stop = threading.Event()
                took: list[float] = []

                def loop(stop: threading.Event = stop, took: list[float] = took) -> None:
                    while not stop.is_set():
                        began = time.perf_counter()
                        readers.run(funnel)
                        took.append(time.perf_counter() - began)

                looping = threading.Thread(target=loop)
                looping.start()
                with ticking() as lengths:
                    time.sleep(args.seconds)
                stop.set()
                looping.join()
                each = f"{len(took)} ({min(took):.2f}-{max(took):.2f} s)" if took else "none"
                print(row(f"switch {switch_ms:g} ms, funnel loop", lengths, each))
            readers.stop()
    merge_waits(args.events)


if __name__ == "__main__":
    main()
