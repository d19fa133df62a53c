"""The event ids the collector acknowledged most recently, known exactly.

The collector drops an event whose id it acknowledged a moment ago (a phone retrying after a
lost answer) without logging it again. Older ids are covered by the stored-id index, whose
hits are logged and left to the writer's exact check (see the collector's module), so this
only needs the last few seconds, and it must never stall the log thread.

It was one OrderedDict of a million ids, the oldest popped as new ones arrived, and that
stalled the whole server twice over (both seen as 100-300 ms gaps in the collector's answers
at 20,000 events/s, BENCHMARKS.md "Reads beside the writer"):
- a dict whose popped entries leave slots behind rehashes every live entry when the slots
  run out: ~150 ms holding the interpreter for a million ids;
- the garbage collector walks every entry of a set or an OrderedDict at each full
  collection (every few seconds in the server): 50-150 ms for the million.
So it is a few plain dicts, a generation each, of `GENERATION` ids at most: a dict only grows
(its largest rehash is of fewer than `GENERATION` ids, about a millisecond), the oldest is
dropped whole, and a plain dict holding only strings is not tracked by the garbage collector
(bench/recent_ids.py times both).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

GENERATION = 32_768
"""Ids per generation: the most one dict holds, and so the most one rehash walks."""


class RecentIds:
    """The newest `capacity` ids at least (rounded up to whole generations), one generation more at most."""

    def __init__(self, capacity: int, generation: int = GENERATION) -> None:
        self.generation = max(1, min(generation, capacity))
        self.generations = max(1, -(-capacity // self.generation))
        self._dicts: deque[dict[str, None]] = deque([{}])

    def __contains__(self, event_id: str) -> bool:
        return any(event_id in ids for ids in self._dicts)

    def __len__(self) -> int:
        return sum(map(len, self._dicts))

    def add(self, ids: Iterable[str]) -> None:
        """Remember `ids`; the oldest generation goes whole once the others hold the capacity."""
        ids = list(ids)
        start = 0
        while start < len(ids):
            newest = self._dicts[-1]
            room = self.generation - len(newest)
            newest.update(dict.fromkeys(ids[start : start + room]))  # one call in C for what fits
            start += room
            if len(newest) >= self.generation:
                self._dicts.append({})
                if len(self._dicts) > self.generations + 1:  # full ones, and the one filling
                    self._dicts.popleft()

    def replace(self, ids: Iterable[str]) -> None:
        """Forget everything, then remember `ids` (the newest of them, up to the capacity)."""
        self._dicts = deque([{}])
        self.add(ids)
