"""`cartwise db compact`: after an erasure the store's files no longer hold the customer's bytes,
and everything else reads back the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from cartwise.analytics import kpis, refresh_rollup, stored_facts
from cartwise.core.settings import get_settings
from cartwise.pipelines.privacy import forget_customer
from cartwise.pipelines.stores import compact_store, store_info
from cartwise.store import open_store

WHO = "ada.lovelace@example.com"
SRC = Path(__file__).resolve().parents[2] / "src"


def _store(path: Path) -> None:
    n = 30_000
    start = datetime(2026, 3, 1)
    with open_store(path, settings=get_settings(db=path, memory_limit="1GB")) as store:
        store.append(
            "events",
            pa.table(
                {
                    "event_id": [f"e{i}" for i in range(n)],
                    "ts": [start + timedelta(minutes=i) for i in range(n)],
                    "user_id": [WHO if i % 500 == 0 else f"u{i % 3000}" for i in range(n)],
                    "type": ["purchase" if i % 10 == 0 else "view" for i in range(n)],
                    "item_id": [f"sku-{i % 40}" for i in range(n)],
                }
            ),
        )
        refresh_rollup(store)
        forget_customer(store, WHO, artefacts=False)
        store.con.execute("CHECKPOINT")


def _files_hold(path: Path, text: str) -> bool:
    wal = path.with_name(path.name + ".wal")
    return any(text.encode() in p.read_bytes() for p in (path, wal) if p.exists())


def test_compacting_removes_an_erased_customers_bytes_and_keeps_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    settings = get_settings(db=db, memory_limit="1GB")
    _store(db)
    assert _files_hold(db, WHO)  # deleted rows stay in DuckDB's blocks: why compaction exists
    before = store_info(settings)["tables"]
    with open_store(db, settings=settings, read_only=True) as store:
        weekly = kpis(store.ibis().table("events"), "week", facts=stored_facts(store))

    result = compact_store(settings)

    assert not _files_hold(db, WHO)
    assert result["db"] == str(db) and result["bytes_after"] > 0
    assert store_info(settings)["tables"] == before
    with open_store(db, settings=settings, read_only=True) as store:
        assert kpis(store.ibis().table("events"), "week", facts=stored_facts(store)).equals(weekly)
        assert store.con.execute("SELECT count(*) FROM erasures").fetchall()[0][0] == 1
    # The copy renumbered the rows: events stored afterwards must still reach the rollup.
    with open_store(db, settings=settings) as store:
        store.append(
            "events",
            pa.table(
                {
                    "event_id": [f"late{i}" for i in range(50)],
                    "ts": [datetime(2026, 3, 2)] * 50,
                    "user_id": [f"late{i}" for i in range(50)],
                    "type": ["purchase"] * 50,
                    "item_id": ["sku-1"] * 50,
                }
            ),
        )
        refresh_rollup(store)
        events = store.ibis().table("events")
        assert kpis(events, "week", facts=stored_facts(store)).equals(kpis(events, "week"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.duckdb"]


def test_an_interrupted_compaction_leaves_the_store_whole_and_is_cleaned_up(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    _store(db)
    leftover = db.with_name(db.name + ".compacting")
    leftover.write_bytes(b"half a copy")  # killed mid-copy: the store was never replaced
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "cartwise", "db", "compact", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert set(json.loads(done.stdout)) == {"db", "bytes_before", "bytes_after", "seconds"}
    assert not leftover.exists()
    assert not _files_hold(db, WHO)
