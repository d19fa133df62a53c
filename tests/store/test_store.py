"""The store opens DuckDB with the configured limits."""

from __future__ import annotations

from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.store import open_store


def test_the_store_applies_the_memory_limit_and_checkpoint_size(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="512MiB", checkpoint_wal="64MiB")
    with open_store(db, settings=settings) as store:
        rows = store.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('checkpoint_threshold')"
        ).fetchall()
    assert rows == [("512.0 MiB", "64.0 MiB")]
