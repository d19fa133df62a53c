"""Every event id the store holds, as 64-bit hashes, so the collector's ack can count repeats.

A phone may send a batch hours or days late, or again after a lost answer, and the collector
must answer `duplicates` truly: an event whose `event_id` is already stored is a duplicate
whatever its time. Asking DuckDB would scan every stored id (1.5 s for 100 ids at 10M
events, `event_id` having no index); this index answers from memory. A hit means stored
but for a 64-bit hash collision, which the collector's writer catches (see the collector's
module). It holds a sorted array of Python string hashes (8 bytes per stored event), a set of
those added since, and in front of both a bitmap of 16 bits per id: a new id misses the
bitmap 15 times in 16, which spares the binary search over the array (its cache misses cost
~3 us per id at 10M ids). Python's string hash is salted per process, so the index is built
at start from the store and lives only as long as the process. An id acknowledged but not
yet stored is known exactly from the collector's recent set (as large as its backlog limit).
"""

from __future__ import annotations

import numpy as np

from cartwise.store import Store

_EMPTY = np.empty(0, np.int64)
_MIN_BITS = 1 << 20


def _hashes(ids: list[str]) -> np.ndarray:
    return np.fromiter(map(hash, ids), np.int64, len(ids))


class StoredIdIndex:
    """Hashes of every stored event id plus those acknowledged since the index was built."""

    MERGE_AT = 262_144
    """Hashes kept in a set before they are merged into the sorted array."""
    BITS_PER_ID = 16

    def __init__(self) -> None:
        self._sorted = _EMPTY
        self._added: set[int] = set()
        self._mask = _MIN_BITS - 1
        self._bitmap = np.zeros(_MIN_BITS // 8, np.uint8)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._added)

    @property
    def nbytes(self) -> int:
        """Memory held by the sorted array and the bitmap (the set of recent hashes adds ~60 bytes each)."""
        return int(self._sorted.nbytes + self._bitmap.nbytes)

    def build(self, store: Store, batch_rows: int = 1_000_000) -> int:
        """Index every `event_id` in `store` (streamed in batches); returns how many."""
        reader = store.con.sql("SELECT event_id FROM events").to_arrow_reader(batch_rows)
        parts = [_hashes(batch.column(0).to_pylist()) for batch in reader]
        hashes = np.concatenate(parts) if parts else _EMPTY.copy()
        del parts
        hashes.sort()  # in place: no third copy at 8 bytes per id
        self._sorted = hashes
        self._added = set()
        self._rebuild_bitmap()
        return len(self._sorted)

    def _rebuild_bitmap(self) -> None:
        bits = _MIN_BITS
        while bits < self.BITS_PER_ID * len(self):
            bits *= 2
        self._mask = bits - 1
        self._bitmap = np.zeros(bits // 8, np.uint8)
        self._mark(self._sorted)
        if self._added:
            self._mark(np.fromiter(self._added, np.int64, len(self._added)))

    def _mark(self, hashes: np.ndarray) -> None:
        slots = hashes & self._mask
        np.bitwise_or.at(self._bitmap, slots >> 3, (1 << (slots & 7)).astype(np.uint8))

    def maybe_stored(self, ids: list[str]) -> list[str]:
        """The ids of `ids` whose hash is indexed: stored unless a hash collides; the rest surely not."""
        if not ids:
            return []
        hashes = _hashes(ids)
        slots = hashes & self._mask
        candidates = np.flatnonzero((self._bitmap[slots >> 3] >> (slots & 7)) & 1)
        if not len(candidates):
            return []
        found = []
        for i in candidates.tolist():  # a few: one new id in 16, plus the real repeats
            h = int(hashes[i])
            if h in self._added:
                found.append(ids[i])
                continue
            at = int(np.searchsorted(self._sorted, h))
            if at < len(self._sorted) and self._sorted[at] == h:
                found.append(ids[i])
        return found

    def add(self, ids: list[str]) -> None:
        """Index ids that are now acknowledged (stored soon, or dropped as stored by the writer)."""
        hashes = _hashes(ids)
        self._added.update(hashes.tolist())
        self._mark(hashes)
        if len(self._added) >= self.MERGE_AT:
            added = np.sort(np.fromiter(self._added, np.int64, len(self._added)))
            # A linear merge of the two sorted arrays, not a sort of both: this runs on the log
            # thread, in every ack's path, and sorting 10M hashes again held up every answer
            # for ~1 s per merge (bench/collector_ids.py's `merge` column).
            self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, added), added)
            self._added = set()
            if self.BITS_PER_ID * len(self._sorted) > 2 * (self._mask + 1):
                self._rebuild_bitmap()  # keep misses at ~1 in 8 or better as the store grows
