"""The collector's recent ids and the id indexes' recent hashes: the longest single add, and what
they add to a full garbage collection.

The collector adds each request's 100 ids on its log thread, and a full collection stops every
thread of the server; both run while acknowledgements wait. Feeds `--ids` ids (UUID-like text)
in requests of 100, as the collector does at steady state, to:
- the old recent set: one OrderedDict of up to 1,000,000, the oldest popped;
- `RecentIds` (generations of plain dicts, 262,144 kept);
- the old index set of 262,144 integer hashes, and the dict of them that replaced it;
and reports the slowest add of one request, and `gc.collect()` with the structure alive
against the same collection without it (`--repeat` times, the median).

    .venv/bin/python bench/recent_ids.py [--ids 3000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cartwise.service.recent_ids import RecentIds
from cartwise.service.seen_ids import StoredIdIndex

OLD_RECENT_MAX = 1_000_000
HASHES = StoredIdIndex.MERGE_AT


def old_recent() -> tuple[Any, Callable[[list[str]], None]]:
    recent: OrderedDict[str, None] = OrderedDict()

    def add(ids: list[str]) -> None:
        for event_id in ids:
            recent[event_id] = None
        while len(recent) > OLD_RECENT_MAX:
            recent.popitem(last=False)

    return recent, add


def new_recent() -> tuple[Any, Callable[[list[str]], None]]:
    recent = RecentIds(262_144)
    return recent, recent.add


def worst_add(add: Callable[[list[str]], None], ids: list[str]) -> float:
    """Milliseconds of the slowest add of 100 ids."""
    worst = 0.0
    for start in range(0, len(ids), 100):
        began = time.perf_counter()
        add(ids[start : start + 100])
        worst = max(worst, time.perf_counter() - began)
    return worst * 1000


def collection_ms(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=3_000_000, help="ids fed, in requests of 100")
    parser.add_argument("--repeat", type=int, default=5, help="full collections timed per structure")
    args = parser.parse_args()
    ids = [uuid.uuid4().hex for _ in range(args.ids)]
    hashes = [hash(i) for i in ids[:HASHES]]
    gc.collect()
    gc.freeze()  # the server freezes its long-lived objects too: only the structure is walked
    empty = collection_ms(args.repeat)
    print(f"{'structure':<52} {'ids held':>10} {'worst add of 100 ms':>20} {'full collection ms':>19}")
    print(f"{'(nothing)':<52} {0:>10,} {'':>20} {empty:>19.1f}")
    for name, make in (
        ("recent ids, before: one OrderedDict of up to 1,000,000", old_recent),
        ("recent ids, now: RecentIds, dicts of 32,768", new_recent),
    ):
        held, add = make()
        worst = worst_add(add, ids)
        print(f"{name:<52} {len(held):>10,} {worst:>20.1f} {collection_ms(args.repeat):>19.1f}")
        del held, add
    kinds: tuple[tuple[str, Callable[[list[int]], Any]], ...] = (
        ("index hashes, before: a set", set),
        ("index hashes, now: a dict", dict.fromkeys),
    )
    for name, build in kinds:  # one alive at a time
        held = build(hashes)
        print(f"{name:<52} {len(held):>10,} {'':>20} {collection_ms(args.repeat):>19.1f}")
        del held


if __name__ == "__main__":
    main()
