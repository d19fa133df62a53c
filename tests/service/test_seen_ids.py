"""The stored-id index never misses an id it was given, through merges and bitmap growth."""

from __future__ import annotations

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
    added = [f"added-{i}" for i in range(200_000)]  # merged 200 times; the bitmap grows twice
    bitmap_bits = index._mask + 1
    for start in range(0, len(added), 500):
        index.add(added[start : start + 500])
    assert index._mask + 1 > bitmap_bits and len(index) == 250_000
    assert index.maybe_stored(stored + added) == stored + added
    new = [f"new-{i}" for i in range(20_000)]
    assert index.maybe_stored(new) == []  # 64-bit hashes: a collision here would be a 1e-10 event
