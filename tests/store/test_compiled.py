"""Reader views keep compiled SQL across reads, and a query of another shape never gets it."""

from __future__ import annotations

from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.store import compiled, open_store


def test_reads_of_one_shape_compile_once_and_other_shapes_get_their_own_sql(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db, settings=get_settings(db=db, memory_limit="256MB", threads=1)) as store:
        store.con.execute(
            "INSERT INTO events (event_id, ts, user_id, type) SELECT 'e' || i, TIMESTAMP '2024-01-01' "
            "+ i * INTERVAL 1 HOUR, 'u' || (i % 7), CASE WHEN i % 3 = 0 THEN 'purchase' ELSE 'view' END "
            "FROM range(300) t(i)"
        )

        def buyers(kind: str) -> int:
            view = store.reader()
            try:
                events = view.ibis().table("events")
                return int(events.filter(events.type == kind).user_id.nunique().execute())
            finally:
                view.close()

        before = dict(compiled.stats)
        assert buyers("purchase") == 7
        assert buyers("purchase") == 7  # a new view, cursor and backend: the SQL is reused
        assert compiled.stats["hits"] - before["hits"] >= 1
        misses = compiled.stats["misses"]
        assert buyers("nothing") == 0  # another literal, another shape: compiled afresh
        assert compiled.stats["misses"] > misses
