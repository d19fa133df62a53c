"""A new user's first hour with ingestion (issue 24): what the summary says, what quarantine keeps."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cartwise.cli import cli
from cartwise.ingest import ingest_file
from cartwise.store import Store

HEADER = "event_id,timestamp,customer_id,session,event,product_id,qty,unit_price,order_id"
GOOD = [
    "e1,2024-03-01T10:00:00Z,u1,s1,view,i1,,,",
    "e2,2024-03-01T10:01:00Z,u1,s1,add_to_cart,i1,1,9.99,",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_summary_names_the_row_of_a_short_record_not_none(tmp_path: Path) -> None:
    path = _write(tmp_path / "events.csv", [HEADER, *GOOD, "e3,2024-03-01T10:02:00Z,u1,s1"])
    result = CliRunner().invoke(cli, ["ingest", "events", str(path), "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "rejected 1:" in x)
    assert "None" not in line
    assert "the record on row 3 has 4 fields where the header has 9" in line


def test_reingesting_a_file_keeps_each_rejected_row_once_in_quarantine(store: Store, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "events.csv",
        [
            HEADER,
            *GOOD,
            "e3,never,u1,s1,view,i1,,,",
            "e4,2024-03-01T10:02:00Z,u1,s1",
            "e5,2024-03-01T10:03:00Z,,s1,view,i1,,,",
        ],
    )
    first = ingest_file(store, "events", path)
    again = ingest_file(store, "events", path)
    assert first.rejected == again.rejected == 3
    # The second load still reports what it refused ...
    assert sum(r["count"] for r in again.rejections) == 3
    # ... and the quarantine holds each refused row once, under the latest load.
    rows = store.con.execute('SELECT "row", load_id FROM quarantine ORDER BY "row"').fetchall()
    assert [r[0] for r in rows] == [3, 4, 5]
    assert {r[1] for r in rows} == {again.load_id}


def test_another_file_with_the_same_bad_row_keeps_its_own_quarantine_rows(
    store: Store, tmp_path: Path
) -> None:
    lines = [HEADER, *GOOD, "e3,never,u1,s1,view,i1,,,"]
    ingest_file(store, "events", _write(tmp_path / "a.csv", lines))
    ingest_file(store, "events", _write(tmp_path / "b.csv", lines))
    assert store.count("quarantine") == 2
