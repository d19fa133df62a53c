"""pipelines.stores: how the CLI opens a store without importing `cartwise.store` itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartwise.core.errors import StoreError
from cartwise.core.settings import get_settings
from cartwise.pipelines.stores import export_store, import_store, opened, require_store, store_info
from cartwise.store import Store


def test_a_missing_store_fails_as_the_store_itself_says(tmp_path: Path) -> None:
    settings = get_settings(db=tmp_path / "nowhere" / "shop.duckdb", memory_limit="1GB")
    with pytest.raises(StoreError) as early:
        require_store(settings)
    with pytest.raises(StoreError) as from_store:
        Store(settings.db, settings=settings, read_only=True)
    assert str(early.value) == str(from_store.value)
    for kwargs in ({"read_only": True}, {"create": False}):
        with pytest.raises(StoreError, match="No store at"), opened(settings, **kwargs):
            pass
    assert not settings.db.parent.exists()  # nothing was created


def test_opened_creates_a_store_and_the_db_helpers_round_trip(tmp_path: Path) -> None:
    settings = get_settings(db=tmp_path / "shop.duckdb", memory_limit="1GB", threads=2)
    with opened(settings) as store:
        store.con.execute("INSERT INTO items (item_id) VALUES ('i1'), ('i2')")
    info = store_info(settings)
    assert info["tables"]["items"] == 2
    assert export_store(settings, tmp_path / "export")["items"] == 2
    copy = get_settings(db=tmp_path / "copy.duckdb", memory_limit="1GB", threads=2)
    assert import_store(copy, tmp_path / "export")["items"] == 2
    assert import_store(copy, tmp_path / "export")["items"] == 0  # present rows are skipped
