"""The stored-id index never misses an id it was given, through folds and bitmap growth."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from cartwise.core.settings import get_settings
from cartwise.service.seen_ids import StoredIdIndex
from cartwise.store import open_store


def test_index_knows_stored_and_added_ids_and_few_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "ids.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="512MB", threads=1)) as store:
        store.con.execute(
            "INSERT INTO events (event_id, ts, user_id, type) "
            "SELECT 'stored-' || i, TIMESTAMP '2024-01-01', 'u', 'view' FROM range(50000) t(i)"
        )
        index = StoredIdIndex()
        assert index.build(store) == 50_000
    stored = [f"stored-{i}" for i in range(50_000)]
    assert index.maybe_stored(stored) == stored
    monkeypatch.setattr(StoredIdIndex, "MERGE_AT", 1000)
    added = [f"added-{i}" for i in range(200_000)]  # folded many times; the bitmap grows twice
    bitmap_bits = index._mask + 1
    for start in range(0, len(added), 500):
        index.add(added[start : start + 500])
        assert index.maybe_stored(added[start : start + 500]) == added[start : start + 500]
    index.wait_folded()
    while len(index._added) >= StoredIdIndex.MERGE_AT:  # what the loop added while a fold ran
        index.add([])
        index.wait_folded()
    assert index._mask + 1 > bitmap_bits and len(index) == 250_000
    assert index.maybe_stored(stored + added) == stored + added
    new = [f"new-{i}" for i in range(20_000)]
    assert index.maybe_stored(new) == []  # 64-bit hashes: a collision here would be a 1e-10 event


def test_acks_do_not_wait_for_a_fold_and_ids_added_meanwhile_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fold of recent hashes into the sorted array runs beside the log thread: `add` returns
    while it runs, and ids acknowledged meanwhile are found before and after it is installed,
    also when the fold grows the bitmap (ids marked only in the old one)."""
    monkeypatch.setattr(StoredIdIndex, "MERGE_AT", 150_000)
    index = StoredIdIndex()
    release = threading.Event()
    waited_out: list[bool] = []
    run_fold = StoredIdIndex._run_fold

    def held_fold(self: StoredIdIndex, *args: object) -> None:
        waited_out.append(not release.wait(30))  # True if an `add` blocked until the timeout
        run_fold(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(StoredIdIndex, "_run_fold", held_fold)
    first = [f"first-{i}" for i in range(150_000)]
    index.add(first)  # starts a fold (and the bitmap's growth) that waits for `release`
    assert index._fold_thread is not None and index._fold_thread.is_alive()
    meanwhile = [f"meanwhile-{i}" for i in range(30_000)]
    for start in range(0, len(meanwhile), 100):
        index.add(meanwhile[start : start + 100])  # does not wait, nor start a second fold
    assert index.maybe_stored(first + meanwhile) == first + meanwhile
    release.set()
    index.wait_folded()
    assert waited_out == [False]
    assert index._mask + 1 == 1 << 22  # 16 bits for each of 150,000 ids, from 2^20: grown by the fold
    assert len(index) == 180_000
    assert index.maybe_stored(first + meanwhile) == first + meanwhile
    assert index.maybe_stored([f"new-{i}" for i in range(5_000)]) == []


def test_recent_hashes_are_nothing_the_garbage_collector_walks() -> None:
    # A set of 262,144 hashes cost every full collection of the server tens of milliseconds.
    index = StoredIdIndex()
    index.add([f"e{i}" for i in range(10_000)])
    assert not gc.is_tracked(index._added)
