"""Every event id the store holds, as 64-bit hashes, so the collector's ack can count repeats.

A phone may send a batch hours or days late, or again after a lost answer, and the collector
must answer `duplicates` truly: an event whose `event_id` is already stored is a duplicate
whatever its time. Asking DuckDB on every request would cost a query per request group;
this index answers "maybe stored" from memory (a sorted array of Python string hashes,
8 bytes per stored event, plus a set of those added since), and only a maybe is checked
against the store. Python's string hash is salted per process, so the index is built at
start from the store and lives only as long as the process. An id acknowledged but not yet
stored is known exactly from the collector's recent set (as large as its backlog limit).
"""

from __future__ import annotations

import numpy as np

from cartwise.store import Store

_EMPTY = np.empty(0, np.int64)


def _hashes(ids: list[str]) -> np.ndarray:
    return np.fromiter(map(hash, ids), np.int64, len(ids))


class StoredIdIndex:
    """Hashes of every stored event id plus those acknowledged since the index was built."""

    MERGE_AT = 262_144
    """Hashes kept in a set before they are merged into the sorted array."""

    def __init__(self) -> None:
        self._sorted = _EMPTY
        self._added: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._added)

    @property
    def nbytes(self) -> int:
        """Memory held by the sorted array (the set of recent hashes adds ~60 bytes each)."""
        return int(self._sorted.nbytes)

    def build(self, store: Store, batch_rows: int = 1_000_000) -> int:
        """Index every `event_id` in `store` (streamed in batches); returns how many."""
        reader = store.con.sql("SELECT event_id FROM events").to_arrow_reader(batch_rows)
        parts = [_hashes(batch.column(0).to_pylist()) for batch in reader]
        self._sorted = np.sort(np.concatenate(parts)) if parts else _EMPTY
        self._added = set()
        return len(self._sorted)

    def maybe_stored(self, ids: list[str]) -> list[str]:
        """The ids of `ids` whose hash is indexed: maybe stored (a hash can collide), the rest surely not."""
        if not ids:
            return []
        hashes = _hashes(ids)
        hit = np.zeros(len(ids), bool)
        if len(self._sorted):
            # Sorted needles keep the binary search cache-friendly.
            order = np.argsort(hashes)
            needles = hashes[order]
            at = np.minimum(np.searchsorted(self._sorted, needles), len(self._sorted) - 1)
            hit[order] = self._sorted[at] == needles
        if self._added and not self._added.isdisjoint(hashes.tolist()):
            hit |= np.fromiter(map(self._added.__contains__, hashes.tolist()), bool, len(ids))
        return [ids[i] for i in np.flatnonzero(hit)] if hit.any() else []

    def add(self, ids: list[str]) -> None:
        """Index ids that are now acknowledged (stored soon, or dropped as stored by the writer)."""
        self._added.update(_hashes(ids).tolist())
        if len(self._added) >= self.MERGE_AT:
            added = np.fromiter(self._added, np.int64, len(self._added))
            self._sorted = np.sort(np.concatenate([self._sorted, added]))
            self._added = set()


def stored_among(store: Store, ids: list[str]) -> set[str]:
    """Which of `ids` are stored in `events` (the exact check behind an index hit)."""
    if not ids:
        return set()
    rows = store.con.execute(
        "SELECT event_id FROM events WHERE event_id IN (SELECT unnest(?))", [ids]
    ).fetchall()
    return {row[0] for row in rows}
