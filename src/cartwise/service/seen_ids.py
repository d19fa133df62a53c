"""Every event id the store holds, as 64-bit hashes, so the collector's ack can count repeats.

A phone may send a batch hours or days late, or again after a lost answer, and the collector
must answer `duplicates` truly: an event whose `event_id` is already stored is a duplicate
whatever its time. Asking DuckDB would scan every stored id (1.5 s for 100 ids at 10M
events, `event_id` having no index); this index answers from memory. A hit means stored
but for a 64-bit hash collision, which the collector's writer catches (see the collector's
module). It holds a sorted array of Python string hashes (8 bytes per stored event), a dict of
those added since, and in front of both a bitmap of 16 bits per id: a new id misses the
bitmap 15 times in 16, which spares the binary search over the array (its cache misses cost
~3 us per id at 10M ids). Python's string hash is salted per process, so the index is built
at start from the store and lives only as long as the process. Every acknowledged id is
added at once, stored yet or not; the last few seconds' are also known exactly from the
collector's recent ids (`recent_ids.py`).

The index is used on the collector's log thread, in the path of every ack, so folding the dict
of recent hashes into the sorted array (and growing the bitmap as the store grows) runs on a
thread of its own: at 10M ids a fold took 0.1-0.7 s and a bitmap rebuild 2 s, while every
waiting request waited. The log thread hands the dict over, keeps answering from it, and
installs the result at its next `add` once the fold is done.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from cartwise.ingest.insert import merge_hashes
from cartwise.store import Store

_EMPTY = np.empty(0, np.int64)
_MIN_BITS = 1 << 20
BITS_PER_ID = 16


def _hashes(ids: list[str]) -> np.ndarray:
    return np.fromiter(map(hash, ids), np.int64, len(ids))


def _bits_for(ids: int) -> int:
    """Bitmap size for `ids` ids: the power of two at or above BITS_PER_ID bits each."""
    bits = _MIN_BITS
    while bits < BITS_PER_ID * ids:
        bits *= 2
    return bits


def _bitmap_of(hashes: np.ndarray, bits: int) -> np.ndarray:
    """A bitmap of `bits` bits with the slot of each hash set.

    Sorted slots OR-reduced per byte, not `np.bitwise_or.at`: 1.7 s against 1.9 s at 10M
    hashes, and the sort leaves the interpreter free."""
    slots = np.sort(hashes & (bits - 1))
    byte = slots >> 3
    starts = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]]) if len(byte) else _EMPTY
    bitmap = np.zeros(bits // 8, np.uint8)
    bitmap[byte[starts]] = np.bitwise_or.reduceat(np.uint8(1) << (slots & 7).astype(np.uint8), starts)
    return bitmap


class _Fold(NamedTuple):
    """A finished fold: the new sorted array, and a larger bitmap if the store outgrew the old one."""

    sorted: np.ndarray
    bitmap: np.ndarray | None


class StoredIdIndex:
    """Hashes of every stored event id plus those acknowledged since the index was built.

    Not thread-safe: one thread (the collector's log thread) calls `add` and `maybe_stored`."""

    MERGE_AT = 262_144
    """Hashes kept in a dict before they are folded into the sorted array (a dict of integers,
    not a set: the garbage collector leaves it alone; see `StoredIds.MERGE_AT` in ingest)."""

    def __init__(self) -> None:
        self._sorted = _EMPTY
        self._added: dict[int, None] = {}
        self._added_arrays: list[np.ndarray] = []  # the same hashes as arrays, for the fold
        self._folding: dict[int, None] = {}  # handed to the fold thread; still answered from here
        self._fold_thread: threading.Thread | None = None
        self._fold: _Fold | None = None  # set by the fold thread when it is done
        self._bitmap = np.zeros(_MIN_BITS // 8, np.uint8)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._folding) + len(self._added)

    @property
    def _mask(self) -> int:
        return len(self._bitmap) * 8 - 1

    @property
    def nbytes(self) -> int:
        """Memory held by the sorted array and the bitmap (the dict of recent hashes adds ~80 bytes each)."""
        return int(self._sorted.nbytes + self._bitmap.nbytes)

    def build(self, store: Store, batch_rows: int = 1_000_000) -> int:
        """Index every `event_id` in `store` (streamed in batches); returns how many."""
        self.wait_folded()
        reader = store.con.sql("SELECT event_id FROM events").to_arrow_reader(batch_rows)
        parts = [_hashes(batch.column(0).to_pylist()) for batch in reader]
        hashes = np.concatenate(parts) if parts else _EMPTY.copy()
        del parts
        hashes.sort()  # in place: no third copy at 8 bytes per id
        self._sorted = hashes
        self._added, self._added_arrays = {}, []
        self._bitmap = _bitmap_of(hashes, _bits_for(len(hashes)))
        return len(self._sorted)

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
            if h in self._added or h in self._folding:
                found.append(ids[i])
                continue
            at = int(np.searchsorted(self._sorted, h))
            if at < len(self._sorted) and self._sorted[at] == h:
                found.append(ids[i])
        return found

    def add(self, ids: list[str]) -> None:
        """Index ids that are now acknowledged (stored soon, or dropped as stored by the writer)."""
        self._install_fold()
        hashes = _hashes(ids)
        self._added.update(dict.fromkeys(hashes.tolist()))
        self._added_arrays.append(hashes)
        self._mark(hashes)
        if len(self._added) >= self.MERGE_AT and self._fold_thread is None:
            arrays = self._added_arrays
            self._folding, self._added, self._added_arrays = self._added, {}, []
            bits = _bits_for(len(self))
            # Grow the bitmap only when it is half as large as its target, so misses stay at ~1 in 8 or better.
            grow = bits > 2 * (self._mask + 1)
            self._fold_thread = threading.Thread(
                target=self._run_fold,
                args=(self._sorted, arrays, bits if grow else 0),
                name="cartwise-id-fold",
                daemon=True,
            )
            self._fold_thread.start()

    def _run_fold(self, ordered: np.ndarray, arrays: list[np.ndarray], bits: int) -> None:
        merged = merge_hashes(ordered, arrays)  # from the arrays, not the dict (see there)
        self._fold = _Fold(merged, _bitmap_of(merged, bits) if bits else None)

    def _install_fold(self) -> None:
        fold = self._fold
        if fold is None:
            return
        assert self._fold_thread is not None
        self._fold_thread.join()
        self._fold_thread, self._fold = None, None
        self._sorted, self._folding = fold.sorted, {}
        if fold.bitmap is not None:
            self._bitmap = fold.bitmap
            if self._added_arrays:  # acknowledged while the fold ran: marked only in the old bitmap
                self._mark(np.concatenate(self._added_arrays))

    def wait_folded(self) -> None:
        """Wait for a running fold and install it (tests; and before a rebuild replaces everything)."""
        if self._fold_thread is not None:
            self._fold_thread.join()
        self._install_fold()
